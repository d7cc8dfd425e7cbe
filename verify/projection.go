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

// The checks of the entries hand the entries they opened to the
// projection in batches of projectionBatch, of which at most
// projectionQueue wait: the entries the two goroutines hold between them
// stay bounded, whatever the log's length.
const (
	projectionBatch = 256
	projectionQueue = 4
)

// openedBatch is a batch of consecutive opened entries for the
// projection. If err is not nil, the entry after them (index failed) does
// not parse, and the projection stops there.
type openedBatch struct {
	entries []store.OpenedEntry
	failed  int64
	err     error
}

// verifyProjection rebuilds the projection into a scratch database from
// the entries fed to it (total in all), replays every code change from
// the state projected before it, and compares every projected column of
// every row with src's live state.
func verifyProjection(ctx context.Context, src Source, feed <-chan openedBatch, total int64, logger *slog.Logger, rep *Report, prog *progress) error {
	proj, err := store.NewProjector(ctx, logger)
	if err != nil {
		return err
	}
	defer func() { _ = proj.Close() }() // a scratch database: Close warns
	replay, err := newReplayer(ctx, src, proj, rep)
	if err != nil {
		return err
	}
	failed, err := project(ctx, feed, total, proj, replay.entry, prog.projection)
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

// project applies the entries of feed's batches to proj until feed is
// closed, committing every projectionChunk entries, with before seeing
// each first. An entry that cannot be parsed or projected stops it with
// its index (failed); failed is -1 otherwise.
func project(ctx context.Context, feed <-chan openedBatch, total int64, proj *store.Projector, before func(e *tlog.Entry) error, progress func(done, total int64)) (failed int64, err error) {
	var done, pending int64 // applied; applied since the last commit
	commit := func() error {
		if err := proj.Commit(); err != nil {
			return err
		}
		pending = 0
		if progress != nil {
			progress(done, total)
		}
		return nil
	}
	for {
		var b openedBatch
		var ok bool
		select {
		case b, ok = <-feed:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
		if !ok {
			return -1, commit()
		}
		if failed, err := proj.Apply(ctx, b.entries, before); err != nil {
			return failed, err
		}
		if b.err != nil {
			return b.failed, fmt.Errorf("entry %d does not parse: %w", b.failed, b.err)
		}
		done += int64(len(b.entries))
		if pending += int64(len(b.entries)); pending >= projectionChunk {
			if err := commit(); err != nil {
				return -1, err
			}
		}
	}
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
// the entries (each takes a core), fed by them with the entries they
// opened (send, then finish), into a report of its own.
type backgroundProjection struct {
	rep    Report
	cancel context.CancelFunc
	feed   chan openedBatch
	batch  []store.OpenedEntry // being filled by add
	fed    bool                // a batch with a failure was sent, or finish was called
	exited chan struct{}       // closed when verifyProjection has returned
	done   chan error
	err    error
	joined bool
}

func startProjection(ctx context.Context, src Source, total int64, logger *slog.Logger, prog *progress) *backgroundProjection {
	ctx, cancel := context.WithCancel(ctx)
	bp := &backgroundProjection{cancel: cancel, feed: make(chan openedBatch, projectionQueue),
		exited: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		err := verifyProjection(ctx, src, bp.feed, total, logger, &bp.rep, prog)
		close(bp.exited)
		bp.done <- err
	}()
	return bp
}

// add hands the projection the next entry, opened, in batches.
func (bp *backgroundProjection) add(e store.OpenedEntry) {
	if bp.fed {
		return
	}
	if bp.batch == nil {
		bp.batch = make([]store.OpenedEntry, 0, projectionBatch)
	}
	if bp.batch = append(bp.batch, e); len(bp.batch) == projectionBatch {
		bp.send(openedBatch{entries: bp.batch})
	}
}

// failed tells the projection that the next entry, idx, does not parse
// (err): it stops there, and nothing more is sent.
func (bp *backgroundProjection) failed(idx int64, err error) {
	if !bp.fed {
		bp.send(openedBatch{entries: bp.batch, failed: idx, err: err})
		bp.fed = true
	}
}

// finish hands the projection the last entries: every entry has been
// sent.
func (bp *backgroundProjection) finish() {
	if !bp.fed {
		if len(bp.batch) > 0 {
			bp.send(openedBatch{entries: bp.batch})
		}
		close(bp.feed)
		bp.fed = true
	}
}

// send waits for room in the queue, unless the projection has stopped
// (it failed or was cancelled: wait reports why).
func (bp *backgroundProjection) send(b openedBatch) {
	select {
	case bp.feed <- b:
	case <-bp.exited:
	}
	bp.batch = nil
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
