-- healthcode schema 0006, PostgreSQL dialect: login attempts reserved atomically.

-- One row per throttled key: an account from one address, an address, an
-- account from every address. failures counts the attempts reserved (a
-- successful one is given back) since at, the last attempt; no attempt is
-- admitted before until (a progressive delay, or a hold while the last
-- attempt beyond the free ones is being checked). Replaces login_failures.
CREATE TABLE login_throttle (
	key      TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	at       TEXT NOT NULL,
	until    TEXT NOT NULL
);
DROP TABLE login_failures;
