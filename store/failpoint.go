package store

// Failpoints name the steps of the write path at which the fault tests
// (store/fault_test.go) kill the process: each is a call to
// DB.failpoint(name) at that step. The hook that acts on them is an
// unexported field set only through export_test.go, so a production build
// cannot set it and every call is a nil check; the tests set it in a child
// process to SIGKILL itself at the n-th time it passes a point, then
// restart on the same database and check what survived (docs/operations.md,
// "The fault matrix").
const (
	// A group commit, in order. The statement points are passed once for
	// every SQL statement the committer runs in the batch's transaction
	// (the requests' own, the apply functions', the log's multi-row
	// INSERTs), so "the n-th statement" names each in turn.
	failBatchBegun      = "batch.begun"            // the transaction is open and the log head locked
	failRequestBefore   = "request.before"         // before a request's write function runs
	failRequestAfter    = "request.after"          // after it ran, its savepoint not yet released
	failStmtBefore      = "stmt.before"            // before a statement
	failStmtAfter       = "stmt.after"             // after a statement
	failSignBefore      = "checkpoint.sign.before" // the entries and hashes are written; the checkpoint is not signed
	failSignAfter       = "checkpoint.sign.after"  // signed, not stored
	failCheckpointAfter = "checkpoint.store.after" // the log head and the stored checkpoint are written
	failCommitBefore    = "commit.before"          // everything written, COMMIT not sent
	failCommitAfter     = "commit.after"           // committed, no writer told yet
	// A re-evaluation job.
	failJobEvaluated = "job.chunk.evaluated" // a chunk's residents evaluated in the transaction, the cursor not advanced
	failJobCommitted = "job.chunk.committed" // a chunk committed, the next not begun
)

// failpoints lists every failpoint, in the order the write path passes them.
var failpoints = []string{
	failBatchBegun, failRequestBefore, failRequestAfter, failStmtBefore, failStmtAfter,
	failSignBefore, failSignAfter, failCheckpointAfter, failCommitBefore, failCommitAfter,
	failJobEvaluated, failJobCommitted,
}

// failpoint calls the test hook, if one is set, at the named step.
func (db *DB) failpoint(name string) {
	if f := db.failHook; f != nil {
		f(name)
	}
}
