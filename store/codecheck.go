package store

// The code routes never show or sign a colour that the log does not say.
// Before a resident's code is served (Code, Explain: the code route, the
// token route, the resident's page), its codes row is checked against the
// resident's latest code.changed entry: the entry named by code_heads,
// which the log's writer keeps in the same transaction as the entry, must
// be the one the row points to, must match the log's stored leaf hash,
// and its payload must say the row's colour, rule, ruleset and facts. A
// difference is refused (IntegrityError, EUNAVAIL) and raises one
// integrity alert per difference.
//
// An insider who edits both the codes row and code_heads passes this
// check; the background auditor (auditor.go) compares code_heads with its
// own projection of the log and finds them.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// AlertIntegrity is raised when a state row differs from the log: found by
// the code and token routes before they serve a code, or by the
// background auditor. Its detail names the table, the row's key, the
// columns and the entry; raised once per difference.
const AlertIntegrity = "integrity"

// IntegrityRetryAfter is the Retry-After of a code refused because its row
// differs from the log: an operator must recover it (log rebuild).
const IntegrityRetryAfter = 5 * time.Minute

// Difference is a state row that differs from the log.
type Difference struct {
	Table   string   // the projected table
	Key     string   // the row's key, its columns joined by "/"
	Columns []string // the columns that differ; nil: the row is missing or spurious
	Entry   int64    // the log entry that set the row, or -1
	What    string   // one line, as log verify writes it

	// The values compared, for the fingerprint of the difference; never
	// shown (they may be personal).
	stored, logged []string
}

// fingerprint identifies the difference: the same edit found again gives
// the same fingerprint, another edit of the same row another one.
func (d *Difference) fingerprint() string {
	h := sha256.New()
	for _, s := range append(append(append([]string{d.Table, d.Key, fmt.Sprint(d.Entry)}, d.Columns...), d.stored...), d.logged...) {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// IntegrityError is a code refused because its row differs from the log.
// It unwraps to a *healthcode.Error of code EUNAVAIL.
type IntegrityError struct {
	Difference Difference
	err        *healthcode.Error
}

func (e *IntegrityError) Error() string { return e.err.Error() }
func (e *IntegrityError) Unwrap() error { return e.err }

func newIntegrityError(d Difference) *IntegrityError {
	return &IntegrityError{Difference: d, err: &healthcode.Error{Code: healthcode.EUNAVAIL, RetryAfter: IntegrityRetryAfter,
		Message: fmt.Sprintf("the code of %s is withheld: its stored state differs from the log (%s); an integrity alert is raised and an operator must recover the state from the log (healthcode log rebuild)", d.Key, d.What)}}
}

// integrityState is the process's memory of the integrity alerts it
// raised (by fingerprint), so that a refused code costs no write per
// request, and its counters.
type integrityState struct {
	mu     sync.Mutex
	raised map[string]bool
	alerts atomic.Int64 // integrity alerts this process raised

	auditor atomic.Pointer[Auditor] // the auditor open on the database, if any
}

// IntegrityAlerts is how many integrity alerts this process raised.
func (db *DB) IntegrityAlerts() int64 { return db.integrity.alerts.Load() }

// checkCode checks a code state against the log before it is served. row
// says c was read from the resident's codes row; without one, c is the
// green of a resident never evaluated, which is right only if the log has
// no code.changed entry for the resident. A difference raises the
// integrity alert and returns an *IntegrityError.
func (db *DB) checkCode(ctx context.Context, c *healthcode.CodeState, row bool) error {
	d, err := db.codeDifference(ctx, c, row)
	if err != nil || d == nil {
		return err
	}
	d.Table, d.Key = "codes", c.Resident
	if err := db.raiseIntegrity(ctx, *d, "code route"); err != nil {
		return err
	}
	return newIntegrityError(*d)
}

// codeDifference returns how c differs from the resident's latest
// code.changed entry, or nil.
func (db *DB) codeDifference(ctx context.Context, c *healthcode.CodeState, row bool) (*Difference, error) {
	var head sql.NullInt64
	var data, leaf []byte
	// One round trip: the head, its entry, and the stored leaf hash of the
	// entry the row points to (which is the head unless they differ).
	err := db.db.QueryRowContext(ctx, db.dialect.rebind(`SELECT h.log_index, e.data, lh.hash FROM code_heads h
		LEFT JOIN log_entries e ON e.idx = h.log_index LEFT JOIN log_hashes lh ON lh.idx = ? WHERE h.resident = ?`),
		sumtlog.StoredHashIndex(0, c.LogIndex), c.Resident).Scan(&head, &data, &leaf)
	if errors.Is(err, sql.ErrNoRows) {
		if row {
			return &Difference{Columns: []string{"log_index"}, Entry: c.LogIndex, stored: []string{fmt.Sprint(c.LogIndex)},
				What: fmt.Sprintf("the row cites entry %d, but the log has no code.changed entry for this resident", c.LogIndex)}, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check code of %s against the log: %w", c.Resident, err)
	}
	idx := head.Int64
	switch {
	case !row:
		return &Difference{Entry: idx, What: fmt.Sprintf("the row is missing, but entry %d set it", idx)}, nil
	case idx != c.LogIndex:
		return &Difference{Columns: []string{"log_index"}, Entry: idx, stored: []string{fmt.Sprint(c.LogIndex)}, logged: []string{fmt.Sprint(idx)},
			What: fmt.Sprintf("log_index is %d, but the resident's latest code.changed entry is %d", c.LogIndex, idx)}, nil
	case data == nil:
		return &Difference{Entry: idx, What: fmt.Sprintf("entry %d is missing from the log", idx)}, nil
	}
	if h := sumtlog.RecordHash(data); !bytes.Equal(leaf, h[:]) {
		return &Difference{Entry: idx, What: fmt.Sprintf("entry %d does not match the log's stored hash", idx)}, nil
	}
	e, err := tlog.ParseEntry(data)
	if err != nil || e.Kind != tlog.KindCodeChanged || e.Subject != c.Resident {
		return &Difference{Entry: idx, What: fmt.Sprintf("entry %d is not a code.changed entry about this resident", idx)}, nil
	}
	var v evCodeChanged
	if err := decodeStrict(e.Payload, &v); err != nil {
		return &Difference{Entry: idx, What: fmt.Sprintf("entry %d: code.changed payload does not decode: %v", idx, err)}, nil
	}
	fids, err := json.Marshal(c.FactIDs)
	if err != nil {
		return nil, err
	}
	lfids, err := json.Marshal(v.FactIDs)
	if err != nil {
		return nil, err
	}
	d := &Difference{Entry: idx}
	for _, col := range []struct{ name, stored, logged string }{
		{"colour", string(c.Colour), v.Colour},
		{"since", fmtTime(c.Since), fmtTime(e.Time)},
		{"ruleset", c.RuleSet, v.Ruleset},
		{"ruleset_version", fmt.Sprint(c.RuleSetVersion), fmt.Sprint(v.RulesetVersion)},
		{"rule", c.Rule, v.Rule},
		{"fact_ids", string(fids), string(lfids)},
	} {
		if col.stored != col.logged {
			d.Columns = append(d.Columns, col.name)
			d.stored, d.logged = append(d.stored, col.stored), append(d.logged, col.logged)
		}
	}
	if d.Columns == nil {
		return nil, nil
	}
	d.What = fmt.Sprintf("%s differ from entry %d", strings.Join(d.Columns, ", "), idx)
	return d, nil
}

// raiseIntegrity raises the integrity alert of a difference unless it was
// raised before (by this process, or as an alert with its fingerprint).
func (db *DB) raiseIntegrity(ctx context.Context, d Difference, foundBy string) error {
	fp := d.fingerprint()
	st := &db.integrity
	st.mu.Lock()
	done := st.raised[fp]
	st.mu.Unlock()
	if done {
		return nil
	}
	subject := d.Table + "/" + d.Key
	cols := d.Columns
	if cols == nil {
		cols = []string{}
	}
	sort.Strings(cols)
	raised := false
	err := db.write(context.WithoutCancel(ctx), func(t *Tx) error {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM alerts WHERE kind = ? AND subject = ? AND detail LIKE ?",
			AlertIntegrity, subject, `%"difference":"`+fp+`"%`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		raised = true
		return t.raiseAlert(AlertIntegrity, subject, "", map[string]any{
			"table": d.Table, "key": d.Key, "columns": slices.Clone(cols), "entry": d.Entry, "what": d.What,
			"found_by": foundBy, "difference": fp,
		})
	})
	if err != nil {
		return fmt.Errorf("raise integrity alert: %w", err)
	}
	st.mu.Lock()
	if st.raised == nil || len(st.raised) >= cacheMaxIntegrity {
		st.raised = make(map[string]bool)
	}
	st.raised[fp] = true
	st.mu.Unlock()
	if raised {
		st.alerts.Add(1)
		db.logger.Error("integrity alert: a state row differs from the log", "table", d.Table, "key", d.Key, "columns", strings.Join(cols, ","),
			"entry", d.Entry, "what", d.What, "found_by", foundBy)
	}
	return nil
}

// cacheMaxIntegrity bounds the fingerprints remembered; then the alerts
// table answers again.
const cacheMaxIntegrity = 1 << 16

// writeCodeHeads notes, for the code.changed entries of a batch, each
// resident's latest one (code_heads), in the transaction that writes them.
func (t *Tx) writeCodeHeads(entries []pendingEntry) error {
	heads := map[string]int64{}
	for _, e := range entries {
		// The kind line; no other line can start with "kind ".
		if e.subject != "" && bytes.Contains(e.data, codeChangedLine) {
			heads[e.subject] = e.idx
		}
	}
	if len(heads) == 0 {
		return nil
	}
	residents := make([]string, 0, len(heads))
	for r := range heads {
		residents = append(residents, r)
	}
	sort.Strings(residents) // a fixed order, so concurrent upserts cannot deadlock
	return upsertRows(t, "code_heads (resident, log_index)", 2, len(residents),
		" ON CONFLICT (resident) DO UPDATE SET log_index = excluded.log_index",
		func(i int) []any { return []any{residents[i], heads[residents[i]]} })
}

var codeChangedLine = []byte("\nkind " + string(tlog.KindCodeChanged) + "\n")
