package store

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// RulesetImpact dry-runs a ruleset draft: how many residents' codes would
// change, from which colour to which, by county. Only a command officer who
// may approve it may ask (checked before any work). Returns ENOTFOUND,
// EFORBIDDEN, ECONFLICT (not a draft).
func (db *DB) RulesetImpact(ctx context.Context, id string, version int) (*healthcode.Impact, error) {
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
	if info.Status != healthcode.RulesetDraft {
		return nil, healthcode.Errorf(healthcode.ECONFLICT, "ruleset %s version %d is %s, not a draft", id, version, info.Status)
	}
	return db.rulesetImpact(ctx, info)
}

// rulesetImpact is RulesetImpact without the authorisation.
func (db *DB) rulesetImpact(ctx context.Context, info *healthcode.RulesetInfo) (*healthcode.Impact, error) {
	draft, err := rules.Parse(fmt.Sprintf("%s@%d", info.ID, info.Version), []byte(info.Source))
	if err != nil {
		return nil, fmt.Errorf("draft %s@%d does not compile: %w", info.ID, info.Version, err)
	}
	return db.dryRun(ctx, fmt.Sprintf("ruleset %s@%d", info.ID, info.Version), info.Scope, false, draft.EffectiveAt(), func(st *evalState) {
		// The published rulesets with the draft among them, as if approved.
		st.list = append(slices.Clone(st.list), draft)
		slices.SortStableFunc(st.list, rulesetOrder)
	})
}

// DesignationImpact dry-runs a pending designation (a risk_area fact
// waiting for a second command officer): how many codes of the area's
// residents and visitors would change, from which colour to which, by
// county (of their homes), if it were approved now — the residents its
// approval re-evaluates. Only a
// command officer who may approve it may ask (checked before any work).
// Returns ENOTFOUND, EFORBIDDEN, ECONFLICT (not a pending designation).
func (db *DB) DesignationImpact(ctx context.Context, key string) (*healthcode.Impact, error) {
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
func (db *DB) designationImpact(ctx context.Context, f *healthcode.Fact) (*healthcode.Impact, error) {
	g := forEval(*f)
	g.Status = healthcode.FactActive
	return db.dryRun(ctx, "designation "+f.Key, f.Subject, true, time.Time{}, func(st *evalState) {
		// The active designations with this one among them, as if
		// approved (the evaluator looks up each visit's area).
		st.areas = append(slices.Clip(st.areas), g)
	})
}

// impactTTL is how long a dry run's result is reused while the log has
// not grown: the state is the log's projection, so an unchanged log is an
// unchanged state, and only time (facts ageing out of their windows)
// could make a second dry run differ.
const impactTTL = time.Minute

// impactCache keeps the latest dry run of each ruleset draft and pending
// designation, so that the approver's GETs and the approval cost one
// re-evaluation of the scope, not one each.
type impactCache struct {
	mu   sync.Mutex
	runs map[string]cachedImpact // what → its latest dry run
	// count counts the dry runs actually made (for the tests).
	count atomic.Int64
}

type cachedImpact struct {
	size int64     // the log size the snapshot read
	at   time.Time // when (the store's clock)
	imp  healthcode.Impact
}

// maxCachedImpacts bounds the cache; beyond it, it starts again empty.
const maxCachedImpacts = 64

// get returns a copy of what's dry run made at log size size less than
// impactTTL before now, if any.
func (c *impactCache) get(what string, size int64, now time.Time) (*healthcode.Impact, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.runs[what]
	if !ok || r.size != size || now.Sub(r.at) >= impactTTL || now.Before(r.at) {
		return nil, false
	}
	imp := r.imp
	imp.Colours = make(map[string]map[string]int64, len(r.imp.Colours))
	for county, m := range r.imp.Colours {
		imp.Colours[county] = maps.Clone(m)
	}
	return &imp, true
}

func (c *impactCache) put(what string, size int64, now time.Time, imp *healthcode.Impact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil || len(c.runs) >= maxCachedImpacts {
		c.runs = map[string]cachedImpact{}
	}
	c.runs[what] = cachedImpact{size: size, at: now, imp: *imp}
}

// dryRun evaluates every resident of scope (with visitors, and every
// resident who visited it: scopeQuery, as the job does) on one snapshot
// of the database, with change applied to each chunk's evaluation state, at
// from (or now, if from has passed), and counts what would change. what
// names the change, for the cache: a dry run of the same change at the
// same log size within impactTTL is not made again.
func (db *DB) dryRun(ctx context.Context, what, scope string, visitors bool, from time.Time, change func(*evalState)) (*healthcode.Impact, error) {
	sqltx, err := db.db.BeginTx(ctx, db.dialect.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("impact snapshot: %w", err)
	}
	defer func() { _ = sqltx.Rollback() }()
	t := &Tx{db: db, tx: sqltx, ctx: ctx, now: db.nowMs(), b: &batch{}}
	var size int64
	if err := t.queryRow("SELECT size FROM log_head WHERE id = 1").Scan(&size); err != nil {
		return nil, fmt.Errorf("impact snapshot: read the log size: %w", err)
	}
	if imp, ok := db.impacts.get(what, size, t.now); ok {
		return imp, nil
	}
	imp, err := t.dryRun(scope, visitors, from, change)
	if err != nil {
		return nil, err
	}
	db.impacts.count.Add(1)
	db.impacts.put(what, size, t.now, imp)
	return imp, nil
}

// dryRun is DB.dryRun in the snapshot t, without the cache.
func (t *Tx) dryRun(scope string, visitors bool, from time.Time, change func(*evalState)) (*healthcode.Impact, error) {
	db, ctx := t.db, t.ctx
	at := t.now
	if from.After(at) {
		at = from
	}
	imp := &healthcode.Impact{Colours: map[string]map[string]int64{}}
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids, err := t.scopeResidents(scope, visitors, cursor, db.jobChunk)
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
func (t *Tx) alertMassChange(imp *healthcode.Impact, subject, jurisdiction, firstRole, first, approver string) error {
	if !healthcode.MassChange(imp, t.db.limits.MassChange) {
		return nil
	}
	return t.raiseAlert("", healthcode.AlertMassChange, subject, jurisdiction, map[string]any{
		"changed": imp.Changed, "residents": imp.Residents, "colours": imp.Colours, "threshold": t.db.limits.MassChange,
		firstRole: first, "approved_by": approver,
	})
}
