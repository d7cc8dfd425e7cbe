-- healthcode schema 0004, SQLite dialect: appeals, alerts, the access log,
-- holds on hand-entered facts, and login rate limiting.

-- Appeals (申诉) against a resident's code. assigned is the jurisdiction
-- whose command decides (the resident's county, then its parent after each
-- escalation). Each *_log column links to the entry that made the change.
CREATE TABLE appeals (
	id            TEXT PRIMARY KEY,
	resident      TEXT NOT NULL REFERENCES residents (id),
	home          TEXT NOT NULL,
	assigned      TEXT NOT NULL,
	filed_by      TEXT NOT NULL,
	filed_by_kind TEXT NOT NULL,
	consent       TEXT NOT NULL DEFAULT '',
	fact_keys     TEXT NOT NULL,
	statement     TEXT NOT NULL,
	status        TEXT NOT NULL,
	filed_at      TEXT NOT NULL,
	deadline      TEXT NOT NULL DEFAULT '',
	escalations   INTEGER NOT NULL DEFAULT 0,
	decided_by    TEXT NOT NULL DEFAULT '',
	decided_at    TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	log_index     INTEGER NOT NULL,
	decided_log   INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX appeals_resident ON appeals (resident, filed_at);
CREATE INDEX appeals_status ON appeals (status, deadline);

-- Every step of an appeal after filing (consented, escalated, decided),
-- each linking to its entry.
CREATE TABLE appeal_steps (
	log_index INTEGER PRIMARY KEY,
	appeal    TEXT NOT NULL REFERENCES appeals (id),
	resident  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	actor     TEXT NOT NULL,
	post      TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT '',
	at        TEXT NOT NULL
);
CREATE INDEX appeal_steps_appeal ON appeal_steps (appeal, log_index);

-- Appeal attachments: personal data, kept with their SHA-256 (which the
-- appeal.filed entry commits to).
CREATE TABLE appeal_attachments (
	appeal     TEXT NOT NULL REFERENCES appeals (id),
	n          INTEGER NOT NULL,
	name       TEXT NOT NULL,
	media_type TEXT NOT NULL,
	sha256     TEXT NOT NULL,
	size       INTEGER NOT NULL,
	data       BLOB NOT NULL,
	PRIMARY KEY (appeal, n)
);

-- Anomaly alerts for auditors; each links to its alert.raised entry.
CREATE TABLE alerts (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	subject      TEXT NOT NULL,
	jurisdiction TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL,
	raised_at    TEXT NOT NULL,
	log_index    INTEGER NOT NULL
);
CREATE INDEX alerts_subject ON alerts (kind, subject, raised_at);
CREATE INDEX alerts_raised ON alerts (raised_at);

-- Every read of a resident's personal data by an official; each row links
-- to its data.accessed entry.
CREATE TABLE data_access (
	log_index INTEGER PRIMARY KEY,
	resident  TEXT NOT NULL,
	official  TEXT NOT NULL,
	post      TEXT NOT NULL,
	what      TEXT NOT NULL,
	at        TEXT NOT NULL
);
CREATE INDEX data_access_resident ON data_access (resident, log_index);
CREATE INDEX data_access_official ON data_access (official, at);

-- Hand-entered facts held for a particular command's approval (the parent
-- jurisdiction's, after a granted appeal or above an official's hourly
-- volume); each links to the fact.recorded entry that names the scope.
CREATE TABLE fact_holds (
	fact           TEXT PRIMARY KEY,
	subject        TEXT NOT NULL,
	approval_scope TEXT NOT NULL,
	why            TEXT NOT NULL,
	log_index      INTEGER NOT NULL
);

-- Facts citing a case, per resident, for the plausible-contact-count alert.
CREATE TABLE case_citations (
	case_id  TEXT NOT NULL,
	resident TEXT NOT NULL,
	PRIMARY KEY (case_id, resident)
);

-- Codes a source's facts raised, per hour, for the source-rate alert.
-- Counters, not state: not logged.
CREATE TABLE source_rates (
	source TEXT NOT NULL,
	hour   TEXT NOT NULL,
	raised INTEGER NOT NULL,
	PRIMARY KEY (source, hour)
);

-- Failed logins, per account and per address, for rate limiting. Not state.
CREATE TABLE login_failures (
	key TEXT NOT NULL,
	at  TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

CREATE INDEX facts_recorded_by ON facts (recorded_by, recorded_at);
