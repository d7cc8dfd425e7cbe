-- healthcode schema 0018: how far each resident has read their inbox
-- (GET /inbox). What the inbox holds derives from the log's projection
-- (appeals, held facts, code changes); only the read mark is kept here.
CREATE TABLE inbox_reads (
	resident TEXT PRIMARY KEY,
	seen_at  TEXT NOT NULL
);
