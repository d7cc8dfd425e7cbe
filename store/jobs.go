package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// Job kinds.
const (
	JobReevaluate = "reevaluate" // re-evaluate every resident of a scope (params: scope, cause, and what triggered it)
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
	ID         string
	Kind       string
	Params     map[string]string
	Status     string
	RunAt      time.Time
	Cursor     string
	Done       int64
	Changed    int64
	Total      int64 // residents in scope (computed when listed)
	CreatedAt  time.Time
	FinishedAt time.Time
	LogIndex   int64
}

// defaultJobChunk is how many residents one transaction of a job
// evaluates (DB.jobChunk; tests make it small).
const defaultJobChunk = 2000

// enqueueJob adds a job, due at runAt, with its job.started entry.
func (t *Tx) enqueueJob(kind string, params map[string]string, runAt time.Time) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := "j_" + hex.EncodeToString(b[:])
	_, err := t.record(tlog.KindJobStarted, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "scheduler"}, "", &evJobStarted{
		Job: id, Kind: kind, Params: params, RunAt: fmtTime(runAt),
	}, nil, nil)
	return id, err
}

// Jobs lists jobs, newest first, with the number of residents in scope.
func (db *DB) Jobs(ctx context.Context) ([]*Job, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT id, kind, params, status, run_at, cursor, done, changed, created_at, finished_at, log_index FROM jobs ORDER BY created_at DESC, id")
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j := &Job{}
		if err := rows.Scan(&j.ID, &j.Kind, jsonCol(&j.Params), &j.Status, timeCol(&j.RunAt), &j.Cursor, &j.Done, &j.Changed,
			timeCol(&j.CreatedAt), timeCol(&j.FinishedAt), &j.LogIndex); err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	for _, j := range out {
		if j.Total, err = db.residentsIn(ctx, j.Params["scope"]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// residentsIn counts the residents whose home is in scope.
func (db *DB) residentsIn(ctx context.Context, scope string) (int64, error) {
	var n int64
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT COUNT(*) FROM residents WHERE jurisdiction LIKE ?"), healthcode.CodePrefix(scope)+"%").Scan(&n); err != nil {
		return 0, fmt.Errorf("count residents in %q: %w", scope, err)
	}
	return n, nil
}

// JobProgress reports a running job's progress.
type JobProgress struct {
	Job           string
	Done, Changed int64
	Total         int64
	Finished      bool
}

// RunJobs runs every job due now until none is left, reporting progress
// after each chunk. Several processes may run it at once: each chunk is
// claimed under the log's sequencer lock. It returns the number of jobs
// finished.
func (db *DB) RunJobs(ctx context.Context, progress func(JobProgress)) (int, error) {
	finished := 0
	for {
		var id string
		err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id FROM jobs WHERE status = ? AND run_at <= ? ORDER BY run_at, id LIMIT 1"),
			JobPending, fmtTime(db.nowMs())).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return finished, nil
		}
		if err != nil {
			return finished, fmt.Errorf("find due jobs: %w", err)
		}
		if err := db.dialect.analyze(ctx, db.db, "residents", "facts", "codes", "code_schedule"); err != nil {
			db.logger.Warn("refreshing planner statistics before a job failed; the job runs anyway", "job", id, "err", err)
		}
		// The number of residents in scope, for progress reports only.
		var params map[string]string
		if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT params FROM jobs WHERE id = ?"), id).Scan(jsonCol(&params)); err != nil {
			return finished, fmt.Errorf("job %s: read params: %w", id, err)
		}
		total, err := db.residentsIn(ctx, params["scope"])
		if err != nil {
			return finished, fmt.Errorf("job %s: %w", id, err)
		}
		for {
			if err := ctx.Err(); err != nil {
				return finished, err
			}
			var p JobProgress
			err := db.write(ctx, func(t *Tx) error {
				var err error
				p, err = t.jobChunk(id)
				return err
			})
			if err != nil {
				return finished, fmt.Errorf("job %s: %w", id, err)
			}
			db.failpoint(failJobCommitted)
			p.Total = total
			if progress != nil && p.Job != "" {
				progress(p)
			}
			if p.Finished || p.Job == "" {
				finished++
				break
			}
		}
	}
}

// jobChunk evaluates the job's next chunk of residents and advances its
// cursor; at the end it finishes the job with a job.finished entry.
func (t *Tx) jobChunk(id string) (JobProgress, error) {
	var kind, status, cursor string
	var p map[string]string
	var done, changed int64
	err := t.queryRow("SELECT kind, params, status, cursor, done, changed FROM jobs WHERE id = ?", id).Scan(&kind, jsonCol(&p), &status, &cursor, &done, &changed)
	if err != nil {
		return JobProgress{}, fmt.Errorf("read job: %w", err)
	}
	if status != JobPending {
		return JobProgress{}, nil // another process finished it
	}
	like := healthcode.CodePrefix(p["scope"]) + "%"
	ids, err := t.queryStrings(limitClause("SELECT id FROM residents WHERE jurisdiction LIKE ? AND id > ? ORDER BY id", t.db.jobChunk), like, cursor)
	if err != nil {
		return JobProgress{}, err
	}
	prog := JobProgress{Job: id}
	if len(ids) == 0 {
		_, err := t.record(tlog.KindJobFinished, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "scheduler"}, "", &evJobFinished{
			Job: id, Kind: kind, Params: p, Residents: done, Changed: changed,
		}, nil, nil)
		prog.Done, prog.Changed, prog.Finished = done, changed, true
		return prog, err
	}
	cause := p["cause"]
	if cause == "" {
		cause = CauseRuleset
	}
	n, err := t.evaluateIDs(ids, cause, true)
	if err != nil {
		return prog, err
	}
	t.db.failpoint(failJobEvaluated)
	done += int64(len(ids))
	changed += int64(n)
	_, err = t.exec("UPDATE jobs SET cursor = ?, done = ?, changed = ? WHERE id = ?", ids[len(ids)-1], done, changed, id)
	prog.Done, prog.Changed = done, changed
	return prog, err
}

// ReevaluateDue re-evaluates residents whose facts have aged into or out of
// their windows by now, in chunks, and returns how many codes changed.
func (db *DB) ReevaluateDue(ctx context.Context) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n, seen int
		err := db.write(ctx, func(t *Tx) error {
			ids, err := t.queryStrings(limitClause("SELECT resident FROM code_schedule WHERE next_check <= ? ORDER BY next_check, resident", t.db.jobChunk), fmtTime(t.now))
			if err != nil {
				return err
			}
			seen = len(ids)
			// Nothing due (the usual tick) changes nothing: local, so it
			// leaves concurrent batches' snapshots current.
			t.local = seen == 0
			n, err = t.evaluate(ids, CauseTime)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if seen < db.jobChunk {
			return total, nil
		}
	}
}

// Schedule runs due jobs and re-evaluates aged codes every interval until
// ctx ends, logging what it did. Run it in one goroutine per process (more
// processes are safe: work is claimed under the sequencer lock).
func (db *DB) Schedule(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := db.RunJobs(ctx, func(p JobProgress) {
			db.logger.Info("job progress", "job", p.Job, "done", p.Done, "total", p.Total, "changed", p.Changed, "finished", p.Finished)
		}); err != nil && ctx.Err() == nil {
			db.observer().TaskFailed(TaskJobs)
			db.logger.Error("run jobs", "err", err)
		} else if n > 0 {
			db.logger.Info("jobs finished", "count", n)
		}
		if n, err := db.EscalateOverdue(ctx); err != nil && ctx.Err() == nil {
			db.observer().TaskFailed(TaskEscalate)
			db.logger.Error("escalate overdue appeals", "err", err)
		} else if n > 0 {
			db.logger.Info("overdue appeals escalated", "count", n)
		}
		if n, err := db.ReevaluateDue(ctx); err != nil && ctx.Err() == nil {
			db.observer().TaskFailed(TaskReevaluateDue)
			db.logger.Error("re-evaluate aged codes", "err", err)
		} else if n > 0 {
			db.logger.Info("codes changed as facts aged", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
