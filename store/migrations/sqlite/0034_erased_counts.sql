-- healthcode schema 0034: erasure keeps the statistics (issue 15). The
-- rows about an erased resident go; what they added to the public
-- statistics stays here, by county and colour (their current code), by day
-- and cause or rule (their code changes), by alert kind and appeal status.
-- Rebuilding the projection adds the same from the public parts of the
-- erased entries (store/erasedcounts.go).
CREATE TABLE erased_counts (
    what TEXT NOT NULL,
    a    TEXT NOT NULL,
    b    TEXT NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (what, a, b)
);
