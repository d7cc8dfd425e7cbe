package store

// The sweep's cursor against the insider. The cursor (where a sweep
// stands) and the end of the last sweep are kept in the live database's
// audit_state, so that a restarted server resumes; but whoever holds the
// database can write audit_state. Moving the cursor forward past a row
// they edited, or the last sweep's end forward to put the next sweep off,
// would hide the edit. So the auditor trusts neither unless it can tell it
// wrote them:
//
//   - both are signed with an HMAC under a key kept in the auditor's own
//     projection file (audit_state "cursor.key" there), which the database
//     does not hold;
//   - each sweep has a random cycle id, bound by the cursor's HMAC and
//     kept in the projection file too ("sweep.cycle"), so a cursor the
//     auditor itself wrote in another sweep (further along than the sweep
//     in progress) cannot be replayed;
//   - a running auditor writes the cursor only if it is still the value it
//     last wrote (compare and swap in the write's transaction).
//
// Each auditor keeps its own rows ("sweep/ID", "sweep.done/ID", ID named
// by its key), for a cursor another auditor wrote could not be told from
// the insider's. A cursor or end time that fails any of these raises an
// integrity alert (table audit_state, key sweep or sweep.done) and the sweep starts again
// from the beginning, now. Two cases restart without an alert, because
// nothing shows an edit: a projection file new to the auditor (it holds no
// key yet, so the stored values cannot be judged; a new file is rebuilt
// from the log and swept in full anyway), and a cursor of the sweep the
// auditor replaced last ("sweep.cycle.prev": a server stopped between
// the two writes that start a new sweep, before the new one's first cursor
// was written, "sweep.cycle.written"). Replaying an older end time is
// harmless (the next sweep comes sooner) and accepted.
//
// The follow cursor (how far the projection got, "projected") is not in
// the database at all but in the projection file, checked at open against
// the live log's leaf hash; whatever the insider does to the live log that
// moves it (a shorter log, other leaf hashes) makes the auditor rebuild
// its projection, and every catch-up without row checks restarts the
// sweep (follow).

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sweepCursor is where a sweep stands: kept in audit_state as "sweep/ID".
type sweepCursor struct {
	Table   string   `json:"table"`   // the table being compared
	Phase   string   `json:"phase"`   // "": its live rows; phaseLog: the projection's
	Key     []string `json:"key"`     // the last key compared in it; nil: none yet
	Rows    int64    `json:"rows"`    // rows compared so far
	Started string   `json:"started"` // when the sweep started
	Cycle   string   `json:"cycle"`   // the sweep's random id
	MAC     string   `json:"mac"`     // HMAC-SHA256 of the rest under the auditor's key
}

// sweepDone is the end of the last complete sweep: audit_state
// "sweep.done/ID".
type sweepDone struct {
	At    string `json:"at"`
	Cycle string `json:"cycle"`
	MAC   string `json:"mac"`
}

// errUnsigned is the error of a cursor or end time whose HMAC does not
// verify under the auditor's key.
var errUnsigned = errors.New("not signed by this auditor")

// cursorTrust is what the auditor's projection file holds about the
// cursors.
type cursorTrust struct {
	key         []byte
	fresh       bool   // the key was made now: stored values cannot be judged
	cycle, prev string // the sweep in progress (or last completed), the one before
	written     string // the last cycle whose cursor was written to the database
	id          string // names this auditor's rows in the live audit_state
}

// sweepName and doneName are the names of this auditor's cursor and last
// sweep's end in the live audit_state: each auditor (each projection
// file) keeps its own, for a cursor another wrote cannot be told from the
// insider's.
func (t *cursorTrust) sweepName() string { return "sweep/" + t.id }
func (t *cursorTrust) doneName() string  { return "sweep.done/" + t.id }

// loadTrust reads the key and the cycles from the projection file, making
// a key if it has none.
func (a *Auditor) loadTrust(ctx context.Context) error {
	state, err := a.shadow.auditState(ctx)
	if err != nil {
		return err
	}
	t := cursorTrust{cycle: state["sweep.cycle"], prev: state["sweep.cycle.prev"], written: state["sweep.cycle.written"]}
	if t.key, err = hex.DecodeString(state["cursor.key"]); err != nil || len(t.key) != 32 {
		t.key, t.fresh = make([]byte, 32), true
		if _, err := io.ReadFull(a.db.rand, t.key); err != nil {
			return fmt.Errorf("auditor: make the cursor key: %w", err)
		}
		if err := a.setShadowState(ctx, "cursor.key", hex.EncodeToString(t.key)); err != nil {
			return err
		}
	}
	id := sha256.Sum256(append([]byte("healthcode auditor id\n"), t.key...))
	t.id = hex.EncodeToString(id[:8])
	a.trust = t
	return nil
}

// setShadowState sets names to values in the projection file's audit_state.
func (a *Auditor) setShadowState(ctx context.Context, kv ...string) error {
	tx, err := a.shadow.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("auditor projection: %w", err)
	}
	defer tx.Rollback()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := setAuditState(ctx, tx, sqliteDialect{}, kv[i], kv[i+1]); err != nil {
			return fmt.Errorf("auditor projection: %w", err)
		}
	}
	return tx.Commit()
}

// newCycle starts a sweep: a fresh cursor whose cycle is recorded in the
// projection file (the cycle it replaces kept as prev) before the cursor
// is written to the database.
func (a *Auditor) newCycle(ctx context.Context) (*sweepCursor, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(a.db.rand, b); err != nil {
		return nil, fmt.Errorf("auditor: new sweep: %w", err)
	}
	c := &sweepCursor{Table: auditTables[0].name, Started: fmtTime(a.db.now()), Cycle: hex.EncodeToString(b)}
	if err := a.setShadowState(ctx, "sweep.cycle", c.Cycle, "sweep.cycle.prev", a.trust.cycle); err != nil {
		return nil, err
	}
	a.trust.prev, a.trust.cycle = a.trust.cycle, c.Cycle
	return c, nil
}

// wroteCycle records that the cursor of the sweep in progress has been
// written to the database: from now on a cursor of the previous sweep is
// a replay.
func (a *Auditor) wroteCycle(ctx context.Context) error {
	if a.trust.written == a.trust.cycle {
		return nil
	}
	if err := a.setShadowState(ctx, "sweep.cycle.written", a.trust.cycle); err != nil {
		return err
	}
	a.trust.written = a.trust.cycle
	return nil
}

// mac is the HMAC of what under the auditor's key, in hex.
func (a *Auditor) mac(name string, what []byte) string {
	m := hmac.New(sha256.New, a.trust.key)
	m.Write([]byte("healthcode audit_state " + name + "\n"))
	m.Write(what)
	return hex.EncodeToString(m.Sum(nil))
}

// signCursor returns c's stored form, signed.
func (a *Auditor) signCursor(c *sweepCursor) (string, error) {
	u := *c
	u.MAC = ""
	b, err := json.Marshal(&u)
	if err != nil {
		return "", err
	}
	u.MAC = a.mac("sweep", b)
	b, err = json.Marshal(&u)
	return string(b), err
}

// openCursor parses a stored cursor and checks its signature.
func (a *Auditor) openCursor(s string) (*sweepCursor, error) {
	var c sweepCursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("%w: %w", errUnsigned, err)
	}
	u := c
	u.MAC = ""
	b, err := json.Marshal(&u)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(c.MAC), []byte(a.mac("sweep", b))) {
		return nil, errUnsigned
	}
	return &c, nil
}

// signDone returns the stored form of the end of sweep cycle at at.
func (a *Auditor) signDone(at, cycle string) string {
	d := sweepDone{At: at, Cycle: cycle}
	d.MAC = a.mac("sweep.done", []byte(at+"\n"+cycle))
	b, _ := json.Marshal(&d) // three strings: cannot fail
	return string(b)
}

// openDone parses a stored sweep end and checks its signature.
func (a *Auditor) openDone(s string) (*sweepDone, error) {
	var d sweepDone
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("%w: %w", errUnsigned, err)
	}
	if !hmac.Equal([]byte(d.MAC), []byte(a.mac("sweep.done", []byte(d.At+"\n"+d.Cycle)))) {
		return nil, errUnsigned
	}
	return &d, nil
}

// cursorDifference is the integrity finding of a cursor or end time that
// is not what the auditor wrote.
func (a *Auditor) cursorDifference(name, stored, wrote, why string) Difference {
	return Difference{Table: "audit_state", Key: name, Columns: []string{"value"}, Entry: -1,
		What:   fmt.Sprintf("audit_state %s/%s: %s; the sweep starts again from the beginning", name, a.trust.id, why),
		stored: []string{stored}, logged: []string{wrote}}
}

// judgeStored reads the live cursor and end time at open. It sets the last
// sweep's time, resumes a sweep whose cursor is this auditor's and of the
// sweep in progress, and otherwise makes a new sweep due now; it returns
// the differences to raise.
func (a *Auditor) judgeStored(state map[string]string) ([]Difference, error) {
	var diffs []Difference
	doneCycle := ""
	if s := state[a.trust.doneName()]; s != "" {
		d, err := a.openDone(s)
		switch {
		case err == nil:
			t, err := parseTime(d.At)
			if err != nil {
				return nil, fmt.Errorf("auditor: audit_state sweep.done: %w", err)
			}
			a.status.LastSweep, doneCycle = t, d.Cycle
		case a.trust.fresh:
			a.db.logger.Info("audit: a new projection file cannot tell whether it wrote the last sweep's end; sweeping now")
		default:
			diffs = append(diffs, a.cursorDifference("sweep.done", s, "", "the end of the last sweep is "+err.Error()+" (edited in the database?)"))
		}
	}
	a.sweepRaw = state[a.trust.sweepName()]
	if a.sweepRaw == "" {
		if a.trust.cycle != "" && a.trust.cycle != doneCycle && !a.trust.fresh {
			// A sweep was in progress, and its cursor is gone (deleted,
			// or the server stopped before its first write): sweep now.
			a.db.logger.Warn("audit: the sweep in progress has no cursor in audit_state; sweeping again from the beginning")
			a.force = true
		}
		return diffs, nil
	}
	c, err := a.openCursor(a.sweepRaw)
	switch {
	case err == nil && c.Cycle == a.trust.cycle:
		a.sweep = c
		a.status.Sweeping, a.status.SweepTable, a.status.SweepRows = true, c.Table, c.Rows
		a.db.logger.Info("audit: resuming the sweep", "table", c.Table, "key", strings.Join(c.Key, "/"), "rows", c.Rows)
		return diffs, nil
	case a.trust.fresh, err == nil && c.Cycle == a.trust.prev && c.Cycle != "" && a.trust.written != a.trust.cycle:
		a.db.logger.Info("audit: the sweep cursor in audit_state cannot be resumed by this projection file; sweeping again from the beginning")
	case err == nil:
		diffs = append(diffs, a.cursorDifference("sweep", a.sweepRaw, "", "the cursor is of another sweep than the one in progress (replayed?)"))
	default:
		diffs = append(diffs, a.cursorDifference("sweep", a.sweepRaw, "", "the cursor is "+err.Error()+" (edited in the database?)"))
	}
	a.force = true
	return diffs, nil
}
