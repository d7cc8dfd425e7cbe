package store

import (
	"context"
	"errors"
)

// ProjColumn is a column of a projected table, for the tests of the
// projection outside the package.
type ProjColumn struct {
	Table, Column string
	Key           []string
	Operational   bool
}

// ProjectedColumns lists every classified column of every projected table.
func ProjectedColumns() []ProjColumn {
	var out []ProjColumn
	for _, t := range projection {
		for _, k := range t.key {
			out = append(out, ProjColumn{Table: t.name, Column: k, Key: t.key})
		}
		for _, c := range t.cols {
			out = append(out, ProjColumn{Table: t.name, Column: c.name, Key: t.key, Operational: c.class == operational})
		}
	}
	return out
}

// OperationalTables are the tables that are not projected, with the reason.
func OperationalTables() map[string]string { return operationalTables }

// SetFailpoint sets the hook the write path calls at each failpoint
// (failpoint.go); set it right after Open, before any write.
func SetFailpoint(db *DB, f func(name string)) { db.failHook = f }

// Failpoints lists every failpoint, in the order the write path passes them.
func Failpoints() []string { return failpoints }

// SetJobChunk sets how many residents one transaction of a job evaluates.
func SetJobChunk(db *DB, n int) { db.jobChunk = n }

// verifyForTest runs log verify (package verify) on a database, for the
// package's own tests: package verify imports store, so only the external
// test package can call it, and it sets this (verifyhook_test.go).
var verifyForTest func(ctx context.Context, db *DB) ([]Problem, error)

// SetVerifyForTest sets how the package's own tests run log verify.
func SetVerifyForTest(f func(ctx context.Context, db *DB) ([]Problem, error)) { verifyForTest = f }

// testReport is what the package's own tests read of log verify's report.
type testReport struct{ Problems []Problem }

// verifyLog runs log verify on db for the package's own tests.
func (db *DB) verifyLog(ctx context.Context) (*testReport, error) {
	if verifyForTest == nil {
		return nil, errors.New("log verify is not set up for the tests (verifyhook_test.go)")
	}
	problems, err := verifyForTest(ctx, db)
	return &testReport{Problems: problems}, err
}

// SetJobHook makes every job's run call f first; an error fails the run
// (a job that fails as a whole). nil removes it.
func SetJobHook(f func(job string) error) { testHookJobChunk = f }

// SetOldScopes makes db accept ruleset drafts scoped below a province, as
// the code before 一省一码 did: for the tests of the migration that
// withdraws them.
func SetOldScopes(db *DB, on bool) { db.oldScopes = on }

// SetLeafV1 makes db write v1 leaves, as the code before migration 0013
// did (the subject, chain link and whole event in public): for the tests
// of a log that goes on in v2 after the migration.
func SetLeafV1(db *DB, on bool) { db.leafV1 = on }

// DryRuns counts the impact dry runs db actually made (not served from
// its cache).
func DryRuns(db *DB) int64 { return db.impacts.count.Load() }

// SetFollowMax sets the entries the auditor projects in one poll at most
// (followMax) and returns a function that restores it.
func SetFollowMax(n int64) (restore func()) {
	old := followMax
	followMax = n
	return func() { followMax = old }
}
