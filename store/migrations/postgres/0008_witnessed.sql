-- healthcode schema 0008, PostgreSQL dialect: witness cosignatures.

-- The newest checkpoint whose witness cosignatures meet the server's
-- witness policy: the log's signed checkpoint with the cosignature lines
-- added, served at /log/checkpoint. quorum_at is when the policy was last
-- met (the quorum-th newest cosignature timestamp). One row; it only ever
-- moves to a larger or equal size.
CREATE TABLE log_witnessed (
	id        BIGINT PRIMARY KEY CHECK (id = 1),
	size      BIGINT NOT NULL,
	signed    BYTEA NOT NULL,
	quorum_at TEXT NOT NULL
);
