package store

import (
	"context"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// outlook reads a resident's evaluation input in a read snapshot and
// computes their outlook at now.
func (db *DB) outlook(ctx context.Context, id, home string) (*healthcode.Outlook, error) {
	tx, err := db.db.BeginTx(ctx, db.dialect.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer tx.Rollback()
	t := &Tx{db: db, tx: tx, ctx: ctx, now: db.nowMs(), b: &batch{subjects: map[string]subjectHead{}}}
	list, err := db.published(ctx, tx)
	if err != nil {
		return nil, err
	}
	in, err := t.input(id)
	if err != nil {
		return nil, err
	}
	return outlookOf(list, home, in)
}

// outlookOf is the outlook of in for a resident living in home under the
// published rulesets list (in rulesetOrder): under the ruleset in force
// at in.Now, then, if another takes effect before the colour changes,
// from that time under that one, and so on.
func outlookOf(list []*rules.Ruleset, home string, in rules.Input) (*healthcode.Outlook, error) {
	out := &healthcode.Outlook{Holding: []healthcode.HoldingRule{}}
	var colour healthcode.Colour
	for first := true; ; first = false {
		rs := applicable(list, home, in.Now)
		o := rules.Outlook{Colour: healthcode.Green}
		if rs != nil {
			var err error
			if o, err = rs.Outlook(in); err != nil {
				return nil, fmt.Errorf("outlook under %s v%d: %w", rs.ID(), rs.Version(), err)
			}
		}
		if first {
			colour = o.Colour
			for _, h := range o.Holding {
				out.Holding = append(out.Holding, healthcode.HoldingRule{Rule: h.ID, Colour: h.Colour, Reason: h.Reason, Until: timePtr(h.Until)})
			}
		} else if o.Colour != colour {
			// The new ruleset changes the colour as it takes effect.
			out.ChangeAt, out.Next = timePtr(in.Now), o.Colour
			return out, nil
		}
		next, ok := nextEffective(list, home, in.Now)
		if ok && (o.ChangeAt.IsZero() || next.Before(o.ChangeAt)) {
			in.Now = next
			continue
		}
		if !o.ChangeAt.IsZero() {
			out.ChangeAt, out.Next, out.NotBefore = timePtr(o.ChangeAt), o.Next.Colour, o.NotBefore
		}
		return out, nil
	}
}

// nextEffective is the earliest time after now at which a published
// ruleset covering home takes effect.
func nextEffective(list []*rules.Ruleset, home string, now time.Time) (time.Time, bool) {
	var best time.Time
	for _, rs := range list {
		if e := rs.EffectiveAt(); e.After(now) && healthcode.Covers(rs.Scope(), home) && (best.IsZero() || e.Before(best)) {
			best = e
		}
	}
	return best, !best.IsZero()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
