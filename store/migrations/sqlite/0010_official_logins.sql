-- healthcode schema 0010: every login of an official, successful or not,
-- where auditors can read it (GET /v1/logins). Not in the public log:
-- addresses are personal, and a failed guess is not an act of the
-- official's.
CREATE TABLE official_logins (
	id       INTEGER PRIMARY KEY,
	official TEXT NOT NULL,
	at       TEXT NOT NULL,
	address  TEXT NOT NULL,
	outcome  TEXT NOT NULL
);
CREATE INDEX official_logins_official ON official_logins (official, at);
CREATE INDEX official_logins_at ON official_logins (at);
