-- healthcode schema 0005, PostgreSQL dialect: leaner fact ingestion.

-- Most facts come from sources and have no recording official: keep them
-- out of the index of officials' entries (queries on it say
-- recorded_by <> '').
DROP INDEX facts_recorded_by;
CREATE INDEX facts_recorded_by ON facts (recorded_by, recorded_at) WHERE recorded_by <> '';

-- A fact's evidence reference is the erasable personal part of its
-- fact.recorded entry. It is kept once, here, with the salt its entry's
-- commitment was made with, instead of a second time in log_personal (a
-- row and an index entry fewer per fact). Facts recorded before this
-- migration keep their parts in log_personal. Erasure blanks both
-- columns, and nothing else may change them.
ALTER TABLE facts ADD COLUMN evidence_salt BYTEA NOT NULL DEFAULT '\x';
CREATE FUNCTION healthcode_evidence_erase_only() RETURNS trigger AS $$
BEGIN
	IF (NEW.evidence IS DISTINCT FROM OLD.evidence OR NEW.evidence_salt IS DISTINCT FROM OLD.evidence_salt)
		AND (NEW.evidence <> '' OR length(NEW.evidence_salt) > 0) THEN
		RAISE EXCEPTION 'a fact''s evidence can only be erased, not changed';
	END IF;
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER facts_evidence_erase_only BEFORE UPDATE ON facts
	FOR EACH ROW EXECUTE FUNCTION healthcode_evidence_erase_only();
