-- healthcode schema 0033: the answers to creates made with an
-- Idempotency-Key, kept a day so that a retry gets the same answer
-- instead of a second appeal or draft (store/idempotency.go).
CREATE TABLE idempotency_keys (
	actor        TEXT NOT NULL,
	idem_key     TEXT NOT NULL,
	route        TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status       BIGINT NOT NULL,
	body         BYTEA NOT NULL,
	subject      TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	PRIMARY KEY (actor, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_subject ON idempotency_keys (subject);
