-- healthcode schema 0007, SQLite dialect: the server checks itself.

-- Each resident's latest code.changed entry, written by the log's writer
-- in the same transaction as the entry (beside log_subjects). The code and
-- token routes check a resident's codes row against that entry before
-- they show or sign it; the background auditor checks this table against
-- its own projection of the log. Filled here from the code history.
CREATE TABLE code_heads (
	resident  TEXT PRIMARY KEY,
	log_index INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO code_heads (resident, log_index) SELECT resident, MAX(log_index) FROM code_changes GROUP BY resident;

-- The background auditor's cursors (how far it followed the log, where a
-- sweep of the projection stands, when the last one ended), by name.
CREATE TABLE audit_state (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
