-- healthcode schema 0025: evaluations that fail are skipped and recorded
-- (evaluation.failed), the job goes on; a job whose run fails is retried
-- later without holding up the jobs behind it; a code change says how
-- many facts the evaluation left out (more than a kind's bound).
CREATE TABLE evaluation_failures (
	log_index       INTEGER PRIMARY KEY,
	resident        TEXT NOT NULL REFERENCES residents (id),
	failed_at       TEXT NOT NULL,
	ruleset         TEXT NOT NULL,
	ruleset_version INTEGER NOT NULL,
	error           TEXT NOT NULL,
	cause           TEXT NOT NULL,
	job             TEXT NOT NULL
);
CREATE INDEX evaluation_failures_job ON evaluation_failures (job, log_index);
ALTER TABLE jobs ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN retry_at TEXT NOT NULL DEFAULT '';
ALTER TABLE code_changes ADD COLUMN omitted TEXT NOT NULL DEFAULT '';
