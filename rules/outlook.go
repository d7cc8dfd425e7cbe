package rules

import (
	"math"
	"time"

	"github.com/healthcode/healthcode"
)

// Outlook is what would happen to a code if nothing new were recorded:
// the rules that hold now and when each stops holding, and the earliest
// time the colour changes. It is computed by evaluating the ruleset at the
// times at which the facts' windows, and the times the rules compare now
// with, could change a result (candidateAfter), not estimated.
type Outlook struct {
	// Colour is the colour the ruleset gives at Input.Now.
	Colour healthcode.Colour
	// Holding are the rules that hold at Input.Now, in evaluation order
	// (most severe first), each with its own text.
	Holding []Holding
	// ChangeAt is the earliest time after Input.Now at which Evaluate
	// gives another colour, or zero if the facts never let it change.
	// Next is the result from then on.
	ChangeAt time.Time
	Next     Result
	// NotBefore says no change was found within maxOutlookChecks
	// candidate times: ChangeAt is then the last time checked, and the
	// colour changes, if ever, only after it.
	NotBefore bool
}

// Holding is a rule that holds, and until when.
type Holding struct {
	Rule
	// Until is the earliest time after Input.Now at which the rule no
	// longer holds, or zero if the facts never let it end (a confirmed
	// case until a recovery is recorded) or no end was found within the
	// candidate times checked.
	Until time.Time
}

// maxOutlookChecks bounds the candidate times Outlook evaluates at: each
// costs two evaluations, and a resident's facts within their windows are
// bounded (Kind.Max), so this covers every window boundary of a resident
// with a few dozen facts.
const maxOutlookChecks = 64

// Outlook computes in's outlook under rs. Facts that would take effect
// later (a quarantine that starts tomorrow) count from their windows'
// start, as Evaluate would count them then.
func (rs *Ruleset) Outlook(in Input) (Outlook, error) {
	p, err := Prepare(in)
	if err != nil {
		return Outlook{}, err
	}
	r0, err := rs.match(p.act)
	if err != nil {
		return Outlook{}, err
	}
	o := Outlook{Colour: colourOf(r0)}
	type held struct {
		i int // index into o.Holding
		r *rule
	}
	var open []held // the rules still holding
	for _, r := range rs.order {
		ok, err := r.eval(p.act)
		if err != nil {
			return Outlook{}, err
		}
		if ok {
			open = append(open, held{len(o.Holding), r})
			pub := r.Rule
			pub.Reason = map[string]string{"zh-CN": r.Reason["zh-CN"], "en": r.Reason["en"]}
			o.Holding = append(o.Holding, Holding{Rule: pub})
		}
	}
	now := p.now.UnixNano()
	// check evaluates at c: the colour, then which open rules have ended.
	// It reports whether there is nothing left to find.
	check := func(c int64) (bool, error) {
		at := time.Unix(0, c).UTC()
		a := p.at(at)
		if o.ChangeAt.IsZero() {
			r, err := rs.match(a)
			if err != nil {
				return false, err
			}
			if colourOf(r) != o.Colour {
				o.ChangeAt = at
				if o.Next, err = rs.resultAt(r, a); err != nil {
					return false, err
				}
			}
		}
		still := open[:0]
		for _, h := range open {
			ok, err := h.r.eval(a)
			if err != nil {
				return false, err
			}
			if ok {
				still = append(still, h)
			} else {
				o.Holding[h.i].Until = at
			}
		}
		open = still
		return !o.ChangeAt.IsZero() && len(open) == 0, nil
	}
	t, onBoundary := rs.candidateAfter(p, now)
	if onBoundary {
		if done, err := check(now + 1); err != nil || done {
			return o, err
		}
	}
	for range maxOutlookChecks {
		if t == math.MaxInt64 {
			return o, nil
		}
		for _, c := range [2]int64{t, t + 1} {
			if done, err := check(c); err != nil || done {
				return o, err
			}
		}
		t, _ = rs.candidateAfter(p, t)
	}
	if o.ChangeAt.IsZero() && t != math.MaxInt64 {
		o.ChangeAt, o.NotBefore = time.Unix(0, t).UTC(), true
	}
	return o, nil
}

// resultAt is the result of a match r in activation a, as evaluate gives
// it (without NextChange).
func (rs *Ruleset) resultAt(r *rule, a *activation) (Result, error) {
	res := Result{Colour: healthcode.Green, Reason: greenReason}
	if r == nil {
		return res, nil
	}
	res.Colour, res.Rule, res.Reason = r.Colour, r.ID, r.Reason
	var err error
	res.FactIDs, err = cite(r, a)
	return res, err
}

func colourOf(r *rule) healthcode.Colour {
	if r == nil {
		return healthcode.Green
	}
	return r.Colour
}
