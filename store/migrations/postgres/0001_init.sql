-- healthcode schema, PostgreSQL dialect. Times are TEXT in UTC RFC 3339 with
-- millisecond precision; ids are application-generated.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- The transparency log. log_head is the sequencer: one row, locked by every
-- writing transaction.
CREATE TABLE log_head (
	id         BIGINT PRIMARY KEY CHECK (id = 1),
	size       BIGINT NOT NULL,
	root       BYTEA NOT NULL,
	checkpoint BYTEA NOT NULL
);

CREATE TABLE log_entries (
	idx  BIGINT PRIMARY KEY,
	data BYTEA NOT NULL
);

CREATE TABLE log_hashes (
	idx  BIGINT PRIMARY KEY,
	hash BYTEA NOT NULL
);

CREATE TABLE log_checkpoints (
	size       BIGINT PRIMARY KEY,
	root       BYTEA NOT NULL,
	signed     BYTEA NOT NULL,
	created_at TEXT NOT NULL
);

-- The personal part of an entry, committed to by the leaf through a salted
-- hash. Deleting a row (erasure) leaves every leaf hash valid.
CREATE TABLE log_personal (
	idx     BIGINT PRIMARY KEY,
	subject TEXT NOT NULL DEFAULT '',
	salt    BYTEA NOT NULL,
	data    BYTEA NOT NULL
);
CREATE INDEX log_personal_subject ON log_personal (subject);

-- The last entry about each subject, for the per-resident hash chain.
CREATE TABLE log_subjects (
	subject    TEXT PRIMARY KEY,
	last_index BIGINT NOT NULL,
	last_hash  BYTEA NOT NULL
);


CREATE TABLE jurisdictions (
	code      TEXT PRIMARY KEY,
	name      TEXT NOT NULL,
	level     BIGINT NOT NULL,
	parent    TEXT REFERENCES jurisdictions (code),
	log_index BIGINT NOT NULL
);

-- Ids compare in byte order (COLLATE "C") on both engines: evaluation
-- reads residents by id ranges.
CREATE TABLE residents (
	id           TEXT COLLATE "C" PRIMARY KEY,
	id_hash      BYTEA NOT NULL UNIQUE,
	name         TEXT NOT NULL,
	phone        TEXT NOT NULL,
	jurisdiction TEXT NOT NULL REFERENCES jurisdictions (code),
	created_at   TEXT NOT NULL,
	log_index    BIGINT NOT NULL
);
CREATE INDEX residents_jurisdiction ON residents (jurisdiction);

CREATE TABLE officials (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	jurisdiction TEXT NOT NULL REFERENCES jurisdictions (code),
	disabled     BIGINT NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	log_index    BIGINT NOT NULL
);

CREATE TABLE sources (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	kinds        TEXT NOT NULL,
	jurisdiction TEXT NOT NULL REFERENCES jurisdictions (code),
	key_hash     BYTEA NOT NULL UNIQUE,
	disabled     BIGINT NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	log_index    BIGINT NOT NULL
);

-- Login accounts: an official's or a resident's. Passwords are argon2id
-- hashes in PHC string form.
CREATE TABLE accounts (
	login         TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	ref           TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      BIGINT NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL
);
CREATE INDEX accounts_ref ON accounts (ref);

-- Sessions are stored by the SHA-256 of the bearer token, never the token.
CREATE TABLE sessions (
	token_hash BYTEA PRIMARY KEY,
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
	subject      TEXT COLLATE "C" NOT NULL,
	observed_at  TEXT NOT NULL,
	recorded_at  TEXT NOT NULL,
	source       TEXT NOT NULL DEFAULT '',
	recorded_by  TEXT NOT NULL DEFAULT '',
	approved_by  TEXT NOT NULL DEFAULT '',
	evidence     TEXT NOT NULL DEFAULT '',
	payload      TEXT NOT NULL,
	status       TEXT NOT NULL,
	content_hash BYTEA NOT NULL,
	log_index    BIGINT NOT NULL,
	area         TEXT NOT NULL DEFAULT '',
	case_id      TEXT NOT NULL DEFAULT '',
	retracted_by TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	decided_log  BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX facts_subject ON facts (subject, status);
-- Partial indexes: most facts are tests, which have neither.
CREATE INDEX facts_area ON facts (kind, area) WHERE area <> '';
CREATE INDEX facts_case ON facts (case_id) WHERE case_id <> '';

CREATE TABLE codes (
	resident        TEXT COLLATE "C" PRIMARY KEY REFERENCES residents (id),
	colour          TEXT NOT NULL,
	since           TEXT NOT NULL,
	ruleset         TEXT NOT NULL DEFAULT '',
	ruleset_version BIGINT NOT NULL DEFAULT 0,
	rule            TEXT NOT NULL DEFAULT '',
	fact_ids        TEXT NOT NULL DEFAULT '[]',
	log_index       BIGINT NOT NULL
);

CREATE FUNCTION healthcode_append_only() RETURNS trigger AS $$
BEGIN
	RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER log_entries_append_only BEFORE UPDATE OR DELETE ON log_entries
	FOR EACH ROW EXECUTE FUNCTION healthcode_append_only();
CREATE TRIGGER log_hashes_append_only BEFORE UPDATE OR DELETE ON log_hashes
	FOR EACH ROW EXECUTE FUNCTION healthcode_append_only();
CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE ON log_checkpoints
	FOR EACH ROW EXECUTE FUNCTION healthcode_append_only();
CREATE TRIGGER log_personal_no_update BEFORE UPDATE ON log_personal
	FOR EACH ROW EXECUTE FUNCTION healthcode_append_only();
-- TRUNCATE bypasses row triggers; forbid it too.
CREATE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON log_entries
	FOR EACH STATEMENT EXECUTE FUNCTION healthcode_append_only();
CREATE TRIGGER log_hashes_no_truncate BEFORE TRUNCATE ON log_hashes
	FOR EACH STATEMENT EXECUTE FUNCTION healthcode_append_only();
