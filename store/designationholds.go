package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// Per-resident holds of a designation (issue 13, item 5). In the cooling
// period after a granted appeal, a designation that would raise the
// resident the appeal restored is held for that resident only: it goes
// through its usual approval and counts for everyone else, but not in
// that resident's evaluation until a command officer of the parent
// jurisdiction of the recorder's post releases it for them; refused for
// them, it never counts for them. Each hold, release and refusal is an
// entry about the resident (fact.held_for, fact.released_for,
// fact.refused_for), projected into designation_holds; the evaluator,
// the dry run, the outlook and the replayer of log verify all leave out
// a designation held for the resident they evaluate.

// The statuses of a designation held for a resident (healthcode.HoldHeld
// and the others).
const (
	HoldHeld     = healthcode.HoldHeld
	HoldReleased = healthcode.HoldReleased
	HoldRefused  = healthcode.HoldRefused
)

// residentHold is a resident for whom a designation being recorded is
// held, and the granted appeal that restored them.
type residentHold struct {
	resident string
	appeal   string
}

// holdFor records, after a designation's fact.recorded entry (at index
// recorded), its fact.held_for entry for each resident it is held for.
func (p *projector) holdFor(actor healthcode.Actor, f *healthcode.Fact, recorded int64, scope string, holds []residentHold) error {
	for _, h := range holds {
		if _, err := p.record(tlog.KindFactHeldFor, actor, h.resident, &evFactHeldFor{
			Designation: f.Key, Appeal: h.appeal, ApprovalScope: scope, RecordedEntry: recorded,
		}, nil, false); err != nil {
			return err
		}
	}
	return nil
}

// heldSet is, per resident, the designations (fact keys) that do not
// count in their evaluation: held or refused for them.
type heldSet map[string]map[string]bool

func (h heldSet) add(resident, designation string) {
	if h[resident] == nil {
		h[resident] = map[string]bool{}
	}
	h[resident][designation] = true
}

// withoutHeld returns areas without the designations in held (areas
// itself when none is).
func withoutHeld(areas []healthcode.Fact, held map[string]bool) []healthcode.Fact {
	if len(held) == 0 || !slices.ContainsFunc(areas, func(a healthcode.Fact) bool { return held[a.Key] }) {
		return areas
	}
	out := make([]healthcode.Fact, 0, len(areas))
	for _, a := range areas {
		if !held[a.Key] {
			out = append(out, a)
		}
	}
	return out
}

// heldQuery selects the designations that do not count for the residents
// matched by the appended condition.
const heldQuery = "SELECT resident, designation FROM designation_holds WHERE status <> '" + HoldReleased + "' AND resident "

// heldFor reads the designations that do not count for one resident.
func (t *Tx) heldFor(id string) (map[string]bool, error) {
	out := heldSet{}
	if err := t.eachRow(heldQuery+"= ?", []any{id}, func(rows *sql.Rows) error {
		var r, d string
		if err := rows.Scan(&r, &d); err != nil {
			return err
		}
		out.add(r, d)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the designations held for %s: %w", id, err)
	}
	return out[id], nil
}

// DesignationHold is a designation held for one resident, as the command
// that may release it sees it.
type DesignationHold struct {
	Designation   string // the risk_area fact's key
	Area          string
	Level         string
	Status        string // the designation's: pending, active, retracted or rejected
	Hold          string // held, released or refused (for this resident)
	Resident      string
	ResidentName  string
	Appeal        string // the granted appeal that restored the resident
	ApprovalScope string
	RecordedBy    string
	ApprovedBy    string
	DecidedBy     string // who released or refused it for the resident
	Reason        string
	HeldAt        time.Time
	LogIndex      int64 // the fact.held_for entry
	DecidedLog    int64 // the fact.released_for or fact.refused_for entry
}

// HeldDesignations lists, a page at a time, the designations held for a
// resident that the command officer may release or refuse (their post
// covers the hold's scope), oldest first. The residents shown are logged
// as read. Returns EUNAUTH, EFORBIDDEN.
func (db *DB) HeldDesignations(ctx context.Context, page int) ([]DesignationHold, bool, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpApproveFact, actor.Jurisdiction, ""); err != nil {
		return nil, false, err
	}
	limit, offset := pageBounds(page)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(holdQuery+` WHERE h.status = ? AND h.approval_scope LIKE ? ORDER BY h.log_index LIMIT ? OFFSET ?`),
		HoldHeld, healthcode.CodePrefix(actor.Jurisdiction)+"%", limit, offset)
	var out []DesignationHold
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		h, err := scanHold(rows)
		if err != nil {
			return err
		}
		if healthcode.Covers(actor.Jurisdiction, h.ApprovalScope) {
			out = append(out, h)
		}
		return nil
	}); err != nil {
		return nil, false, fmt.Errorf("list held designations: %w", err)
	}
	out, more := cutPage(out)
	if out == nil {
		out = []DesignationHold{}
	}
	var shown []string
	for _, h := range out {
		shown = append(shown, h.Resident)
	}
	if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, uniq(shown), "held_designations", false) }); err != nil {
		return nil, false, err
	}
	return out, more, nil
}

// holdQuery reads DesignationHold rows (scanHold), with a condition on h
// appended.
const holdQuery = `SELECT h.designation, f.subject, f.payload, f.status, h.status, h.resident, r.name, h.appeal, h.approval_scope,
	f.recorded_by, f.approved_by, h.decided_by, h.reason, f.recorded_at, h.log_index, h.decided_log
	FROM designation_holds h JOIN facts f ON f.uid = h.designation JOIN residents r ON r.id = h.resident`

func scanHold(r rowScanner) (DesignationHold, error) {
	var h DesignationHold
	var payload string
	if err := r.Scan(&h.Designation, &h.Area, &payload, &h.Status, &h.Hold, &h.Resident, &h.ResidentName, &h.Appeal, &h.ApprovalScope,
		&h.RecordedBy, &h.ApprovedBy, &h.DecidedBy, &h.Reason, timeCol(&h.HeldAt), &h.LogIndex, &h.DecidedLog); err != nil {
		return h, err
	}
	var p struct{ Level string }
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return h, fmt.Errorf("designation %s: payload: %w", h.Designation, err)
	}
	h.Level = p.Level
	if h.DecidedLog < 0 {
		h.DecidedLog = 0
	}
	return h, nil
}

// DecideDesignationHold releases (release true) or refuses a designation
// held for a resident: a command officer whose post covers the hold's
// scope and who neither recorded nor approved the designation decides. A
// release needs the designation approved (active) and re-evaluates the
// resident; a refusal needs a written reason. Returns ENOTFOUND,
// EFORBIDDEN, ECONFLICT (not held, or a release of a pending
// designation), EINVALID.
func (db *DB) DecideDesignationHold(ctx context.Context, key, resident string, release bool, reason string) (*DesignationHold, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.CheckHoldDecision(actor, release, reason); err != nil {
		return nil, err
	}
	err := db.write(ctx, func(t *Tx) error {
		st := healthcode.HoldState{}
		var held int64
		err := t.queryRow(`SELECT h.approval_scope, h.status, h.log_index, r.jurisdiction FROM designation_holds h JOIN residents r ON r.id = h.resident
			WHERE h.designation = ? AND h.resident = ?`, key, resident).Scan(&st.Scope, &st.Status, &held, &st.Home)
		if errors.Is(err, sql.ErrNoRows) {
			return healthcode.Errorf(healthcode.ENOTFOUND, "designation %s is not held for resident %s", key, resident)
		}
		if err != nil {
			return fmt.Errorf("read the hold: %w", err)
		}
		if st.Designation, _, err = db.fact(t.ctx, t.tx, key); err != nil {
			return err
		}
		status, err := healthcode.DecideHold(actor, resident, st, release)
		if err != nil || status == nil {
			return err // a refusal, or a retry of this decision: nothing recorded
		}
		kind := tlog.KindFactReleasedFor
		if !release {
			kind = tlog.KindFactRefusedFor
		}
		if _, err := t.record(kind, actor, resident, &evFactDecidedFor{Designation: key, Reason: reason, HeldEntry: held}, nil, nil); err != nil {
			return err
		}
		if release {
			t.designation = key // the change cites the designation and its officials
			if _, err := t.evaluate([]string{resident}, CauseRiskArea); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h, err := scanHold(db.db.QueryRowContext(ctx, db.dialect.rebind(holdQuery+" WHERE h.designation = ? AND h.resident = ?"), key, resident))
	if err != nil {
		return nil, fmt.Errorf("read the hold: %w", err)
	}
	return &h, nil
}
