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
// The entries checked are kept in memory (they never change), so that a
// code served again costs no more reads than before the check: code_heads
// is read in the same query as the row.
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
	// side is -1 for a row stored but not in the log, 1 for a row of the
	// log not stored, 0 for columns that differ.
	side int
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
	// entries are code.changed entries read and checked, by index.
	entries map[int64]*loggedCode
	alerts  atomic.Int64 // integrity alerts this process raised

	auditor atomic.Pointer[Auditor] // the auditor open on the database, if any
}

// IntegrityAlerts is how many integrity alerts this process raised.
func (db *DB) IntegrityAlerts() int64 { return db.integrity.alerts.Load() }

// checkCode checks a code state against the log before it is served. row
// says c was read from the resident's codes row; without one, c is the
// green of a resident never evaluated, which is right only if the log has
// no code.changed entry for the resident. head is the resident's latest
// code.changed entry as code_heads has it, read with the row (-1: none).
// A difference raises the integrity alert and returns an *IntegrityError.
func (db *DB) checkCode(ctx context.Context, c *healthcode.CodeState, row bool, head int64) error {
	d, err := db.codeDifference(ctx, c, row, head)
	if err != nil || d == nil {
		return err
	}
	d.Table, d.Key = "codes", c.Resident
	if err := db.raiseIntegrity(ctx, *d, "code route"); err != nil {
		return err
	}
	return newIntegrityError(*d)
}

// loggedCode is what a code.changed entry says, once read and checked
// against the log's stored leaf hash. Entries never change, so it is kept.
type loggedCode struct {
	subject string
	at      time.Time
	v       evCodeChanged
	bad     string // why the entry is not a code.changed entry one can serve; "" if it is
}

// codeDifference returns how c differs from the resident's latest
// code.changed entry, or nil.
func (db *DB) codeDifference(ctx context.Context, c *healthcode.CodeState, row bool, idx int64) (*Difference, error) {
	switch {
	case idx < 0 && !row:
		return nil, nil
	case idx < 0:
		return &Difference{Columns: []string{"log_index"}, Entry: c.LogIndex, stored: []string{fmt.Sprint(c.LogIndex)},
			What: fmt.Sprintf("the row cites entry %d, but the log has no code.changed entry for this resident", c.LogIndex)}, nil
	case !row:
		return &Difference{Entry: idx, What: fmt.Sprintf("the row is missing, but entry %d set it", idx)}, nil
	case idx != c.LogIndex:
		return &Difference{Columns: []string{"log_index"}, Entry: idx, stored: []string{fmt.Sprint(c.LogIndex)}, logged: []string{fmt.Sprint(idx)},
			What: fmt.Sprintf("log_index is %d, but the resident's latest code.changed entry is %d", c.LogIndex, idx)}, nil
	}
	lc, err := db.loggedCode(ctx, idx)
	if err != nil {
		return nil, fmt.Errorf("check code of %s against the log: %w", c.Resident, err)
	}
	if lc.bad == "" && lc.subject != c.Resident {
		lc = &loggedCode{bad: fmt.Sprintf("entry %d is about another resident", idx)}
	}
	if lc.bad != "" {
		return &Difference{Entry: idx, What: lc.bad}, nil
	}
	v := &lc.v
	fids, lfids := "", ""
	if !slices.Equal(c.FactIDs, v.FactIDs) { // encoded only to be shown
		a, _ := json.Marshal(c.FactIDs)
		b, _ := json.Marshal(v.FactIDs)
		fids, lfids = string(a), string(b)
	}
	d := &Difference{Entry: idx}
	for _, col := range []struct{ name, stored, logged string }{
		{"colour", string(c.Colour), v.Colour},
		{"since", fmtTime(c.Since), fmtTime(lc.at)},
		{"ruleset", c.RuleSet, v.Ruleset},
		{"ruleset_version", fmt.Sprint(c.RuleSetVersion), fmt.Sprint(v.RulesetVersion)},
		{"rule", c.Rule, v.Rule},
		{"fact_ids", fids, lfids},
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

// loggedCode reads entry idx, checked against its stored leaf hash, as a
// code.changed entry; from the process's cache when it was read before.
func (db *DB) loggedCode(ctx context.Context, idx int64) (*loggedCode, error) {
	st := &db.integrity
	st.mu.Lock()
	lc, ok := st.entries[idx]
	st.mu.Unlock()
	if ok {
		return lc, nil
	}
	var data, leaf, stored, salt []byte
	err := db.db.QueryRowContext(ctx, db.dialect.rebind(`SELECT e.data, lh.hash, p.data, p.salt FROM log_entries e LEFT JOIN log_hashes lh ON lh.idx = ?
		LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx = ?`),
		sumtlog.StoredHashIndex(0, idx), idx).Scan(&data, &leaf, &stored, &salt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &loggedCode{bad: fmt.Sprintf("entry %d is missing from the log", idx)}, nil // not kept: it may yet commit
	case err != nil:
		return nil, err
	}
	lc = &loggedCode{}
	if h := sumtlog.RecordHash(data); !bytes.Equal(leaf, h[:]) {
		lc.bad = fmt.Sprintf("entry %d does not match the log's stored hash", idx)
	} else if e, err := openEntry(data, stored); err != nil || e.Kind != tlog.KindCodeChanged {
		lc.bad = fmt.Sprintf("entry %d is not a code.changed entry", idx)
	} else if e.erased || e.V2() && stored != nil && !checkOpening(e.Personal, salt, stored) {
		lc.bad = fmt.Sprintf("entry %d: its personal part is erased or does not open its commitment", idx)
	} else if err := decodeStrict(e.Payload, &lc.v); err != nil {
		lc.bad = fmt.Sprintf("entry %d: code.changed payload does not decode: %v", idx, err)
	} else if err := e.checkView(&lc.v); err != nil {
		lc.bad = err.Error()
	} else {
		lc.subject, lc.at = e.Subject, e.Time
	}
	st.mu.Lock()
	if st.entries == nil || len(st.entries) >= cacheMaxIntegrity {
		st.entries = make(map[int64]*loggedCode)
	}
	st.entries[idx] = lc
	st.mu.Unlock()
	return lc, nil
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
	// The alert's leaf is public: the row's key and the line describing the
	// difference may name a resident, so they are the entry's personal
	// part; the leaf shows the table, the columns, the entry and the
	// fingerprint. A row about a resident makes the alert an entry about
	// them (rowResident): its leaf shows the table, the columns and who
	// found it, with the county, and its row and personal part go when the
	// resident is erased.
	subject := d.Table + "/" + d.Key
	// A sorted copy: d.Columns stays in step with the values beside it.
	cols := slices.Sorted(slices.Values(d.Columns))
	if cols == nil {
		cols = []string{}
	}
	raised := false
	err := db.write(context.WithoutCancel(ctx), func(t *Tx) error {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM alerts WHERE kind = ? AND subject = ? AND detail LIKE ?",
			healthcode.AlertIntegrity, subject, `%"difference":"`+fp+`"%`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		about, err := t.rowResident(d)
		if err != nil {
			return err
		}
		raised = true
		return t.raiseAlertWith(about, healthcode.AlertIntegrity, d.Table+"/"+fp, "", map[string]any{
			"table": d.Table, "columns": cols, "entry": d.Entry,
			"found_by": foundBy, "difference": fp,
		}, &evAlertPersonal{Subject: subject, Detail: map[string]string{"key": d.Key, "what": d.What}})
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

// residentColumns are the columns naming the resident a projected row is
// about, in the tables keyed by something else.
var residentColumns = map[string]string{
	"facts": "subject", "code_changes": "resident", "evaluation_failures": "resident", "appeals": "resident",
	"appeal_steps": "resident", "alerts": "resident", "data_access": "resident", "fact_holds": "subject",
}

// rowResident returns the registered resident the row of a difference is
// about, or "": the subject of the entry that set it, else a resident
// its key names (codes, residents, case_citations, ...), else the one its
// resident column names (a stored row no entry set).
func (t *Tx) rowResident(d Difference) (string, error) {
	var candidates []string
	if d.Entry >= 0 {
		var data, stored []byte
		err := t.queryRow("SELECT e.data, p.data FROM log_entries e LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx = ?", d.Entry).Scan(&data, &stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("read entry %d: %w", d.Entry, err)
		}
		if err == nil {
			if o, err := openEntry(data, stored); err == nil && o.Entry.Subject != "" {
				candidates = append(candidates, o.Entry.Subject)
			}
		}
	}
	candidates = append(candidates, strings.Split(d.Key, "/")...)
	if col, ok := residentColumns[d.Table]; ok && d.side < 0 {
		var r string
		err := t.queryRow("SELECT "+col+" FROM "+d.Table+" WHERE "+projectionKey(d.Table)+" = ?", d.Key).Scan(&r)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("read %s %s: %w", d.Table, d.Key, err)
		}
		candidates = append(candidates, r)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM residents WHERE id = ?", c).Scan(&n); err != nil {
			return "", err
		}
		if n > 0 {
			return c, nil
		}
	}
	return "", nil
}

// projectionKey is the one key column of a projected table.
func projectionKey(table string) string {
	for _, t := range projection {
		if t.name == table && len(t.key) == 1 {
			return t.key[0]
		}
	}
	return "NULL" // no single key: matches no row
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
