-- healthcode schema, SQLite dialect. Times are TEXT in UTC RFC 3339 with
-- millisecond precision; ids are application-generated.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- The transparency log. log_head is the sequencer: one row, locked by every
-- writing transaction.
CREATE TABLE log_head (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	size       INTEGER NOT NULL,
	root       BLOB NOT NULL,
	checkpoint BLOB NOT NULL
);

CREATE TABLE log_entries (
	idx  INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE log_hashes (
	idx  INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);

CREATE TABLE log_checkpoints (
	size       INTEGER PRIMARY KEY,
	root       BLOB NOT NULL,
	signed     BLOB NOT NULL,
	created_at TEXT NOT NULL
);

-- The personal part of an entry, committed to by the leaf through a salted
-- hash. Deleting a row (erasure) leaves every leaf hash valid.
CREATE TABLE log_personal (
	idx     INTEGER PRIMARY KEY,
	subject TEXT NOT NULL DEFAULT '',
	salt    BLOB NOT NULL,
	data    BLOB NOT NULL
);
CREATE INDEX log_personal_subject ON log_personal (subject);

-- The last entry about each subject, for the per-resident hash chain.
-- WITHOUT ROWID: small rows keyed by random text, updated in place on
-- every entry about a subject; one B-tree instead of table and index.
CREATE TABLE log_subjects (
	subject    TEXT PRIMARY KEY,
	last_index INTEGER NOT NULL,
	last_hash  BLOB NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries
BEGIN SELECT RAISE(ABORT, 'log_entries is append-only'); END;
CREATE TRIGGER log_entries_no_delete BEFORE DELETE ON log_entries
BEGIN SELECT RAISE(ABORT, 'log_entries is append-only'); END;
CREATE TRIGGER log_hashes_no_update BEFORE UPDATE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'log_hashes is append-only'); END;
CREATE TRIGGER log_hashes_no_delete BEFORE DELETE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'log_hashes is append-only'); END;
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only'); END;
CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only'); END;
CREATE TRIGGER log_personal_no_update BEFORE UPDATE ON log_personal
BEGIN SELECT RAISE(ABORT, 'log_personal can only be erased, not changed'); END;

CREATE TABLE jurisdictions (
	code      TEXT PRIMARY KEY,
	name      TEXT NOT NULL,
	level     INTEGER NOT NULL,
	parent    TEXT REFERENCES jurisdictions (code),
	log_index INTEGER NOT NULL
);

CREATE TABLE residents (
	id           TEXT PRIMARY KEY,
	id_hash      BLOB NOT NULL UNIQUE,
	name         TEXT NOT NULL,
	phone        TEXT NOT NULL,
	jurisdiction TEXT NOT NULL REFERENCES jurisdictions (code),
	created_at   TEXT NOT NULL,
	log_index    INTEGER NOT NULL
);
CREATE INDEX residents_jurisdiction ON residents (jurisdiction);

CREATE TABLE officials (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	jurisdiction TEXT NOT NULL REFERENCES jurisdictions (code),
	disabled     INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	log_index    INTEGER NOT NULL
);

CREATE TABLE sources (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	kinds        TEXT NOT NULL,
	jurisdiction TEXT NOT NULL REFERENCES jurisdictions (code),
	key_hash     BLOB NOT NULL UNIQUE,
	disabled     INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	log_index    INTEGER NOT NULL
);

-- Login accounts: an official's or a resident's. Passwords are argon2id
-- hashes in PHC string form.
CREATE TABLE accounts (
	login         TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	ref           TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL
);
CREATE INDEX accounts_ref ON accounts (ref);

-- Sessions are stored by the SHA-256 of the bearer token, never the token.
CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY,
	login      TEXT NOT NULL REFERENCES accounts (login),
	created_at TEXT NOT NULL,
	last_seen  TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX sessions_login ON sessions (login);

-- Facts: typed epidemiological evidence. origin is the submitting source or
-- recording official; (origin, id) is the submitter's idempotency key; uid
-- is the platform-wide id. area and case_id are extracted from the payload
-- for lookups (area visits and risk areas; case statuses). uid is derived
-- from (origin, id), so it alone keeps ids unique per submitter.
CREATE TABLE facts (
	uid          TEXT PRIMARY KEY,
	origin       TEXT NOT NULL,
	id           TEXT NOT NULL,
	kind         TEXT NOT NULL,
	subject      TEXT NOT NULL,
	observed_at  TEXT NOT NULL,
	recorded_at  TEXT NOT NULL,
	source       TEXT NOT NULL DEFAULT '',
	recorded_by  TEXT NOT NULL DEFAULT '',
	approved_by  TEXT NOT NULL DEFAULT '',
	evidence     TEXT NOT NULL DEFAULT '',
	payload      TEXT NOT NULL,
	status       TEXT NOT NULL,
	content_hash BLOB NOT NULL,
	log_index    INTEGER NOT NULL,
	area         TEXT NOT NULL DEFAULT '',
	case_id      TEXT NOT NULL DEFAULT '',
	retracted_by TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	decided_log  INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX facts_subject ON facts (subject, status);
-- Partial indexes: most facts are tests, which have neither.
CREATE INDEX facts_area ON facts (kind, area) WHERE area <> '';
CREATE INDEX facts_case ON facts (case_id) WHERE case_id <> '';

CREATE TABLE codes (
	resident        TEXT PRIMARY KEY REFERENCES residents (id),
	colour          TEXT NOT NULL,
	since           TEXT NOT NULL,
	ruleset         TEXT NOT NULL DEFAULT '',
	ruleset_version INTEGER NOT NULL DEFAULT 0,
	rule            TEXT NOT NULL DEFAULT '',
	fact_ids        TEXT NOT NULL DEFAULT '[]',
	log_index       INTEGER NOT NULL
);
