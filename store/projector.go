package store

// The projection rebuilt from a stream of entries, for the verifier
// (package verify): the same apply functions the writer uses, run into a
// scratch database of its own, with the reads the replay of code
// decisions needs (the state as of an entry) and the comparison of the
// rebuilt rows with live ones.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// A Projector rebuilds the projection from entries fed to it in log
// order, into a temporary SQLite database that Close removes.
type Projector struct {
	db      *DB
	cleanup func()

	// The transaction open since the last Commit, its apply functions'
	// projector, and the replay's statements prepared on it.
	ctx   context.Context
	tx    *sql.Tx
	pr    *projector
	stmts map[string]*sql.Stmt
}

// An OpenedEntry is a stored entry parsed, with its personal part opened:
// what the verifier checks, then hands as it is to Projector.Apply, so
// that each entry is parsed and opened once. Its Entry must not be
// changed.
type OpenedEntry struct{ o *openedEntry }

// OpenEntry parses a stored entry and opens its stored personal part
// (nil: none or erased): for a v2 entry about a resident, Subject, Prev
// and Payload are the personal part's. The commitment is not checked
// here; a personal part that does not decode is an error.
func OpenEntry(data, personal []byte) (OpenedEntry, error) {
	o, err := openEntry(data, personal)
	if err != nil {
		return OpenedEntry{}, err
	}
	return OpenedEntry{o}, nil
}

// Entry is the parsed entry.
func (o OpenedEntry) Entry() *tlog.Entry { return o.o.Entry }

// NewProjector opens an empty scratch projection in a temporary
// directory; logger (nil: none) hears of a failure to remove it.
func NewProjector(ctx context.Context, logger *slog.Logger) (*Projector, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db, cleanup, err := openScratch(ctx, logger)
	if err != nil {
		return nil, err
	}
	return &Projector{db: db, cleanup: cleanup}, nil
}

// Close closes and removes the scratch database; a failure is only
// warned of (it leaves a temporary file).
func (p *Projector) Close() error {
	if p.tx != nil {
		_ = p.rollback() // the scratch database goes with it
	}
	p.cleanup()
	return nil
}

// Apply projects entries, consecutive and in index order and following
// those applied before, in the transaction open since the last Commit
// (begun, with ctx, if none is). before, if not nil, sees each entry in
// the state as of it, before it is applied; the state reads (Resident,
// ActiveFacts, Fact) are valid only inside it. An erased resident's
// entries cannot be opened: before does not see them.
//
// An entry that cannot be projected returns its index (failed) and the
// error; any other error returns failed -1. Either way the entries
// applied since the last Commit are rolled back.
func (p *Projector) Apply(ctx context.Context, entries []OpenedEntry, before func(e *tlog.Entry) error) (failed int64, err error) {
	if p.tx == nil {
		tx, err := p.db.wdb.BeginTx(ctx, nil)
		if err != nil {
			return -1, err
		}
		p.ctx, p.tx, p.stmts = ctx, tx, map[string]*sql.Stmt{}
		p.pr = &projector{ctx: ctx, tx: tx, d: p.db.dialect}
	}
	for _, it := range entries {
		e := it.o
		if before != nil && !e.erased {
			if err := before(e.Entry); err != nil {
				return -1, errors.Join(fmt.Errorf("replay entry %d (%s): %w", e.Index, e.Kind, err), p.rollback())
			}
		}
		if err := p.pr.apply(e); err != nil {
			return e.Index, errors.Join(fmt.Errorf("project entry %d (%s): %w", e.Index, e.Kind, err), p.rollback())
		}
	}
	return -1, nil
}

// Commit commits the entries applied since the last Commit, if any.
func (p *Projector) Commit() error {
	if p.tx == nil {
		return nil
	}
	if err := p.pr.flushLast(); err != nil {
		return errors.Join(err, p.rollback())
	}
	err := p.tx.Commit()
	p.end()
	return err
}

func (p *Projector) rollback() error {
	err := p.tx.Rollback()
	p.end()
	return err
}

func (p *Projector) end() { p.ctx, p.tx, p.pr, p.stmts = nil, nil, nil, nil }

// QueryError is a failure to read the scratch database, as opposed to a
// problem of the log: it stops verification.
type QueryError struct{ Err error }

func (q *QueryError) Error() string { return q.Err.Error() }
func (q *QueryError) Unwrap() error { return q.Err }

// query runs q on the chunk's transaction with a statement prepared once
// per transaction.
func (p *Projector) query(q string, args ...any) (*sql.Rows, error) {
	if p.tx == nil {
		return nil, &QueryError{errors.New("the projection's state is read only while an entry is applied")}
	}
	st := p.stmts[q]
	if st == nil {
		var err error
		if st, err = p.tx.PrepareContext(p.ctx, q); err != nil {
			return nil, &QueryError{err}
		}
		p.stmts[q] = st
	}
	rows, err := st.QueryContext(p.ctx, args...)
	if err != nil {
		return nil, &QueryError{err}
	}
	return rows, nil
}

// Resident returns the jurisdiction of resident id as projected so far.
func (p *Projector) Resident(id string) (home string, found bool, err error) {
	rows, err := p.query("SELECT jurisdiction FROM residents WHERE id = ?", id)
	if err != nil {
		return "", false, err
	}
	found = rows.Next()
	if found {
		err = rows.Scan(&home)
	}
	if err := errors.Join(err, endRows(rows)); err != nil {
		return "", false, &QueryError{err}
	}
	return home, found, nil
}

// WithoutHeld returns areas without the designations held or refused for
// resident id (fact.held_for, fact.refused_for), as projected so far: what
// counts in the resident's evaluation.
func (p *Projector) WithoutHeld(id string, areas []healthcode.Fact) ([]healthcode.Fact, error) {
	if len(areas) == 0 {
		return areas, nil
	}
	rows, err := p.query(heldQuery+"= ?", id)
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	for rows.Next() {
		var resident, designation string
		if err := rows.Scan(&resident, &designation); err != nil {
			return nil, &QueryError{errors.Join(err, endRows(rows))}
		}
		held[designation] = true
	}
	if err := endRows(rows); err != nil {
		return nil, &QueryError{err}
	}
	return withoutHeld(areas, held), nil
}

// ActiveFacts reads the active facts filed under subject (of kind, if not
// ""), in key order, as projected so far. A stored time that does not
// parse is a problem of the log (an error that is not a *QueryError).
func (p *Projector) ActiveFacts(subject, kind string) ([]healthcode.Fact, error) {
	// The origin (source, or the recording official) counts: a kind's
	// facts beyond its bound are shared fairly among origins.
	q, args := "SELECT uid, kind, observed_at, payload, source, recorded_by FROM facts WHERE subject = ? AND status = 'active' ORDER BY uid", []any{subject}
	if kind != "" {
		q, args = "SELECT uid, kind, observed_at, payload, source, recorded_by FROM facts WHERE subject = ? AND status = 'active' AND kind = ? ORDER BY uid", []any{subject, kind}
	}
	rows, err := p.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []healthcode.Fact
	for rows.Next() {
		f := healthcode.Fact{Subject: subject, Status: healthcode.FactActive}
		var observed, payload string
		if err := rows.Scan(&f.Key, &f.Kind, &observed, &payload, &f.Source, &f.RecordedBy); err != nil {
			return nil, &QueryError{err}
		}
		f.ID, f.Payload = f.Key, []byte(payload)
		if f.ObservedAt, err = time.Parse(timeFormat, observed); err != nil {
			return nil, fmt.Errorf("fact %s observed at %q: %v", f.Key, observed, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, &QueryError{err}
	}
	return out, nil
}

// FactOrigin is who recorded and approved a fact.
type FactOrigin struct {
	Kind, RecordedBy, Source, ApprovedBy string
}

// Fact returns the origin of fact uid as projected so far.
func (p *Projector) Fact(uid string) (f FactOrigin, found bool, err error) {
	rows, err := p.query("SELECT kind, recorded_by, source, approved_by FROM facts WHERE uid = ?", uid)
	if err != nil {
		return f, false, err
	}
	found = rows.Next()
	if found {
		err = rows.Scan(&f.Kind, &f.RecordedBy, &f.Source, &f.ApprovedBy)
	}
	if err := errors.Join(err, endRows(rows)); err != nil {
		return f, false, &QueryError{err}
	}
	return f, found, nil
}

// Compare merges the live rows of a projected table (live, in key order,
// as VerifyView.Rows reads them) with the rebuilt ones and hands every
// difference to emit. It returns how many live rows it read; progress, if
// not nil, is called with that number every so many rows.
func (p *Projector) Compare(ctx context.Context, table string, live RowCursor, emit func(Difference), progress func(rows int)) (int, error) {
	t := projectedTable(table)
	if t == nil {
		return 0, fmt.Errorf("%s is not a projected table", table)
	}
	rebuilt, err := rebuiltRows(ctx, t, p.db.db, "", nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = rebuilt.Close() }() // read only; Next reports errors
	return mergeRows(t, live, rebuilt, emit, progress)
}
