-- healthcode schema 0005, PostgreSQL dialect: leaner fact ingestion.

-- Most facts come from sources and have no recording official: keep them
-- out of the index of officials' entries (queries on it say
-- recorded_by <> '').
DROP INDEX facts_recorded_by;
CREATE INDEX facts_recorded_by ON facts (recorded_by, recorded_at) WHERE recorded_by <> '';
