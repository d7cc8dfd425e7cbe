package store

// Whether a source's fact raises a code: the raises of its fact.recorded
// entry's public view (docs/log.md), so that auditors count raising facts
// per source and hour from the public log, as they do per official. A
// source's facts are never held, so nothing else needs the answer; it is
// computed where the batch is evaluated anyway: in its snapshot, outside
// the committer (factSnapshot), or in the transaction when the snapshot no
// longer holds for the resident.

import (
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// raisingAnswers are the raises of a batch's new facts about persons,
// by fact key, and, per resident, the ruleset that answered (nil: none
// applies) and the earliest time an answer could change (zero: never).
type raisingAnswers struct {
	raises   map[string]bool
	rulesets map[string]*rules.Ruleset
	until    map[string]time.Time
}

// raising answers, for fresh (new facts about persons, none of them
// stored; st's facts may include them), whether each alone makes its
// resident's code more severe under the ruleset in force at now, added
// to the resident's stored active facts without the batch's others, with
// the risk areas that count for them (none held for them: their code's
// evaluation leaves those out too). A resident whose evaluation fails
// gets no answers: their facts' raises stay unknown (the
// evaluation.failed entry that follows says why).
//
// with, if not nil, are st's own evaluations at now of the residents
// with the batch's facts (the snapshot's): for a resident with one new
// fact that evaluation is the one "with the fact", so only the one
// without it is left to do. And the evaluation without is the same for
// every resident with no stored active facts and no designation held
// (the batch's areas are shared), so it is done once per ruleset.
func (st *evalState) raising(fresh []healthcode.Fact, now time.Time, with *batchEvals) raisingAnswers {
	a := raisingAnswers{raises: make(map[string]bool, len(fresh)), rulesets: map[string]*rules.Ruleset{}, until: map[string]time.Time{}}
	batch := make(map[string]bool, len(fresh))
	bySubject := map[string][]healthcode.Fact{}
	var order []string
	for _, f := range fresh {
		batch[f.Key] = true
		if bySubject[f.Subject] == nil {
			order = append(order, f.Subject)
		}
		bySubject[f.Subject] = append(bySubject[f.Subject], forEval(f))
	}
	nothing := map[*rules.Ruleset]evalOutcome{} // the evaluation without facts, per ruleset
	for _, id := range order {
		fs := bySubject[id]
		rs := applicable(st.list, st.homes[id], now)
		a.rulesets[id] = rs
		if rs == nil {
			for _, f := range fs {
				a.raises[f.Key] = false
			}
			continue
		}
		var base []healthcode.Fact
		for _, f := range st.facts[id] {
			if !batch[f.Key] {
				base = append(base, f)
			}
		}
		areas := withoutHeld(st.areas, st.held[id])
		in := rules.Input{Facts: base, Areas: areas, Now: now, Decoded: st.decoded}
		var before evalOutcome
		if len(base) == 0 && len(areas) == len(st.areas) {
			var ok bool
			if before, ok = nothing[rs]; !ok {
				before.res, before.err = rs.Evaluate(in)
				nothing[rs] = before
			}
		} else {
			before.res, before.err = rs.Evaluate(in)
		}
		if before.err != nil {
			continue
		}
		until := before.res.NextChange
		raises := make([]bool, len(fs))
		failed := false
		for i, f := range fs {
			after, ok := with.only(id, fs)
			if !ok {
				after.res, after.err = rs.Evaluate(rules.With(in, f))
			}
			if after.err != nil {
				failed = true
				break
			}
			until = rules.Earlier(until, after.res.NextChange)
			raises[i] = after.res.Colour.Severity() > before.res.Colour.Severity()
		}
		if failed {
			continue
		}
		a.until[id] = until
		for i, f := range fs {
			a.raises[f.Key] = raises[i]
		}
	}
	return a
}

// evalOutcome is one evaluation's result or error.
type evalOutcome struct {
	res rules.Result
	err error
}

// batchEvals are an evalState's evaluations of ids (sorted) at one time,
// with everything the state holds (see evalState.run).
type batchEvals struct {
	ids     []string
	results []rules.Result
	errs    []error
}

// only returns e's evaluation of resident id if it is the evaluation of
// their stored facts with fs, their one new fact, added. A failed
// evaluation is not returned (it was exact, the one asked for is not).
func (e *batchEvals) only(id string, fs []healthcode.Fact) (evalOutcome, bool) {
	if e == nil || len(fs) != 1 {
		return evalOutcome{}, false
	}
	i, ok := slices.BinarySearch(e.ids, id)
	if !ok || e.errs[i] != nil {
		return evalOutcome{}, false
	}
	return evalOutcome{res: e.results[i]}, true
}

// holds reports whether the answers for resident id, found at time at,
// are still the answers at now.
func (a *raisingAnswers) holds(id string, list []*rules.Ruleset, home string, at, now time.Time) bool {
	rs, ok := a.rulesets[id]
	if !ok || now.Before(at) {
		return false
	}
	if rs != nil {
		if _, answered := a.until[id]; !answered {
			return false
		}
	}
	if u := a.until[id]; !u.IsZero() && !now.Before(u) {
		return false
	}
	cur := applicable(list, home, now)
	return cur == rs || cur != nil && rs != nil && cur.ID() == rs.ID() && cur.Version() == rs.Version()
}

// sourceRaising answers raises for the new facts (fresh, indices into
// facts) of a source's batch in the transaction: from the snapshot for
// the residents whose chains have not moved since (current, nil when the
// snapshot is not current at all) where its answers still hold, by evaluating afresh for the others, and for a
// designation as for an official's (raisesArea).
func (t *Tx) sourceRaising(facts []healthcode.Fact, fresh []int, snap *factSnapshot, current map[string]bool) (map[string]bool, error) {
	out := make(map[string]bool, len(fresh))
	var rest []healthcode.Fact
	for _, i := range fresh {
		f := &facts[i]
		if rules.IsAreaKind(f.Kind) {
			r, err := t.raises(f)
			if err != nil {
				return nil, err
			}
			out[f.Key] = r
			continue
		}
		if current[f.Subject] && snap.eval != nil && snap.raising.holds(f.Subject, snap.eval.list, snap.homes[f.Subject], snap.at, t.now) {
			if r, ok := snap.raising.raises[f.Key]; ok {
				out[f.Key] = r
				continue
			}
		}
		rest = append(rest, *f)
	}
	if len(rest) == 0 {
		return out, nil
	}
	ids := make([]string, len(rest))
	for i := range rest {
		ids[i] = rest[i].Subject
	}
	st, err := t.loadEval(sortedUniq(ids), false, nil, rest)
	if err != nil {
		return nil, err
	}
	a := st.raising(rest, t.now, nil)
	for k, r := range a.raises {
		out[k] = r
	}
	return out, nil
}
