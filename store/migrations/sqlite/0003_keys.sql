-- Token signing keys and trust lists (docs/token.md). Private keys are
-- stored sealed (token.Seal under the operator's secret), never in clear.

-- purpose is 'token' (signs health code tokens) or 'trust' (signs our
-- trust lists). status is active, retired or revoked (token keys) or
-- active (the trust-list key).
CREATE TABLE token_keys (
	id         TEXT PRIMARY KEY,
	purpose    TEXT NOT NULL,
	public_key BLOB NOT NULL,
	sealed     BLOB NOT NULL,
	not_before TEXT NOT NULL,
	not_after  TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	log_index  INTEGER NOT NULL
);
CREATE INDEX token_keys_purpose ON token_keys (purpose, status);

-- Our own signed trust list (one row): its version only grows, bumped on
-- every key change; and the signed statement of the issuers we recognise.
CREATE TABLE trust_state (
	id                  INTEGER PRIMARY KEY CHECK (id = 1),
	issuer              TEXT NOT NULL,
	version             INTEGER NOT NULL,
	envelope            BLOB NOT NULL,
	recognition_version INTEGER NOT NULL DEFAULT 0,
	recognition         BLOB
);

-- Other issuers' trust lists we recognise (互认), as received, with the
-- trust-list key they are pinned to.
CREATE TABLE trust_imports (
	issuer      TEXT PRIMARY KEY,
	trust_key   BLOB NOT NULL,
	version     INTEGER NOT NULL,
	envelope    BLOB NOT NULL,
	imported_at TEXT NOT NULL,
	log_index   INTEGER NOT NULL
);
