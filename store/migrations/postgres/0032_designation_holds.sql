-- healthcode schema 0032: a designation that would raise a resident
-- restored by a granted appeal, in the cooling period, is held for that
-- resident only (fact.held_for): it does not count in their evaluation
-- until the parent jurisdiction's command releases it for them
-- (fact.released_for), and never if it is refused for them
-- (fact.refused_for). Everyone else's evaluation counts it as usual.
CREATE TABLE designation_holds (
	designation    TEXT NOT NULL,
	resident       TEXT NOT NULL REFERENCES residents (id),
	appeal         TEXT NOT NULL,
	approval_scope TEXT NOT NULL,
	status         TEXT NOT NULL,
	log_index      BIGINT NOT NULL,
	decided_by     TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL DEFAULT '',
	decided_log    BIGINT NOT NULL DEFAULT -1,
	PRIMARY KEY (designation, resident)
);
CREATE INDEX designation_holds_resident ON designation_holds (resident);
CREATE INDEX designation_holds_scope ON designation_holds (status, approval_scope);
