package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// Observer receives the store's events, for metrics. Its methods are
// called on the store's goroutines (the committer's among them): they must
// be quick, must not call back into the store, and must be safe for
// concurrent use. The store knows nothing of Prometheus; the server's
// metrics implement Observer.
type Observer interface {
	// FactsRecorded: n facts of a RecordFacts batch from source (a
	// source's id, or "official" for facts entered by hand) ended as
	// outcome: active, pending or duplicate for a committed batch,
	// rejected for a refused one.
	FactsRecorded(source, outcome string, n int)
	// Evaluated: one evaluation run of residents took d (rules only, not
	// reading or writing rows).
	Evaluated(residents int, d time.Duration)
	// CodeChanged: a committed code.changed entry gave a resident colour
	// because of cause (one of the Cause constants).
	CodeChanged(colour healthcode.Colour, cause string)
	// LoginFailed: a login attempt failed; throttled says it was refused
	// before its password was checked.
	LoginFailed(throttled bool)
	// TaskFailed: a background task of Schedule failed (jobs, escalate or
	// reevaluate_due); it is retried at the next tick.
	TaskFailed(task string)
}

// Outcome of a refused fact batch, for Observer.FactsRecorded.
const FactRejected = "rejected"

// Scheduler tasks, for Observer.TaskFailed.
const (
	TaskJobs          = "jobs"
	TaskEscalate      = "escalate"
	TaskReevaluateDue = "reevaluate_due"
)

// nopObserver is the observer of a store nobody observes.
type nopObserver struct{}

func (nopObserver) FactsRecorded(string, string, int)     {}
func (nopObserver) Evaluated(int, time.Duration)          {}
func (nopObserver) CodeChanged(healthcode.Colour, string) {}
func (nopObserver) LoginFailed(bool)                      {}
func (nopObserver) TaskFailed(string)                     {}

func (db *DB) observer() Observer { return *db.obs.Load() }

// Observe makes o the store's observer (nil: none), replacing any other.
func (db *DB) Observe(o Observer) {
	if o == nil {
		o = nopObserver{}
	}
	db.obs.Store(&o)
}

// observeFacts reports a RecordFacts batch's outcome.
func (db *DB) observeFacts(actor healthcode.Actor, n int, res *RecordResult, err error) {
	source := "official"
	if actor.Kind == healthcode.ActorSource {
		source = actor.ID
	}
	o := db.observer()
	if err != nil {
		o.FactsRecorded(source, FactRejected, n)
		return
	}
	counts := map[string]int{}
	for _, f := range res.Facts {
		counts[f.Status]++
	}
	for outcome, c := range counts {
		o.FactsRecorded(source, outcome, c)
	}
}

// codeChange is a code.changed entry of a batch, reported once the batch
// commits.
type codeChange struct {
	colour healthcode.Colour
	cause  string
}

// LogHead is the log's size and how old its latest checkpoint is, read
// from the database: the same on every replica, and unaffected by
// restarts.
type LogHead struct {
	Size int64
	// LastEntry is the time of the newest entry, which the checkpoint
	// signed with it covers (zero for an empty log). Every commit signs a
	// checkpoint, so this is also the time of the newest checkpoint.
	LastEntry time.Time
	Age       time.Duration // since LastEntry, by the store's clock
}

// LogHead reads the log head and the time of its newest entry.
func (db *DB) LogHead(ctx context.Context) (LogHead, error) {
	var h LogHead
	if err := db.db.QueryRowContext(ctx, "SELECT size FROM log_head WHERE id = 1").Scan(&h.Size); err != nil {
		return h, fmt.Errorf("read log head: %w", err)
	}
	if h.Size == 0 {
		return h, nil
	}
	var data []byte
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT data FROM log_entries WHERE idx = ?"), h.Size-1).Scan(&data); err != nil {
		return h, fmt.Errorf("read log entry %d: %w", h.Size-1, err)
	}
	e, err := tlog.ParseEntry(data)
	if err != nil {
		return h, fmt.Errorf("log entry %d: %w", h.Size-1, err)
	}
	h.LastEntry = e.Time
	h.Age = max(0, db.now().Sub(e.Time))
	return h, nil
}

// JobQueue is the re-evaluation jobs still to run.
type JobQueue struct {
	Pending int64
	// OldestDue is the earliest run_at of a pending job that is due
	// (zero if none is due): a queue that is not moving keeps it old.
	OldestDue    time.Time
	OldestDueAge time.Duration // since OldestDue, by the store's clock; 0 if none is due
}

// JobQueue counts pending jobs and finds the oldest due one.
func (db *DB) JobQueue(ctx context.Context) (JobQueue, error) {
	var q JobQueue
	var oldest sql.NullString
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT COUNT(*), MIN(CASE WHEN run_at <= ? THEN run_at END) FROM jobs WHERE status = ?"),
		fmtTime(db.nowMs()), healthcode.JobPending).Scan(&q.Pending, &oldest)
	if err != nil {
		return q, fmt.Errorf("count pending jobs: %w", err)
	}
	if oldest.Valid {
		if q.OldestDue, err = parseTime(oldest.String); err != nil {
			return q, err
		}
		q.OldestDueAge = max(0, db.now().Sub(q.OldestDue))
	}
	return q, nil
}

// AlertCounts counts the alerts ever raised, by kind (alerts are never
// deleted, so each count only grows).
func (db *DB) AlertCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT kind, COUNT(*) FROM alerts GROUP BY kind")
	if err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Pools returns the store's connection pools by role, for their
// statistics (sql.DB.Stats): "read" and, where writes have their own pool
// (SQLite), "write". Callers must not run queries on them.
func (db *DB) Pools() map[string]*sql.DB {
	if db.wdb == db.db {
		return map[string]*sql.DB{"main": db.db}
	}
	return map[string]*sql.DB{"read": db.db, "write": db.wdb}
}
