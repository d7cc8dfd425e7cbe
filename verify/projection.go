package verify

// The projection rebuilt from the log alone, beside the checks of the
// entries, and compared with the live state column by column.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// projectionChunk is how many entries one transaction of the scratch
// projection applies.
const projectionChunk = 5000

// verifyProjection rebuilds the projection from src's entries into a
// scratch database, replays every code change from the state projected
// before it, and compares every projected column of every row with the
// live state.
func verifyProjection(ctx context.Context, src Source, logger *slog.Logger, rep *Report, prog *progress) error {
	proj, err := store.NewProjector(ctx, logger)
	if err != nil {
		return err
	}
	defer func() { _ = proj.Close() }() // a scratch database: Close warns
	replay, err := newReplayer(ctx, src, proj, rep)
	if err != nil {
		return err
	}
	failed, err := project(ctx, src, proj, replay.entry, prog.projection)
	rep.CodeChanges = replay.Changes
	if failed >= 0 {
		rep.add(failed, "cannot be projected, so the state cannot be rebuilt from the log: %v", err)
		return nil
	}
	if err != nil {
		return err
	}
	for _, table := range store.ProjectedTables() {
		if err := compareTable(ctx, src, proj, rep, table, prog); err != nil {
			return fmt.Errorf("compare %s: %w", table, err)
		}
	}
	return nil
}

// project feeds every entry of src to proj, a chunk per transaction,
// with before seeing each first. An entry that cannot be projected stops
// it with its index (failed); failed is -1 otherwise.
func project(ctx context.Context, src Source, proj *store.Projector, before func(e *tlog.Entry) error, progress func(done, total int64)) (failed int64, err error) {
	maxIdx, _, err := src.Bounds(ctx)
	if err != nil {
		return -1, err
	}
	total := maxIdx + 1
	var items []store.RawEntry
	for start := int64(0); start < total; start += projectionChunk {
		end := min(start+projectionChunk, total)
		items = items[:0]
		if err := src.Entries(ctx, start, end, func(e store.RawEntry) error {
			items = append(items, e)
			return nil
		}); err != nil {
			return -1, err
		}
		if failed, err := proj.Apply(ctx, items, before); err != nil {
			return failed, err
		}
		if progress != nil {
			progress(end, total)
		}
		if err := ctx.Err(); err != nil {
			return -1, err
		}
	}
	return -1, nil
}

// compareTable merges the live rows of table with the rebuilt ones, both
// in key order, and reports every difference, and its progress every so
// many rows and at the end.
func compareTable(ctx context.Context, src Source, proj *store.Projector, rep *Report, table string, prog *progress) error {
	live, err := src.Rows(ctx, table)
	if err != nil {
		return err
	}
	defer func() { _ = live.Close() }() // read only; Next reports errors
	n, err := proj.Compare(ctx, table, live, func(d store.Difference) {
		rep.add(d.Entry, "%s", d.What)
	}, func(n int) { prog.compared(table, n) })
	rep.Projected += n
	if err == nil {
		prog.compared(table, n)
	}
	return err
}

// backgroundProjection is verifyProjection running beside the checks of
// the entries (each takes a core; they share only the source), into a
// report of its own.
type backgroundProjection struct {
	rep    Report
	cancel context.CancelFunc
	done   chan error
	err    error
	joined bool
}

func startProjection(ctx context.Context, src Source, logger *slog.Logger, prog *progress) *backgroundProjection {
	ctx, cancel := context.WithCancel(ctx)
	bp := &backgroundProjection{cancel: cancel, done: make(chan error, 1)}
	go func() { bp.done <- verifyProjection(ctx, src, logger, &bp.rep, prog) }()
	return bp
}

// wait waits for the projection and adds what it found to rep.
func (bp *backgroundProjection) wait(rep *Report) error {
	if !bp.joined {
		bp.err, bp.joined = <-bp.done, true
		bp.cancel()
	}
	if bp.err != nil {
		return bp.err
	}
	rep.Projected += bp.rep.Projected
	rep.CodeChanges += bp.rep.CodeChanges
	for _, p := range bp.rep.Problems {
		rep.add(p.Index, "%s", p.What)
	}
	return nil
}

// stop cancels the projection if it is still running and waits for it to
// clean up its scratch database.
func (bp *backgroundProjection) stop() {
	if !bp.joined {
		bp.cancel()
		bp.err, bp.joined = <-bp.done, true
	}
}

// PhaseEntries is the phase of Log's progress in which the entries are
// checked and projected (done and total count entries); the comparison
// that follows reports a phase "compare TABLE" per projected table (done
// counts its rows compared, total is -1).
const PhaseEntries = "check and project entries"

// progress reports Log's progress, from either goroutine, one call at a
// time: the entries both checked and projected, then the rows of each
// table compared.
type progress struct {
	mu                        sync.Mutex
	f                         func(phase string, done, total int64)
	checked, projected, total int64
}

func (p *progress) entries(done, total int64)    { p.set(&p.checked, done, total) }
func (p *progress) projection(done, total int64) { p.set(&p.projected, done, total) }

func (p *progress) set(which *int64, done, total int64) {
	if p.f == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	*which = done
	p.total = max(p.total, total)
	p.f(PhaseEntries, min(p.checked, p.projected), p.total)
}

// compared reports rows of table compared so far.
func (p *progress) compared(table string, rows int) {
	if p.f == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.f("compare "+table, int64(rows), -1)
}
