package store

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// Impact is what a ruleset draft would do if approved: a dry run of every
// resident of its scope on one snapshot of the database, with the draft in
// force (at its effective time, or now if that has passed).
type Impact struct {
	Residents int64 `json:"residents"` // residents evaluated
	Changed   int64 `json:"changed"`   // residents whose code would change (colour, rule or cited facts)
	Failed    int64 `json:"failed"`    // residents whose dry run failed
	// Colours counts the residents whose colour would change, by county
	// (the first six digits of their home) and "FROM→TO", e.g.
	// "green→red".
	Colours map[string]map[string]int64 `json:"colours"`
}

// RulesetImpact dry-runs a ruleset draft: how many residents' codes would
// change, from which colour to which, by county. Only a command officer who
// may approve it may ask (checked before any work). Returns ENOTFOUND,
// EFORBIDDEN, ECONFLICT (not a draft).
func (db *DB) RulesetImpact(ctx context.Context, id string, version int) (*Impact, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.MayAttempt(actor, healthcode.OpApproveRuleset); err != nil {
		return nil, err
	}
	info, err := db.Ruleset(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if err := healthcode.Authorize(actor, healthcode.OpApproveRuleset, info.Scope, ""); err != nil {
		return nil, err
	}
	if info.Status != RulesetDraft {
		return nil, healthcode.Errorf(healthcode.ECONFLICT, "ruleset %s version %d is %s, not a draft", id, version, info.Status)
	}
	return db.rulesetImpact(ctx, info)
}

// rulesetImpact is RulesetImpact without the authorisation.
func (db *DB) rulesetImpact(ctx context.Context, info *RulesetInfo) (*Impact, error) {
	draft, err := rules.Parse(fmt.Sprintf("%s@%d", info.ID, info.Version), []byte(info.Source))
	if err != nil {
		return nil, fmt.Errorf("draft %s@%d does not compile: %w", info.ID, info.Version, err)
	}
	return db.dryRun(ctx, info.Scope, draft.EffectiveAt(), func(st *evalState) {
		// The published rulesets with the draft among them, as if approved.
		st.list = append(slices.Clone(st.list), draft)
		slices.SortStableFunc(st.list, rulesetOrder)
	})
}

// DesignationImpact dry-runs a pending designation (a risk_area fact
// waiting for a second command officer): how many codes of the area's
// residents would change, from which colour to which, by county, if it
// were approved now — the residents its approval re-evaluates. Only a
// command officer who may approve it may ask (checked before any work).
// Returns ENOTFOUND, EFORBIDDEN, ECONFLICT (not a pending designation).
func (db *DB) DesignationImpact(ctx context.Context, key string) (*Impact, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.MayAttempt(actor, healthcode.OpApproveFact); err != nil {
		return nil, err
	}
	f, target, err := db.fact(ctx, db.db, key)
	if err != nil {
		return nil, err
	}
	if err := healthcode.Authorize(actor, healthcode.OpApproveFact, target, f.Subject); err != nil {
		return nil, err
	}
	if f.Kind != rules.KindRiskArea || f.Status != healthcode.FactPending {
		return nil, healthcode.Errorf(healthcode.ECONFLICT, "fact %s is a %s %s, not a pending designation", key, f.Status, f.Kind)
	}
	return db.designationImpact(ctx, f)
}

// designationImpact is DesignationImpact without the authorisation.
func (db *DB) designationImpact(ctx context.Context, f *healthcode.Fact) (*Impact, error) {
	g := forEval(*f)
	g.Status = healthcode.FactActive
	return db.dryRun(ctx, f.Subject, time.Time{}, func(st *evalState) {
		// The active designations with this one among them, as if
		// approved (the evaluator looks up each visit's area).
		st.areas = append(slices.Clip(st.areas), g)
	})
}

// dryRun evaluates every resident of scope on one snapshot of the
// database, with change applied to each chunk's evaluation state, at
// from (or now, if from has passed), and counts what would change.
func (db *DB) dryRun(ctx context.Context, scope string, from time.Time, change func(*evalState)) (*Impact, error) {
	sqltx, err := db.db.BeginTx(ctx, db.dialect.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("impact snapshot: %w", err)
	}
	defer func() { _ = sqltx.Rollback() }()
	t := &Tx{db: db, tx: sqltx, ctx: ctx, now: db.nowMs(), b: &batch{}}
	at := t.now
	if from.After(at) {
		at = from
	}
	imp := &Impact{Colours: map[string]map[string]int64{}}
	like := healthcode.CodePrefix(scope) + "%"
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids, err := t.queryStrings(limitClause("SELECT id FROM residents WHERE jurisdiction LIKE ? AND id > ? ORDER BY id", db.jobChunk), like, cursor)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return imp, nil
		}
		cursor = ids[len(ids)-1]
		st, err := t.loadEval(ids, true, nil, nil)
		if err != nil {
			return nil, err
		}
		change(st)
		results, _, errs := st.run(ids, at, runtime.GOMAXPROCS(0))
		for i, id := range ids {
			imp.Residents++
			if errs[i] != nil {
				imp.Failed++
				continue
			}
			res := results[i]
			cur, ok := st.current[id]
			if !ok {
				cur = currentCode{colour: healthcode.Green}
			}
			if res.FactIDs == nil {
				res.FactIDs = []string{}
			}
			if cur.colour == res.Colour && cur.rule == res.Rule && slices.Equal(cur.factIDs, res.FactIDs) {
				continue
			}
			imp.Changed++
			if cur.colour == res.Colour {
				continue
			}
			county := st.homes[id][:min(6, len(st.homes[id]))]
			if imp.Colours[county] == nil {
				imp.Colours[county] = map[string]int64{}
			}
			imp.Colours[county][string(cur.colour)+"→"+string(res.Colour)]++
		}
	}
}

// alertMassChange raises mass_change if imp, the dry run of an approval
// (nil: none was made), changes more codes than Limits.MassChange: subject
// is what was approved, first the official who drafted or recorded it
// (named as firstRole in the detail) and approver the second.
func (t *Tx) alertMassChange(imp *Impact, subject, jurisdiction, firstRole, first, approver string) error {
	if imp == nil || imp.Changed <= int64(t.db.limits.MassChange) {
		return nil
	}
	return t.raiseAlert(AlertMassChange, subject, jurisdiction, map[string]any{
		"changed": imp.Changed, "residents": imp.Residents, "colours": imp.Colours, "threshold": t.db.limits.MassChange,
		firstRole: first, "approved_by": approver,
	})
}
