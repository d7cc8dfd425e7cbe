package rules

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/healthcode/healthcode"
)

// Input is what a code is computed from.
type Input struct {
	Facts []healthcode.Fact // the active facts of one resident; pending and retracted facts are ignored
	Areas []healthcode.Fact // risk_area facts for the areas in the resident's visits (or areas covering them)
	Now   time.Time
	// Decoded, if not nil, holds facts ValidateFactDecoded decoded, by
	// Fact.Key: a fact of Facts or Areas with the same key, kind, subject,
	// observation time and payload as one of them is not decoded again.
	Decoded map[string]*Decoded
}

// Result is a computed code and why.
type Result struct {
	Colour healthcode.Colour
	Rule   string            // the matched rule's id; "" when green because no rule matched
	Reason map[string]string // "zh-CN" and "en"; shared, do not modify
	// FactIDs are the facts the matched rule rests on, sorted; see cite.
	FactIDs []string
	// NextChange is the earliest time after Now at which the result could
	// change as facts age into or out of windows (with EvaluateExact: at
	// which it does change), or zero if never.
	NextChange time.Time
	// Omitted counts, by kind, the facts within their windows that the
	// evaluation left out because the resident has more than Kind.Max
	// (see bound); nil if none was.
	Omitted map[string]int
	// Crowded lists the kinds of which the resident has at least three
	// quarters of Kind.Max within their windows.
	Crowded []Crowding
}

var greenReason = map[string]string{"zh-CN": "未命中任何赋码规则", "en": "No rule applies"}

// NoRuleReason is the reason of a green code that no rule gave, by
// language; one message of the shared map.
func NoRuleReason(lang string) string { return greenReason[lang] }

// Prepared is one resident's input decoded once, so that it can be
// evaluated against several rulesets without decoding again. It is not
// safe for concurrent use: an evaluation keeps its state in it (the cost
// budget, the activation its checks reuse).
type Prepared struct {
	facts []*decoded // person facts, sorted by window start then id
	areas []*decoded // risk areas, sorted likewise
	now   time.Time
	act   *activation
	// scratch is the activation scratchAt reuses.
	scratch *activation
}

// Prepare decodes an input for EvaluatePrepared. It fails if a fact does
// not fit the schema (facts in the store have been validated, so that is an
// internal error) or a fact is in the wrong list.
func Prepare(in Input) (*Prepared, error) {
	var facts, areas []*decoded
	for i := range in.Facts {
		f := new(healthcode.Fact)
		*f = in.Facts[i] // a copy: the Prepared must not change with the caller's slice
		if f.Status == healthcode.FactPending || f.Status == healthcode.FactRetracted {
			continue
		}
		d, err := decodeWith(f, in.Decoded)
		if err != nil {
			return nil, fmt.Errorf("fact %s: %w", f.ID, err)
		}
		if kinds[d.kind].Area {
			return nil, fmt.Errorf("fact %s: a %s fact belongs in Input.Areas", f.ID, f.Kind)
		}
		facts = append(facts, d)
	}
	for i := range in.Areas {
		f := new(healthcode.Fact)
		*f = in.Areas[i]
		if f.Status == healthcode.FactPending || f.Status == healthcode.FactRetracted {
			continue
		}
		d, err := decodeWith(f, in.Decoded)
		if err != nil {
			return nil, fmt.Errorf("area fact %s: %w", f.ID, err)
		}
		if !kinds[d.kind].Area {
			return nil, fmt.Errorf("area fact %s: a %s fact belongs in Input.Facts", f.ID, f.Kind)
		}
		areas = append(areas, d)
	}
	p := newPrepared(facts, areas)
	p.now = in.Now.UTC()
	p.act = p.at(p.now)
	return p, nil
}

func newPrepared(facts, areas []*decoded) *Prepared {
	for _, ds := range [][]*decoded{facts, areas} {
		slices.SortFunc(ds, func(a, b *decoded) int {
			if c := a.from.Compare(b.from); c != 0 {
				return c
			}
			return strings.Compare(a.fact.ID, b.fact.ID)
		})
		for _, d := range ds {
			d.obj = &object{d: d}
		}
	}
	return &Prepared{facts: facts, areas: areas}
}

// activation is the variables of one evaluation.
type activation struct {
	facts factsObject
	lists [][]*decoded // in-window person facts per kind, at most Kind.Max (see bound)
	// omitted counts the in-window facts per kind that bound left out;
	// seen counts every in-window fact per kind, left out or not.
	omitted, seen []int
	areas         ref.Val
	byKey         map[string][]*decoded // designations per visited area code
	now           ref.Val               // a types.Timestamp, boxed once
	mask          uint32                // the kinds with facts in window, a bit per kind index
	budget        budget                // what the combined program's evaluation may still spend (budget.go)
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "facts":
		return &a.facts, true
	case "areas":
		return a.areas, true
	case "now":
		return a.now, true
	case budgetName:
		return &a.budget, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

var (
	emptyList  = types.NewRefValList(types.DefaultTypeAdapter, nil)
	emptyAreas = types.NewRefValMap(types.DefaultTypeAdapter, map[ref.Val]ref.Val{})
)

// at builds the variables for an evaluation at now.
func (p *Prepared) at(now time.Time) *activation { return p.fill(new(activation), now) }

// scratchAt is at in an activation that p reuses: valid until the next
// call. An exact evaluation checks many times (nextChange), each needing
// the variables only while it runs.
func (p *Prepared) scratchAt(now time.Time) *activation {
	if p.scratch == nil {
		p.scratch = new(activation)
	}
	return p.fill(p.scratch, now)
}

// fill sets a to the variables for an evaluation at now, reusing a's
// storage.
func (p *Prepared) fill(a *activation, now time.Time) *activation {
	n := len(kinds)
	if a.lists == nil {
		a.lists = make([][]*decoded, n)
		counts := make([]int, 2*n) // one allocation for both
		a.omitted, a.seen = counts[:n:n], counts[n:]
	} else {
		for k := range a.lists {
			a.lists[k] = a.lists[k][:0]
		}
		clear(a.omitted)
		clear(a.seen)
		clear(a.byKey)
	}
	a.now = types.Timestamp{Time: now}
	for _, d := range p.facts {
		if d.in(now) {
			a.lists[d.kind] = append(a.lists[d.kind], d)
		}
	}
	for k, ds := range a.lists {
		a.seen[k] = len(ds)
		a.lists[k], a.omitted[k] = bound(ds, kinds[k].Max)
	}
	ra := kindIndex(KindRiskArea)
	visit := kindIndex(KindAreaVisit)
	for _, v := range a.lists[visit] {
		if _, ok := a.byKey[v.area]; ok {
			continue
		}
		if a.byKey == nil {
			a.byKey = map[string][]*decoded{}
		}
		var ds []*decoded
		for _, d := range p.areas {
			if d.in(now) && healthcode.Covers(d.area, v.area) {
				ds = append(ds, d)
			}
		}
		n := len(ds)
		ds, left := bound(ds, kinds[ra].Max)
		a.seen[ra], a.omitted[ra] = max(a.seen[ra], n), max(a.omitted[ra], left)
		a.byKey[v.area] = ds
	}
	a.build()
	return a
}

// build makes the CEL values from lists and byKey.
func (a *activation) build() {
	a.mask = 0
	if a.facts.lists == nil {
		a.facts.lists = make([]ref.Val, len(kinds))
	}
	for k, ds := range a.lists {
		a.facts.lists[k] = objects(ds)
		if len(ds) > 0 {
			a.mask |= 1 << k
		}
	}
	if len(a.byKey) == 0 {
		a.areas = emptyAreas
		return
	}
	m := make(map[ref.Val]ref.Val, len(a.byKey))
	for key, ds := range a.byKey {
		m[types.String(key)] = objects(ds)
		if len(ds) > 0 {
			a.mask |= 1 << kindIndex(KindRiskArea)
		}
	}
	a.areas = types.NewRefValMap(types.DefaultTypeAdapter, m)
}

// NearBound is the fraction of Kind.Max (three quarters) at which a
// resident's facts of a kind crowd their bound: Result.Crowded names it,
// and the store raises an alert.
const (
	nearBoundNum, nearBoundDen = 3, 4
)

// bound keeps at most max of ds (sorted by window start, then id): the most
// recent facts, shared fairly among their origins (sources or recording
// officials). Round by round it takes each origin's next most recent fact,
// newest first, until max are taken; so one origin that files many facts
// crowds out only its own older ones, never another origin's, unless max
// origins each have a fact. The result keeps ds's order; omitted is how
// many were left out. Every rule's worst-case cost (Kind.Max, cost.go)
// thus holds without refusing a fact because others fill its window.
func bound(ds []*decoded, max int) (kept []*decoded, omitted int) {
	if len(ds) <= max {
		return ds, 0
	}
	var origins []string
	byOrigin := map[string][]*decoded{}
	for i := len(ds) - 1; i >= 0; i-- { // newest first
		o := ds[i].fact.Origin()
		if _, ok := byOrigin[o]; !ok {
			origins = append(origins, o)
		}
		byOrigin[o] = append(byOrigin[o], ds[i])
	}
	keep := make(map[*decoded]bool, max)
	for round := 0; len(keep) < max; round++ {
		var next []*decoded
		for _, o := range origins {
			if g := byOrigin[o]; round < len(g) {
				next = append(next, g[round])
			}
		}
		slices.SortFunc(next, func(a, b *decoded) int {
			if c := b.from.Compare(a.from); c != 0 {
				return c
			}
			return strings.Compare(b.fact.ID, a.fact.ID)
		})
		for _, d := range next[:min(len(next), max-len(keep))] {
			keep[d] = true
		}
	}
	kept = make([]*decoded, 0, max)
	for _, d := range ds {
		if keep[d] {
			kept = append(kept, d)
		}
	}
	return kept, len(ds) - len(kept)
}

// Crowding is a kind of fact of which a resident has, within their
// windows, at least three quarters of Kind.Max (for risk_area: covering
// one visited area).
type Crowding struct {
	Kind     string
	InWindow int // facts of the kind in their windows
	Max      int // Kind.Max
	Omitted  int // left out of the evaluation: InWindow - Max, or 0
	// Origin is the source or official with the most of them, and
	// FromOrigin how many that is.
	Origin     string
	FromOrigin int
}

// crowding reports the kinds of which a has near or more than Kind.Max.
func (a *activation) crowding(p *Prepared) []Crowding {
	var out []Crowding
	for k, n := range a.seen {
		max := kinds[k].Max
		if n*nearBoundDen < max*nearBoundNum {
			continue
		}
		count := map[string]int{}
		for _, ds := range [][]*decoded{p.facts, p.areas} {
			for _, d := range ds {
				if d.kind == k && d.in(a.now.(types.Timestamp).Time) {
					count[d.fact.Origin()]++
				}
			}
		}
		c := Crowding{Kind: kinds[k].Name, InWindow: n, Max: max, Omitted: a.omitted[k]}
		for o, m := range count {
			if m > c.FromOrigin || m == c.FromOrigin && o < c.Origin {
				c.Origin, c.FromOrigin = o, m
			}
		}
		out = append(out, c)
	}
	return out
}

func objects(ds []*decoded) ref.Val {
	if len(ds) == 0 {
		return emptyList
	}
	vs := make([]ref.Val, len(ds))
	for i, d := range ds {
		vs[i] = d.obj
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vs)
}

// restrict returns a copy of a in which the facts of kind k are only ds.
func (a *activation) restrict(k int, ds []*decoded) *activation {
	b := &activation{lists: slices.Clone(a.lists), byKey: a.byKey, now: a.now, omitted: a.omitted, seen: a.seen}
	if kinds[k].Area {
		b.byKey = make(map[string][]*decoded, len(a.byKey))
		for key, all := range a.byKey {
			var keep []*decoded
			for _, d := range all {
				if slices.Contains(ds, d) {
					keep = append(keep, d)
				}
			}
			b.byKey[key] = keep
		}
	} else {
		b.lists[k] = ds
	}
	b.build()
	return b
}

// inWindow returns the facts of kind k that an evaluation saw.
func (a *activation) inWindow(k int) []*decoded {
	if !kinds[k].Area {
		return a.lists[k]
	}
	var out []*decoded
	for _, ds := range a.byKey {
		for _, d := range ds {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// failedRule matches a rule's run-time error as rule.eval words it.
var failedRule = regexp.MustCompile(`^(\S+:[0-9]+: rule \S+): `)

// FailedRule is the place ("henan-health-code@2:20: rule case": the
// ruleset file, the line and the rule's id) that a rule's run-time error,
// as Evaluate words it, names; "" if msg is not such an error. The rest of
// the error may quote the resident's facts ("no such key: confirmed"); the
// place names no one.
func FailedRule(msg string) string {
	if m := failedRule.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

func (r *rule) eval(a *activation) (bool, error) {
	out, _, err := r.prg.Eval(a)
	if err != nil {
		return false, fmt.Errorf("%s:%d: rule %s: %w", r.file, r.Line, r.ID, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("rule %s: condition gave %v, not a bool", r.ID, out)
	}
	return bool(b), nil
}

// Evaluate computes a resident's code: the most severe matching rule wins,
// the first in file order among equally severe ones; no match is green.
// The result depends only on the ruleset and the input.
func (rs *Ruleset) Evaluate(in Input) (Result, error) {
	p, err := Prepare(in)
	if err != nil {
		return Result{}, err
	}
	return rs.EvaluatePrepared(p)
}

// EvaluatePrepared is Evaluate on a prepared input.
//
// A rule can match only a resident who has facts of a kind it reads, so
// only those rules are evaluated.
func (rs *Ruleset) EvaluatePrepared(p *Prepared) (Result, error) {
	return rs.evaluate(p, 0)
}

// EvaluateExact is Evaluate with an exact NextChange: the time at which
// the result does change (or zero: never), found by evaluating at up to
// maxNextChecks candidate times, rather than the first time at which it
// could. It costs a few evaluations more; it saves re-evaluating a
// resident whose facts leave their windows without changing the code.
func (rs *Ruleset) EvaluateExact(in Input) (Result, error) {
	p, err := Prepare(in)
	if err != nil {
		return Result{}, err
	}
	return rs.evaluate(p, maxNextChecks)
}

// evaluate is EvaluatePrepared, checking up to checks candidate times for
// NextChange (see nextChange).
func (rs *Ruleset) evaluate(p *Prepared, checks int) (Result, error) {
	r, err := rs.match(p.act)
	if err != nil {
		return Result{}, err
	}
	res := Result{Colour: healthcode.Green, Reason: greenReason}
	if r != nil {
		res.Colour, res.Rule, res.Reason = r.Colour, r.ID, r.Reason
		if res.FactIDs, err = cite(r, p.act); err != nil {
			return Result{}, err
		}
	}
	if res.NextChange, err = rs.nextChange(p, r, res.FactIDs, checks); err != nil {
		return Result{}, err
	}
	for k, n := range p.act.omitted {
		if n > 0 && rs.kinds[k] {
			if res.Omitted == nil {
				res.Omitted = map[string]int{}
			}
			res.Omitted[kinds[k].Name] = n
		}
	}
	res.Crowded = p.act.crowding(p)
	return res, nil
}

// match returns the first matching rule in evaluation order, or nil.
func (rs *Ruleset) match(a *activation) (*rule, error) {
	c, err := rs.combinedFor(a.mask)
	if err != nil {
		return nil, fmt.Errorf("ruleset %s: %w", rs.id, err)
	}
	if c.prg == nil {
		return nil, nil
	}
	a.budget.left = budgetLimit
	out, _, err := c.prg.Eval(a)
	if err != nil {
		// Find the rule at fault.
		for _, r := range c.rules {
			if _, err := r.eval(a); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("ruleset %s: %w", rs.id, err)
	}
	i, ok := out.(types.Int)
	if !ok || int(i) >= len(c.rules) {
		return nil, fmt.Errorf("ruleset %s: combined rules gave %v", rs.id, out)
	}
	if i < 0 {
		return nil, nil
	}
	return c.rules[i], nil
}

// cite returns the facts a matched rule rests on. For each kind K the
// condition reads, a fact of kind K is evidence on its own if the condition
// holds when the resident's facts of kind K are only that fact, all other
// facts unchanged. Such a fact f is cited if the condition still holds when
// the facts of kind K are f and the facts of kind K that are not evidence
// on their own: so a positive antigen test that a later negative PCR test
// overrides is not cited, nor is the negative test, and with two positive
// tests both are. If no fact is cited (a rule that counts facts), every
// fact of the kinds the condition reads is cited.
func cite(r *rule, a *activation) ([]string, error) {
	var ids []string
	for _, k := range r.kinds {
		var evidence, context []*decoded
		for _, d := range a.inWindow(k) {
			ok, err := r.eval(a.restrict(k, []*decoded{d}))
			if err != nil {
				return nil, err
			}
			if ok {
				evidence = append(evidence, d)
			} else {
				context = append(context, d)
			}
		}
		for _, d := range evidence {
			ok := true
			if len(context) > 0 {
				var err error
				ok, err = r.eval(a.restrict(k, append([]*decoded{d}, context...)))
				if err != nil {
					return nil, err
				}
			}
			if ok {
				ids = append(ids, d.fact.ID)
			}
		}
	}
	if len(ids) == 0 {
		for _, k := range r.kinds {
			for _, d := range a.inWindow(k) {
				ids = append(ids, d.fact.ID)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// maxNextChecks is how many candidate times EvaluateExact tries.
const maxNextChecks = 16

// nextChange is the next time after p.now at which the result (rule and
// cited facts) may change. The result can change only at a candidate (see
// candidateAfter) or just after one. With checks = 0 it is the first
// candidate: a time at which the result could change. Otherwise
// nextChange evaluates at up to checks candidates in turn, and just after
// each, and returns the first time the result differs, zero if it never
// does, or, past checks candidates, the next one.
func (rs *Ruleset) nextChange(p *Prepared, matched *rule, cited []string, checks int) (time.Time, error) {
	now := p.now.UnixNano()
	t, onBoundary := rs.candidateAfter(p, now)
	// A condition like now - t <= d flips just after t + d: if now is on
	// such a boundary, look a nanosecond ahead.
	if onBoundary {
		if d, err := rs.differs(p, now+1, matched, cited); err != nil || d {
			return time.Unix(0, now+1).UTC(), err
		}
	}
	for range checks {
		if t == math.MaxInt64 {
			break
		}
		for _, c := range [2]int64{t, t + 1} {
			if d, err := rs.differs(p, c, matched, cited); err != nil || d {
				return time.Unix(0, c).UTC(), err
			}
		}
		t, _ = rs.candidateAfter(p, t)
	}
	if t == math.MaxInt64 {
		return time.Time{}, nil
	}
	return time.Unix(0, t).UTC(), nil
}

// differs reports whether the result at time at (Unix nanoseconds) has
// another rule or cites other facts.
func (rs *Ruleset) differs(p *Prepared, at int64, matched *rule, cited []string) (bool, error) {
	a := p.scratchAt(time.Unix(0, at).UTC())
	r, err := rs.match(a)
	if err != nil || r != matched {
		return true, err
	}
	if r == nil {
		return false, nil
	}
	ids, err := cite(r, a)
	return !slices.Equal(ids, cited), err
}

// candidateAfter is the earliest time after t (Unix nanoseconds;
// math.MaxInt64 if none) at which a fact of a kind the ruleset reads
// enters or leaves its window, or, for rules that read now, at which now
// passes one of the times of a fact in its window at t plus or minus one
// of the ruleset's duration literals, or one of its timestamp literals.
// Conditions compare now with such times, so the result cannot change
// between t and then (except just after t, if t is itself such a time:
// onBoundary). (A condition that reads now in another way, like
// now.getHours(), defeats this; the default ruleset has none.)
func (rs *Ruleset) candidateAfter(p *Prepared, now int64) (best int64, onBoundary bool) {
	best = math.MaxInt64
	for _, ds := range [][]*decoded{p.facts, p.areas} {
		for _, d := range ds {
			if !rs.kinds[d.kind] {
				continue
			}
			if d.fromN > now && d.fromN < best {
				best = d.fromN
			}
			if d.untilN > now && d.untilN < best {
				best = d.untilN
			}
			if !rs.nowKinds[d.kind] || d.fromN > now || d.untilN <= now {
				continue
			}
			for _, t := range d.nanos {
				onBoundary = onBoundary || t == now
				if t > now && t < best {
					best = t
				}
				for _, dur := range rs.durations {
					for _, c := range [2]int64{t + dur, t - dur} {
						onBoundary = onBoundary || c == now
						if c > now && c < best {
							best = c
						}
					}
				}
			}
		}
	}
	for _, t := range rs.instants {
		onBoundary = onBoundary || t == now
		if t > now && t < best {
			best = t
		}
	}
	return best, onBoundary
}

// Raises reports whether adding the fact f to the input would make the
// resident's code more severe: the test for the two-person rule on
// hand-entered facts. A risk_area fact is added to the areas.
func Raises(rs *Ruleset, in Input, f healthcode.Fact) (bool, error) {
	r, _, err := RaisesEach(rs, in, []healthcode.Fact{f})
	if err != nil {
		return false, err
	}
	return r[0], nil
}

// RaisesEach is Raises for each of facts alone (the others not added),
// evaluating the input without them once. until is the earliest time
// after in.Now at which one of the answers could change as facts age, or
// zero if never.
func RaisesEach(rs *Ruleset, in Input, facts []healthcode.Fact) (raises []bool, until time.Time, err error) {
	before, err := rs.Evaluate(in)
	if err != nil {
		return nil, time.Time{}, err
	}
	until = before.NextChange
	raises = make([]bool, len(facts))
	for i, f := range facts {
		after, err := rs.Evaluate(With(in, f))
		if err != nil {
			return nil, time.Time{}, err
		}
		until = Earlier(until, after.NextChange)
		raises[i] = after.Colour.Severity() > before.Colour.Severity()
	}
	return raises, until, nil
}

// With is the input with the fact f added, active: to the areas if it is
// a risk_area fact, else to the facts. in's slices are not changed.
func With(in Input, f healthcode.Fact) Input {
	f.Status = healthcode.FactActive
	if f.Kind == KindRiskArea {
		in.Areas = append(slices.Clip(in.Areas), f)
	} else {
		in.Facts = append(slices.Clip(in.Facts), f)
	}
	return in
}

// Earlier is the earlier of two NextChange times, where zero is never.
func Earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
