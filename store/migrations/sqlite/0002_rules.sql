-- healthcode schema 0002, SQLite dialect: rulesets, code history, jobs.

-- Rulesets: drafted by one command officer, approved (and so published) by
-- another. source is the YAML exactly as drafted.
CREATE TABLE rulesets (
	id               TEXT NOT NULL,
	version          INTEGER NOT NULL,
	scope            TEXT NOT NULL REFERENCES jurisdictions (code),
	status           TEXT NOT NULL,
	source           TEXT NOT NULL,
	legal_number     TEXT NOT NULL,
	legal_title      TEXT NOT NULL,
	effective_at     TEXT NOT NULL,
	drafted_by       TEXT NOT NULL,
	drafted_at       TEXT NOT NULL,
	decided_by       TEXT NOT NULL DEFAULT '',
	decided_at       TEXT NOT NULL DEFAULT '',
	reason           TEXT NOT NULL DEFAULT '',
	log_index        INTEGER NOT NULL,
	decided_log      INTEGER NOT NULL DEFAULT -1,
	PRIMARY KEY (id, version)
);
CREATE INDEX rulesets_scope ON rulesets (scope, status);

-- Every code change, for the resident's history; each row links to its
-- code.changed entry.
CREATE TABLE code_changes (
	resident        TEXT NOT NULL REFERENCES residents (id),
	log_index       INTEGER PRIMARY KEY,
	colour          TEXT NOT NULL,
	previous        TEXT NOT NULL,
	changed_at      TEXT NOT NULL,
	ruleset         TEXT NOT NULL,
	ruleset_version INTEGER NOT NULL,
	rule            TEXT NOT NULL,
	fact_ids        TEXT NOT NULL,
	cause           TEXT NOT NULL
);
CREATE INDEX code_changes_resident ON code_changes (resident, log_index);

-- Background jobs (re-evaluation runs): resumable from cursor.
CREATE TABLE jobs (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	params      TEXT NOT NULL,
	status      TEXT NOT NULL,
	run_at      TEXT NOT NULL,
	cursor      TEXT NOT NULL DEFAULT '',
	done        INTEGER NOT NULL DEFAULT 0,
	changed     INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL,
	finished_at TEXT NOT NULL DEFAULT '',
	log_index   INTEGER NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, run_at);

-- When each resident's code can next change as facts age into or out of
-- their windows: scheduling data, not state, so not logged.
CREATE TABLE code_schedule (
	resident   TEXT PRIMARY KEY REFERENCES residents (id),
	next_check TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX code_schedule_next ON code_schedule (next_check);
