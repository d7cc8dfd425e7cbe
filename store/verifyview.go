package store

// What the verifier (package verify) reads, and nothing more: a read-only
// view of the log (entries with their stored personal parts, stored
// hashes, checkpoints, chain heads) and of the state rows it compares. It
// writes nothing and holds no lock; VerifyView reads the live database as
// log verify always did (an operator verifies a database at rest, or a
// copy of one).

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// A Problem is one thing log verification found wrong. Index is the log
// index it concerns, or -1 for the log as a whole.
type Problem struct {
	Index int64
	What  string
}

func (p Problem) String() string {
	if p.Index < 0 {
		return p.What
	}
	return fmt.Sprintf("entry %d: %s", p.Index, p.What)
}

// RawEntry is a log entry as stored: its leaf and its personal part
// (nil if none, or erased).
type RawEntry struct {
	Index          int64
	Data, Personal []byte
}

// A RowCursor reads rows in key order, one string per column (NULL is
// NullValue). Next returns nil at the end.
type RowCursor interface {
	Next() ([]string, error)
	Close() error
}

// NullValue stands for NULL in a row's values.
const NullValue = nullValue

// VerifyView is db's read-only view for the verifier.
type VerifyView struct{ db *DB }

// VerifyView returns db's read-only view for the verifier.
func (db *DB) VerifyView() *VerifyView { return &VerifyView{db: db} }

// LogKey is the log's verifier key and origin: the trust anchor.
func (v *VerifyView) LogKey() (note.Verifier, string) { return v.db.log.verifier, v.db.origin }

// Checkpoint is the latest signed checkpoint.
func (v *VerifyView) Checkpoint(ctx context.Context) ([]byte, error) { return v.db.LogCheckpoint(ctx) }

// Bounds returns the highest stored index (-1: none) and how many entries
// are stored.
func (v *VerifyView) Bounds(ctx context.Context) (maxIdx, count int64, err error) {
	if err := v.db.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx), -1), COUNT(*) FROM log_entries").Scan(&maxIdx, &count); err != nil {
		return 0, 0, fmt.Errorf("count entries: %w", err)
	}
	return maxIdx, count, nil
}

// each runs q and hands every row, scanned into dest, to f.
func (v *VerifyView) each(ctx context.Context, what, q string, args []any, f func() error, dest ...any) error {
	rows, err := v.db.db.QueryContext(ctx, v.db.dialect.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := f(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Entries hands the stored entries [from, to) to f in index order.
func (v *VerifyView) Entries(ctx context.Context, from, to int64, f func(RawEntry) error) error {
	var e RawEntry
	return v.each(ctx, "entries", `SELECT e.idx, e.data, p.data FROM log_entries e
		LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx`, []any{from, to},
		func() error { return f(e) }, &e.Index, &e.Data, &e.Personal)
}

// Hashes hands the stored hashes [from, to) (stored-hash indices) to f in
// order.
func (v *VerifyView) Hashes(ctx context.Context, from, to int64, f func(idx int64, hash []byte) error) error {
	var idx int64
	var h []byte
	return v.each(ctx, "stored hashes", "SELECT idx, hash FROM log_hashes WHERE idx >= ? AND idx < ? ORDER BY idx", []any{from, to},
		func() error { return f(idx, h) }, &idx, &h)
}

// Checkpoints hands the stored checkpoints of a size in (after, upTo] to
// f, by size.
func (v *VerifyView) Checkpoints(ctx context.Context, after, upTo int64, f func(size int64, root, signed []byte) error) error {
	var size int64
	var root, signed []byte
	return v.each(ctx, "checkpoints", "SELECT size, root, signed FROM log_checkpoints WHERE size > ? AND size <= ? ORDER BY size", []any{after, upTo},
		func() error { return f(size, root, signed) }, &size, &root, &signed)
}

// SubjectHeads hands every subject's stored chain head to f, by subject
// in byte order.
func (v *VerifyView) SubjectHeads(ctx context.Context, f func(subject string, idx int64, hash []byte) error) error {
	order := "subject"
	if v.db.dialect.name() == Postgres {
		order += ` COLLATE "C"`
	}
	var subject string
	var idx int64
	var h []byte
	return v.each(ctx, "chain heads", "SELECT subject, last_index, last_hash FROM log_subjects ORDER BY "+order, nil,
		func() error { return f(subject, idx, h) }, &subject, &idx, &h)
}

// PersonalParts hands every personal part stored beside the log to f.
func (v *VerifyView) PersonalParts(ctx context.Context, f func(idx int64, salt, data []byte) error) error {
	var idx int64
	var salt, data []byte
	return v.each(ctx, "personal parts", "SELECT idx, salt, data FROM log_personal", nil,
		func() error { return f(idx, salt, data) }, &idx, &salt, &data)
}

// FactEvidence hands to f every fact that keeps its evidence in its row
// (with its salt: before v2 leaves) and every fact whose entry has a
// stored personal part (salt empty, personal that part).
func (v *VerifyView) FactEvidence(ctx context.Context, f func(idx int64, evidence string, salt, personal []byte) error) error {
	var idx int64
	var evidence string
	var salt, personal []byte
	return v.each(ctx, "facts' evidence", `SELECT f.log_index, f.evidence, f.evidence_salt, p.data FROM facts f
		LEFT JOIN log_personal p ON p.idx = f.log_index WHERE length(f.evidence_salt) > 0 OR length(f.evidence_salt) = 0 AND p.idx IS NOT NULL`, nil,
		func() error { return f(idx, evidence, salt, personal) }, &idx, &evidence, &salt, &personal)
}

// RulesetSources hands every stored ruleset's text to f.
func (v *VerifyView) RulesetSources(ctx context.Context, f func(id string, version int, source string) error) error {
	var id, src string
	var version int
	return v.each(ctx, "rulesets", "SELECT id, version, source FROM rulesets", nil,
		func() error { return f(id, version, src) }, &id, &version, &src)
}

// Rows reads the live rows of a projected table in key order: the key
// columns, then the projected and personal ones (ProjectedTable's
// Columns).
func (v *VerifyView) Rows(ctx context.Context, table string) (RowCursor, error) {
	t := projectedTable(table)
	if t == nil {
		return nil, fmt.Errorf("%s is not a projected table", table)
	}
	cols := t.compared()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	rows, err := v.db.db.QueryContext(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+t.name+" ORDER BY "+t.orderBy(v.db.dialect))
	if err != nil {
		return nil, err
	}
	return &sqlCursor{rows: rows, n: len(cols)}, nil
}

// sqlCursor is a RowCursor over query rows of n columns.
type sqlCursor struct {
	rows *sql.Rows
	n    int
}

func (c *sqlCursor) Next() ([]string, error) {
	if !c.rows.Next() {
		return nil, c.rows.Err()
	}
	return rowValues(c.rows, c.n)
}

func (c *sqlCursor) Close() error { return c.rows.Close() }

// ProjectedTables names the projected tables, in the order log verify
// compares them.
func ProjectedTables() []string {
	out := make([]string, len(projection))
	for i, t := range projection {
		out[i] = t.name
	}
	return out
}

// projectedTable is the projected table called name, or nil.
func projectedTable(name string) *projTable {
	for i := range projection {
		if projection[i].name == name {
			return &projection[i]
		}
	}
	return nil
}

// The codec and the evaluation the verifier shares with the writer: the
// event types it decodes, the opening of personal parts, and the choice of
// the ruleset that applies.

// The events the replay of code decisions reads.
type (
	EventRulesetDrafted   = evRulesetDrafted
	EventRulesetDecided   = evRulesetDecided
	EventRulesetWithdrawn = evRulesetWithdrawn
	EventCodeChanged      = evCodeChanged
)

// DecodeEntry decodes e's payload into v, its kind's event type, refusing
// fields the kind does not have.
func DecodeEntry(e *tlog.Entry, v any) error { return decodeEntry(e, v) }

// A LogEra is the key that signed a log's checkpoints up to a size: the
// origin a log.continued entry at index Size moved from.
type LogEra = logEra

// CheckContinued checks a log.continued entry: its cited checkpoint
// verifies under the old key and origin, has the entry's index as its
// size, and the root of the tree of that size (read from hashes). It
// returns the era it closes.
func CheckContinued(e *tlog.Entry, hashes sumtlog.HashReader) (LogEra, error) {
	return checkContinued(e, hashes)
}

// FactPersonalData is the personal part a fact.recorded entry commits to
// for a fact that keeps its evidence in its row.
func FactPersonalData(evidence string) []byte { return factPersonalData(evidence) }

// RulesetOrder orders published rulesets as evaluation tries them.
func RulesetOrder(a, b *rules.Ruleset) int { return rulesetOrder(a, b) }

// Applicable returns the ruleset in force at now for a resident living in
// home, from list in RulesetOrder; nil if none.
func Applicable(list []*rules.Ruleset, home string, now time.Time) *rules.Ruleset {
	return applicable(list, home, now)
}

// AddVisitedAreas adds to set the areas (and their ancestors) an
// area_visit fact names; other facts add nothing.
func AddVisitedAreas(set map[string]bool, f *healthcode.Fact) error { return addVisitedAreas(set, f) }
