package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// Fact returns a stored fact by key. Officials see facts inside their
// jurisdiction; residents their own; sources the facts they submitted.
// Returns ENOTFOUND, EUNAUTH.
func (db *DB) Fact(ctx context.Context, key string) (*healthcode.Fact, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	}
	f, target, err := db.fact(ctx, db.db, key)
	if err != nil {
		return nil, err
	}
	switch {
	case actor.Kind == healthcode.ActorOfficial && personSubject(f) == "" && healthcode.Covers(actor.Jurisdiction, target):
		return f, nil // an area's designation is not personal data
	case actor.Kind == healthcode.ActorOfficial && healthcode.Authorize(actor, healthcode.OpReadResident, target, f.Subject) == nil:
		if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, []string{f.Subject}, "fact", true) }); err != nil {
			return nil, err
		}
		return f, nil
	case actor.Kind == healthcode.ActorSource && f.Source == actor.ID,
		actor.Kind == healthcode.ActorResident && f.Subject == actor.ID,
		actor.Kind == healthcode.ActorSystem:
		return f, nil
	}
	return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no fact %q", key)
}

// fact reads a fact and the jurisdiction it concerns (the resident's home,
// or the area).
func (db *DB) fact(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (*healthcode.Fact, string, error) {
	f, err := scanFact(q.QueryRowContext(ctx, db.dialect.rebind("SELECT "+factColumns+" FROM facts WHERE uid = ?"), key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", healthcode.Errorf(healthcode.ENOTFOUND, "no fact %q", key)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read fact: %w", err)
	}
	target := f.Subject
	if !rules.IsAreaKind(f.Kind) {
		if err := q.QueryRowContext(ctx, db.dialect.rebind("SELECT jurisdiction FROM residents WHERE id = ?"), f.Subject).Scan(&target); err != nil {
			return nil, "", fmt.Errorf("read fact's resident: %w", err)
		}
	}
	return &f, target, nil
}

// DecideFact approves or rejects a pending hand-entered fact. The decider
// is a command officer whose post covers the fact's resident or area and
// who did not record it (two-person rule). Approval makes the fact count
// and re-evaluates the codes it concerns. Returns ENOTFOUND, EFORBIDDEN,
// ECONFLICT (not pending), EINVALID (rejection without a reason).
func (db *DB) DecideFact(ctx context.Context, key string, approve bool, reason string) (*healthcode.Fact, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.CheckFactDecision(approve, reason); err != nil {
		return nil, err
	}
	// Approving a designation is dry-run first (outside the write: it
	// reads every resident of the area), once the approver is known to be
	// allowed (the hold is checked in the write): above Limits.MassChange
	// changed codes it raises mass_change.
	var impact *healthcode.Impact
	if approve {
		if err := healthcode.MayAttempt(actor, healthcode.OpApproveFact); err != nil {
			return nil, err
		}
		g, target, err := db.fact(ctx, db.db, key)
		if err != nil {
			return nil, err
		}
		if d, err := healthcode.DecideFact(actor, healthcode.FactDecisionState{Fact: g, Target: target}, true, reason); g.Kind == rules.KindRiskArea && d != nil && err == nil {
			if impact, err = db.designationImpact(ctx, g); err != nil {
				db.logger.Error("the dry run of an approved designation failed; it is approved without the mass-change check", "fact", key, "err", err)
				impact = nil
			}
		}
	}
	var f *healthcode.Fact
	err := db.write(ctx, func(t *Tx) error {
		st, err := t.factDecisionState(key)
		if err != nil {
			return err
		}
		f = st.Fact
		status, err := healthcode.DecideFact(actor, st, approve, reason)
		if err != nil || status == nil {
			return err // a refusal, or a retry of this very decision (its answer lost after the commit): the same answer, nothing recorded
		}
		kind := tlog.KindFactApproved
		if !approve {
			kind = tlog.KindFactRejected
		}
		if _, err := t.record(kind, actor, personSubject(f), &evFactDecided{Key: key, RecordedBy: f.RecordedBy, RecordedEntry: f.LogIndex, Reason: reason}, nil, nil); err != nil {
			return err
		}
		f.Status, f.ApprovedBy = *status, actor.ID
		if approve {
			if err := t.alertMassChange(impact, key, st.Target, "recorded_by", f.RecordedBy, actor.ID); err != nil {
				return err
			}
			return t.afterFactChange(f, CauseFact)
		}
		return nil
	})
	return f, err
}

// factDecisionState reads what deciding a pending fact reads: the fact,
// its target, its hold and the reason of a decision already recorded.
func (t *Tx) factDecisionState(key string) (healthcode.FactDecisionState, error) {
	var st healthcode.FactDecisionState
	var err error
	if st.Fact, st.Target, err = t.db.fact(t.ctx, t.tx, key); err != nil {
		return st, err
	}
	if st.Hold, err = t.factHold(key); err != nil {
		return st, err
	}
	if st.Fact.Status != healthcode.FactPending {
		if err := t.queryRow("SELECT reason FROM facts WHERE uid = ?", key).Scan(&st.Reason); err != nil {
			return st, fmt.Errorf("read fact's decision: %w", err)
		}
	}
	return st, nil
}

// RetractFact withdraws a fact with a reason: its recorder, or a command
// officer whose post covers it, may. The fact stays in history as
// retracted and the codes it concerns are re-evaluated. It honours an
// Idempotency-Key (WithClaim): the answer is the retracted fact. Returns
// ENOTFOUND, EFORBIDDEN, ECONFLICT (already retracted or rejected),
// EINVALID (no reason), or *Replayed / *KeyReused.
func (db *DB) RetractFact(ctx context.Context, key, reason string) (*healthcode.Fact, error) {
	if err := healthcode.CheckText("reason", reason, healthcode.MaxReasonBytes); err != nil {
		return nil, err
	}
	return db.retractFact(ctx, key, reason, CauseRetraction)
}

func (db *DB) retractFact(ctx context.Context, key, reason, cause string) (*healthcode.Fact, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.CheckRetraction(reason); err != nil {
		return nil, err
	}
	var f *healthcode.Fact
	err := db.writeKeyed(ctx, func(t *Tx) (any, string, error) {
		var target string
		var err error
		if f, target, err = db.fact(t.ctx, t.tx, key); err != nil {
			return nil, "", err
		}
		if err := healthcode.DecideRetraction(actor, f, target); err != nil {
			return nil, "", err
		}
		return f, personSubject(f), t.retract(actor, f, reason, cause)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// retract withdraws f (authorised by the caller, and
// healthcode.Retractable) with its fact.retracted entry and re-evaluates
// what it touches.
func (t *Tx) retract(actor healthcode.Actor, f *healthcode.Fact, reason, cause string) error {
	key := f.Key
	if _, err := t.record(tlog.KindFactRetracted, actor, personSubject(f), &evFactRetracted{
		Key: key, Reason: reason, PreviousStatus: string(f.Status), RecordedEntry: f.LogIndex,
	}, nil, nil); err != nil {
		return err
	}
	f.Status = healthcode.FactRetracted
	return t.afterFactChange(f, cause)
}

// afterFactChange re-evaluates what a fact's change touches: its resident,
// or, for an area, every resident of the area by a job.
func (t *Tx) afterFactChange(f *healthcode.Fact, cause string) error {
	if rules.IsAreaKind(f.Kind) {
		_, err := t.enqueueJob(healthcode.JobReevaluate, map[string]string{"scope": f.Subject, "cause": CauseRiskArea, "designation": f.Key}, t.now)
		return err
	}
	_, err := t.evaluate([]string{f.Subject}, cause)
	return err
}

// PendingFacts lists the pending facts a command officer may decide:
// inside their jurisdiction and not recorded by them.
func (db *DB) PendingFacts(ctx context.Context, page int) ([]*healthcode.Fact, bool, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpApproveFact, actor.Jurisdiction, ""); err != nil {
		return nil, false, err
	}
	// The pending facts the officer may decide: not their own, about an
	// area or a resident within their jurisdiction (the fact's target, as
	// db.fact reads it), a page of them.
	var area []any
	for _, k := range rules.Kinds() {
		if k.Area {
			area = append(area, k.Name)
		}
	}
	in := "''"
	if len(area) > 0 {
		in = strings.TrimSuffix(strings.Repeat("?, ", len(area)), ", ")
	}
	like := healthcode.CodePrefix(actor.Jurisdiction) + "%"
	limit, offset := pageBounds(page)
	args := append([]any{string(healthcode.FactPending), actor.ID}, area...)
	args = append(append(args, like), area...)
	args = append(args, like, limit, offset)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT f."+strings.ReplaceAll(factColumns, ", ", ", f.")+` FROM facts f LEFT JOIN residents r ON r.id = f.subject
		WHERE f.status = ? AND f.recorded_by <> ? AND (f.kind IN (`+in+`) AND f.subject LIKE ? OR f.kind NOT IN (`+in+`) AND r.jurisdiction LIKE ?)
		ORDER BY f.recorded_at, f.uid LIMIT ? OFFSET ?`), args...)
	var all []healthcode.Fact
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		f, err := scanFact(rows)
		if err != nil {
			return err
		}
		all = append(all, f)
		return nil
	}); err != nil {
		return nil, false, fmt.Errorf("list pending facts: %w", err)
	}
	all, more := cutPage(all)
	var out []*healthcode.Fact
	for i := range all {
		f := &all[i]
		_, target, err := db.fact(ctx, db.db, f.Key)
		if err != nil {
			return nil, false, err
		}
		if f.RecordedBy != actor.ID && healthcode.Covers(actor.Jurisdiction, target) {
			out = append(out, f)
		}
	}
	var shown []string
	for _, f := range out {
		if personSubject(f) != "" {
			shown = append(shown, f.Subject)
		}
	}
	if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, uniq(shown), "pending_facts", false) }); err != nil {
		return nil, false, err
	}
	return out, more, nil
}
