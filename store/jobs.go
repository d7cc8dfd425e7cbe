package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

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
func (db *DB) Jobs(ctx context.Context) ([]*healthcode.Job, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT id, kind, params, status, run_at, cursor, done, changed, failed, attempts, last_error, retry_at, created_at, finished_at, log_index FROM jobs ORDER BY created_at DESC, id")
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []*healthcode.Job
	for rows.Next() {
		j := &healthcode.Job{}
		if err := rows.Scan(&j.ID, &j.Kind, jsonCol(&j.Params), &j.Status, timeCol(&j.RunAt), &j.Cursor, &j.Done, &j.Changed,
			&j.Failed, &j.Attempts, &j.LastError, timeCol(&j.RetryAt), timeCol(&j.CreatedAt), timeCol(&j.FinishedAt), &j.LogIndex); err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	for _, j := range out {
		if j.Total, err = db.residentsIn(ctx, j.Params["scope"], withVisitors(j.Params)); err != nil {
			return nil, err
		}
		if j.Failed == 0 {
			continue
		}
		rows, err := db.db.QueryContext(ctx, db.dialect.rebind(limitClause("SELECT log_index, failed_at, ruleset, ruleset_version, error FROM evaluation_failures WHERE job = ? ORDER BY log_index DESC", maxListedFailures)), j.ID)
		if err := scanRows(rows, err, func(rows *sql.Rows) error {
			var f healthcode.EvalFailure
			var msg string
			if err := rows.Scan(&f.LogIndex, timeCol(&f.FailedAt), &f.Ruleset, &f.RulesetVersion, &msg); err != nil {
				return err
			}
			f.Error = rules.FailedRule(msg)
			j.Failures = append(j.Failures, f)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("job %s: read failures: %w", j.ID, err)
		}
	}
	return out, nil
}

// maxListedFailures is how many of a job's failures Jobs lists.
const maxListedFailures = 20

// residentsIn counts the residents a re-evaluation of scope covers (see
// scopeResidents).
func (db *DB) residentsIn(ctx context.Context, scope string, visitors bool) (int64, error) {
	q, args := scopeQuery(scope, visitors)
	var n int64
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT COUNT(*) FROM ("+q+") s"), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count residents in %q: %w", scope, err)
	}
	return n, nil
}

// withVisitors reports whether a re-evaluation job's params ask for the
// area's visitors too: a job caused by a designation (or any area fact).
func withVisitors(params map[string]string) bool { return params["cause"] == CauseRiskArea }

// scopeQuery selects, as one column id, the residents a re-evaluation of
// scope covers, unordered: those whose home is in scope and, with
// visitors, every resident with an active area_visit fact whose area is
// in scope. A designation applies to its area's visitors, wherever they
// live; which visits it affects, by time, is the rules' business (the
// default rules ask for an overlap with the designation's window and a
// 7-day look-back; another ruleset may ask for other windows), so every
// active visit to the area counts: the job and its dry run then cover
// every resident whose code the designation can change, whatever the
// rules in force.
func scopeQuery(scope string, visitors bool) (string, []any) {
	like := healthcode.CodePrefix(scope) + "%"
	if !visitors {
		return residentsInScope, []any{like}
	}
	return residentsInScope + " UNION " + visitorsOfScope, []any{like, like}
}

const (
	residentsInScope = "SELECT id FROM residents WHERE jurisdiction LIKE ?"
	visitorsOfScope  = `SELECT f.subject FROM facts f JOIN residents r ON r.id = f.subject
		WHERE f.kind = 'area_visit' AND f.status = 'active' AND f.area <> '' AND f.area LIKE ?`
)

// scopeResidents returns the next at most n residents of a re-evaluation
// of scope after cursor, in id order (see scopeQuery): a job's chunk, or
// a dry run's. With visitors it reads the next n of each side, each in id
// order from its index and stopping at the limit (a UNION ordered as a
// whole makes PostgreSQL read the rest of the scope at every chunk), and
// keeps the merged ids up to where both sides are complete.
func (t *Tx) scopeResidents(scope string, visitors bool, cursor string, n int) ([]string, error) {
	like := healthcode.CodePrefix(scope) + "%"
	ids, err := t.queryStrings(limitClause(residentsInScope+" AND id > ? ORDER BY id", n), like, cursor)
	if err != nil || !visitors {
		return ids, err
	}
	// One row per visit: a resident with many visits repeats.
	vs, err := t.queryStrings(limitClause(visitorsOfScope+" AND f.subject > ? ORDER BY f.subject", n), like, cursor)
	if err != nil {
		return nil, err
	}
	merged := sortedUniq(append(ids, vs...))
	// Past the last id read from a side that filled its limit, that side
	// may have more: keep only what both sides have read in full.
	bound := ""
	for _, side := range [][]string{ids, vs} {
		if len(side) == n && (bound == "" || side[n-1] < bound) {
			bound = side[n-1]
		}
	}
	if bound != "" {
		k, _ := slices.BinarySearch(merged, bound)
		merged = merged[:k+1]
	}
	return merged, nil
}

// RunJobs runs every job due now until none is left, reporting progress
// after each chunk. Several processes may run it at once: each chunk is
// claimed under the log's sequencer lock. A job whose chunk fails as a
// whole is put back with a retry time (doubling from jobRetry up to
// jobRetryMax) and a job_failed alert, and the jobs behind it run; a
// resident whose evaluation fails is skipped inside the chunk (applyEval).
// It returns the number of jobs finished, and the failures joined.
func (db *DB) RunJobs(ctx context.Context, progress func(healthcode.JobProgress)) (int, error) {
	finished := 0
	var failures []error
	for {
		var id string
		now := fmtTime(db.nowMs())
		err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id FROM jobs WHERE status = ? AND run_at <= ? AND retry_at <= ? ORDER BY run_at, id LIMIT 1"),
			healthcode.JobPending, now, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return finished, errors.Join(failures...)
		}
		if err != nil {
			return finished, errors.Join(append(failures, fmt.Errorf("find due jobs: %w", err))...)
		}
		done, err := db.runJob(ctx, id, progress)
		if err != nil {
			if ctx.Err() != nil {
				return finished, err
			}
			err = fmt.Errorf("job %s: %w", id, err)
			if rerr := db.jobFailed(ctx, id, err); rerr != nil {
				// The job cannot even be put back: stop, or it would be
				// picked again at once.
				return finished, errors.Join(append(failures, err, rerr)...)
			}
			failures = append(failures, err)
			continue
		}
		if done {
			finished++
		}
	}
}

// Retry delays of a job whose run failed as a whole.
const (
	jobRetry    = 10 * time.Second
	jobRetryMax = time.Hour
)

// jobFailed puts a job whose run failed back with its next retry time and
// the error, and raises a job_failed alert once per job and hour. The job's
// row (listed to every official) and the alert (public in the log) say
// only the error's code: its text may name a resident or quote their
// facts (a failing read of one resident's rows), so it goes to the
// server's log alone.
func (db *DB) jobFailed(ctx context.Context, id string, failure error) error {
	db.logger.Error("job failed; it is retried later and the jobs behind it run", "job", id, "err", failure)
	msg := publicJobError(failure)
	return db.write(ctx, func(t *Tx) error {
		var attempts int64
		if err := t.queryRow("SELECT attempts FROM jobs WHERE id = ?", id).Scan(&attempts); err != nil {
			return err
		}
		delay := jobRetryMax
		if attempts < 20 {
			delay = min(jobRetry<<attempts, jobRetryMax)
		}
		if _, err := t.exec("UPDATE jobs SET attempts = ?, last_error = ?, retry_at = ? WHERE id = ?", attempts+1, msg, fmtTime(t.now.Add(delay)), id); err != nil {
			return err
		}
		return t.alertOnce("", healthcode.AlertJobFailed, id, "", t.now.Add(-time.Hour), map[string]any{"error": msg, "attempts": attempts + 1, "retry_in_seconds": int64(delay / time.Second)})
	})
}

// publicJobError is what the job's row and its job_failed alert say of
// a run's failure: its code, never its text.
func publicJobError(failure error) string {
	return fmt.Sprintf("the run failed (%s); the server's log has the error", healthcode.ErrorCode(failure))
}

// runJob runs one job's chunks until it finishes (done) or fails.
func (db *DB) runJob(ctx context.Context, id string, progress func(healthcode.JobProgress)) (done bool, err error) {
	if testHookJobChunk != nil {
		if err := testHookJobChunk(id); err != nil {
			return false, err
		}
	}
	if err := db.dialect.analyze(ctx, db.db, "residents", "facts", "codes", "code_schedule"); err != nil {
		db.logger.Warn("refreshing planner statistics before a job failed; the job runs anyway", "job", id, "err", err)
	}
	// The number of residents in scope, for progress reports only.
	var params map[string]string
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT params FROM jobs WHERE id = ?"), id).Scan(jsonCol(&params)); err != nil {
		return false, fmt.Errorf("read params: %w", err)
	}
	total, err := db.residentsIn(ctx, params["scope"], withVisitors(params))
	if err != nil {
		return false, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var p healthcode.JobProgress
		err := db.write(ctx, func(t *Tx) error {
			var err error
			p, err = t.jobChunk(id)
			return err
		})
		if err != nil {
			return false, err
		}
		db.failpoint(failJobCommitted)
		p.Total = total
		if progress != nil && p.Job != "" {
			progress(p)
		}
		if p.Finished || p.Job == "" {
			return true, nil
		}
	}
}

// testHookJobChunk, if set, runs before each job's run; an error fails it
// (tests: a job that fails as a whole).
var testHookJobChunk func(job string) error

// jobChunk evaluates the job's next chunk of residents and advances its
// cursor; at the end it finishes the job with a job.finished entry.
func (t *Tx) jobChunk(id string) (healthcode.JobProgress, error) {
	var kind, status, cursor string
	var p map[string]string
	var done, changed, failed int64
	err := t.queryRow("SELECT kind, params, status, cursor, done, changed, failed FROM jobs WHERE id = ?", id).Scan(&kind, jsonCol(&p), &status, &cursor, &done, &changed, &failed)
	if err != nil {
		return healthcode.JobProgress{}, fmt.Errorf("read job: %w", err)
	}
	if status != healthcode.JobPending {
		return healthcode.JobProgress{}, nil // another process finished it
	}
	ids, err := t.scopeResidents(p["scope"], withVisitors(p), cursor, t.db.jobChunk)
	if err != nil {
		return healthcode.JobProgress{}, err
	}
	prog := healthcode.JobProgress{Job: id}
	if len(ids) == 0 {
		_, err := t.record(tlog.KindJobFinished, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "scheduler"}, "", &evJobFinished{
			Job: id, Kind: kind, Params: p, Residents: done, Changed: changed, Failed: failed,
		}, nil, nil)
		prog.Done, prog.Changed, prog.Failed, prog.Finished = done, changed, failed, true
		return prog, err
	}
	cause := p["cause"]
	if cause == "" {
		cause = CauseRuleset
	}
	t.job, t.designation = id, p["designation"]
	n, err := t.evaluateIDs(ids, cause, true)
	if err != nil {
		return prog, err
	}
	t.db.failpoint(failJobEvaluated)
	done += int64(len(ids))
	changed += int64(n)
	failed += int64(t.evalFailures)
	_, err = t.exec("UPDATE jobs SET cursor = ?, done = ?, changed = ?, failed = ? WHERE id = ?", ids[len(ids)-1], done, changed, failed, id)
	prog.Done, prog.Changed, prog.Failed = done, changed, failed
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
		if n, err := db.RunJobs(ctx, func(p healthcode.JobProgress) {
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
