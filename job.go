package healthcode

import "time"

// Job kinds.
const (
	JobReevaluate = "reevaluate" // re-evaluate every resident of a scope, and for a designation its visitors (params: scope, cause, and what triggered it)
)

// Job statuses.
const (
	JobPending = "pending"
	JobDone    = "done"
)

// Job is a background re-evaluation run. Its cursor makes it resumable: each
// chunk of residents is evaluated and the cursor advanced in one
// transaction, so a restart continues where the last commit left off.
type Job struct {
	ID      string
	Kind    string
	Params  map[string]string
	Status  string
	RunAt   time.Time
	Cursor  string
	Done    int64
	Changed int64
	Failed  int64 // residents whose evaluation failed: skipped, each an evaluation.failed entry
	Total   int64 // residents in scope, with a designation job's visitors (computed when listed)
	// Attempts counts the job's runs that failed as a whole (a database
	// error, say: not one resident's evaluation); LastError is the last
	// one's message, RetryAt when it is tried again. Other jobs go on
	// meanwhile.
	Attempts   int64
	LastError  string
	RetryAt    time.Time
	Failures   []EvalFailure // the last maxListedFailures, newest first
	CreatedAt  time.Time
	FinishedAt time.Time
	LogIndex   int64
}

// EvalFailure is a resident's evaluation that failed, as a job lists it:
// the evaluation.failed entry (whose subject is the resident, not listed
// here), the ruleset and the error, which names the rule's line.
type EvalFailure struct {
	LogIndex       int64
	FailedAt       time.Time
	Ruleset        string
	RulesetVersion int
	// Error is the place of the rule that failed (rules.FailedRule: file,
	// line, rule id), "" for a failure that is not a rule's. Every
	// official may list jobs, and the error itself may quote the
	// resident's facts: it stays in the evaluation.failed entry, which
	// those who may read the resident see in their history.
	Error string
}

// JobProgress reports a running job's progress.
type JobProgress struct {
	Job                   string
	Done, Changed, Failed int64
	Total                 int64
	Finished              bool
}
