package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/healthcode/healthcode"
)

type evalCase struct {
	name   string
	facts  []healthcode.Fact
	areas  []healthcode.Fact
	now    time.Time
	colour healthcode.Colour
	rule   string
	ids    []string
	next   time.Time // checked when not zero
	exact  time.Time // EvaluateExact's NextChange when not next
	never  bool      // the result never changes: EvaluateExact's NextChange is zero
}

func defaultCases() []evalCase {
	day := 24 * time.Hour
	exp := at(1, 8, 0)
	conf := caseStatus("s1", "confirmed", "HN-1", at(1, 10, 0))
	hv := visit("a1", "410102001001", at(1, 9, 0), at(1, 18, 0))
	high := riskArea("r1", "410102001", "high", at(1, 12, 0), at(8, 12, 0))
	pending := contact("c9", "close", exp)
	pending.Status = healthcode.FactPending
	retracted := contact("c8", "close", exp)
	retracted.Status = healthcode.FactRetracted
	return []evalCase{
		{name: "no facts", now: at(2, 0, 0), colour: healthcode.Green},
		{name: "vaccinations are never read", facts: []healthcode.Fact{vaccination("v1", 1, at(1, 0, 0))}, now: at(2, 0, 0), colour: healthcode.Green},

		// case
		{name: "confirmed", facts: []healthcode.Fact{conf}, now: at(2, 0, 0), colour: healthcode.Red, rule: "case", ids: []string{"s1"}},
		{name: "asymptomatic", facts: []healthcode.Fact{caseStatus("s1", "asymptomatic", "HN-1", at(1, 10, 0))}, now: at(2, 0, 0), colour: healthcode.Red, rule: "case", ids: []string{"s1"}},
		{name: "confirmed then recovered", facts: []healthcode.Fact{conf, caseStatus("s2", "recovered", "HN-1", at(9, 10, 0))}, now: at(10, 0, 0), colour: healthcode.Green},
		{name: "confirmed then excluded", facts: []healthcode.Fact{conf, caseStatus("s2", "excluded", "HN-1", at(1, 11, 0))}, now: at(2, 0, 0), colour: healthcode.Green},
		{name: "another case recovered", facts: []healthcode.Fact{conf, caseStatus("s2", "recovered", "HN-2", at(1, 11, 0))}, now: at(2, 0, 0), colour: healthcode.Red, rule: "case", ids: []string{"s1"}},
		{name: "reinfection after recovery", facts: []healthcode.Fact{caseStatus("s0", "recovered", "HN-1", at(1, 9, 0)), conf}, now: at(2, 0, 0), colour: healthcode.Red, rule: "case", ids: []string{"s1"}},

		// close-contact
		{name: "close contact a minute inside 7 days", facts: []healthcode.Fact{contact("c1", "close", exp)}, now: exp.Add(7*day - time.Minute), colour: healthcode.Red, rule: "close-contact", ids: []string{"c1"}, next: exp.Add(7 * day)},
		{name: "close contact at 7 days", facts: []healthcode.Fact{contact("c1", "close", exp)}, now: exp.Add(7 * day), colour: healthcode.Green, next: exp.Add(14 * day), never: true}, // leaving the window at 14 days changes nothing
		{name: "close contact past its window", facts: []healthcode.Fact{contact("c1", "close", exp)}, now: exp.Add(14 * day), colour: healthcode.Green},
		{name: "pending and retracted facts are ignored", facts: []healthcode.Fact{pending, retracted}, now: at(2, 0, 0), colour: healthcode.Green},

		// high-risk-area
		{name: "stay overlapping a high-risk designation", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{high}, now: at(3, 12, 0), colour: healthcode.Red, rule: "high-risk-area", ids: []string{"a1", "r1"}, next: at(8, 9, 0), exact: at(8, 18, 0)}, // 7 days after leaving, not after arriving
		{name: "stay ending as the designation starts", facts: []healthcode.Fact{visit("a1", "410102001001", at(1, 9, 0), at(1, 12, 0))}, areas: []healthcode.Fact{high}, now: at(3, 12, 0), colour: healthcode.Red, rule: "high-risk-area", ids: []string{"a1", "r1"}},
		{name: "stay ending a second before the designation", facts: []healthcode.Fact{visit("a1", "410102001001", at(1, 9, 0), at(1, 12, 0).Add(-time.Second))}, areas: []healthcode.Fact{high}, now: at(3, 12, 0), colour: healthcode.Green},
		{name: "stay starting as the designation ends", facts: []healthcode.Fact{visit("a1", "410102001001", at(8, 12, 0), at(8, 13, 0))}, areas: []healthcode.Fact{high}, now: at(9, 12, 0), colour: healthcode.Green},
		{name: "high-risk stay a second inside 7 days", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{high}, now: at(8, 18, 0).Add(-time.Second), colour: healthcode.Red, rule: "high-risk-area", ids: []string{"a1", "r1"}, next: at(8, 18, 0)},
		{name: "high-risk stay at 7 days", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{high}, now: at(8, 18, 0), colour: healthcode.Green},
		{name: "designation of a covering county", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{riskArea("r2", "410102", "high", at(1, 0, 0), at(2, 0, 0))}, now: at(3, 12, 0), colour: healthcode.Red, rule: "high-risk-area", ids: []string{"a1", "r2"}},
		{name: "designation of another area", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{riskArea("r2", "410103", "high", at(1, 0, 0), at(2, 0, 0))}, now: at(3, 12, 0), colour: healthcode.Green},

		// positive-pcr
		{name: "positive PCR a second inside 14 days", facts: []healthcode.Fact{testResult("t1", "pcr", "positive", exp)}, now: exp.Add(14*day - time.Second), colour: healthcode.Red, rule: "positive-pcr", ids: []string{"t1"}, next: exp.Add(14 * day)},
		{name: "positive PCR at 14 days", facts: []healthcode.Fact{testResult("t1", "pcr", "positive", exp)}, now: exp.Add(14 * day), colour: healthcode.Green},
		{name: "two positive PCR tests are both cited", facts: []healthcode.Fact{testResult("t2", "pcr", "positive", exp.Add(day)), testResult("t1", "pcr", "positive", exp), testResult("t3", "pcr", "negative", exp.Add(2*day))}, now: exp.Add(3 * day), colour: healthcode.Red, rule: "positive-pcr", ids: []string{"t1", "t2"}},

		// secondary-contact, spatiotemporal
		{name: "secondary contact", facts: []healthcode.Fact{contact("c1", "secondary", exp)}, now: exp.Add(7*day - time.Second), colour: healthcode.Yellow, rule: "secondary-contact", ids: []string{"c1"}},
		{name: "secondary contact at 7 days", facts: []healthcode.Fact{contact("c1", "secondary", exp)}, now: exp.Add(7 * day), colour: healthcode.Green},
		{name: "spatio-temporal companion", facts: []healthcode.Fact{contact("c1", "spatiotemporal", exp)}, now: exp.Add(day), colour: healthcode.Yellow, rule: "spatiotemporal", ids: []string{"c1"}},
		{name: "spatio-temporal companion at 7 days", facts: []healthcode.Fact{contact("c1", "spatiotemporal", exp)}, now: exp.Add(7 * day), colour: healthcode.Green},

		// medium-risk-area
		{name: "stay in a medium-risk area", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{riskArea("r3", "410102001001", "medium", at(1, 0, 0), at(5, 0, 0)), riskArea("r4", "410102001001", "low", at(5, 0, 0), at(9, 0, 0))}, now: at(6, 0, 0), colour: healthcode.Yellow, rule: "medium-risk-area", ids: []string{"a1", "r3"}},
		{name: "stay in a low-risk area", facts: []healthcode.Fact{hv}, areas: []healthcode.Fact{riskArea("r4", "410102001001", "low", at(1, 0, 0), at(9, 0, 0))}, now: at(6, 0, 0), colour: healthcode.Green},

		// positive-antigen
		{name: "positive antigen", facts: []healthcode.Fact{testResult("t1", "antigen", "positive", exp), testResult("t0", "pcr", "negative", exp.Add(-time.Hour))}, now: exp.Add(time.Hour), colour: healthcode.Yellow, rule: "positive-antigen", ids: []string{"t1"}},
		{name: "positive antigen then negative PCR", facts: []healthcode.Fact{testResult("t1", "antigen", "positive", exp), testResult("t2", "pcr", "negative", exp.Add(time.Hour))}, now: exp.Add(2 * time.Hour), colour: healthcode.Green},
		{name: "positive antigen again after a negative PCR", facts: []healthcode.Fact{testResult("t1", "antigen", "positive", exp), testResult("t2", "pcr", "negative", exp.Add(time.Hour)), testResult("t3", "antigen", "positive", exp.Add(day))}, now: exp.Add(2 * day), colour: healthcode.Yellow, rule: "positive-antigen", ids: []string{"t3"}},
		{name: "positive antigen at 14 days", facts: []healthcode.Fact{testResult("t1", "antigen", "positive", exp)}, now: exp.Add(14 * day), colour: healthcode.Green},

		// suspected-case
		{name: "suspected", facts: []healthcode.Fact{caseStatus("s1", "suspected", "HN-3", at(1, 10, 0))}, now: at(2, 0, 0), colour: healthcode.Yellow, rule: "suspected-case", ids: []string{"s1"}},
		{name: "suspected then excluded", facts: []healthcode.Fact{caseStatus("s1", "suspected", "HN-3", at(1, 10, 0)), caseStatus("s2", "excluded", "HN-3", at(2, 10, 0))}, now: at(3, 0, 0), colour: healthcode.Green},
		{name: "suspected then confirmed", facts: []healthcode.Fact{caseStatus("s1", "suspected", "HN-3", at(1, 10, 0)), caseStatus("s2", "confirmed", "HN-3", at(2, 10, 0))}, now: at(3, 0, 0), colour: healthcode.Red, rule: "case", ids: []string{"s2"}},

		// quarantine
		{name: "home quarantine from its start", facts: []healthcode.Fact{quarantine("q1", "home", at(1, 0, 0), at(8, 0, 0))}, now: at(1, 0, 0), colour: healthcode.Yellow, rule: "quarantine", ids: []string{"q1"}, next: at(8, 0, 0)},
		{name: "centralised quarantine", facts: []healthcode.Fact{quarantine("q1", "centralized", at(1, 0, 0), at(8, 0, 0))}, now: at(7, 23, 59), colour: healthcode.Yellow, rule: "quarantine", ids: []string{"q1"}},
		{name: "quarantine at its end", facts: []healthcode.Fact{quarantine("q1", "home", at(1, 0, 0), at(8, 0, 0))}, now: at(8, 0, 0), colour: healthcode.Green},
		{name: "health monitoring", facts: []healthcode.Fact{quarantine("q1", "health_monitoring", at(1, 0, 0), at(8, 0, 0))}, now: at(2, 0, 0), colour: healthcode.Green},

		// precedence
		{name: "red beats an earlier yellow", facts: []healthcode.Fact{contact("c2", "secondary", exp), testResult("t1", "pcr", "positive", exp)}, now: exp.Add(day), colour: healthcode.Red, rule: "positive-pcr", ids: []string{"t1"}},
		{name: "first yellow in file order", facts: []healthcode.Fact{quarantine("q1", "home", at(1, 0, 0), at(8, 0, 0)), contact("c2", "secondary", exp)}, now: exp.Add(day), colour: healthcode.Yellow, rule: "secondary-contact", ids: []string{"c2"}},
		{name: "first red in file order", facts: []healthcode.Fact{testResult("t1", "pcr", "positive", exp), contact("c1", "close", exp), conf}, now: exp.Add(day), colour: healthcode.Red, rule: "case", ids: []string{"s1"}},
	}
}

func TestEvaluateDefault(t *testing.T) {
	rs := Default()
	reasons := map[string]map[string]string{"": greenReason}
	for _, r := range rs.Rules() {
		reasons[r.ID] = r.Reason
	}
	for _, tc := range defaultCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rs.Evaluate(Input{Facts: tc.facts, Areas: tc.areas, Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Colour: tc.colour, Rule: tc.rule, Reason: reasons[tc.rule], FactIDs: tc.ids, NextChange: tc.next}
			opts := []cmp.Option{cmpopts.EquateEmpty()}
			if tc.next.IsZero() {
				opts = append(opts, cmpopts.IgnoreFields(Result{}, "NextChange"))
			}
			if diff := cmp.Diff(want, got, opts...); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
			exact, err := rs.EvaluateExact(Input{Facts: tc.facts, Areas: tc.areas, Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			want.NextChange = tc.next
			if !tc.exact.IsZero() {
				want.NextChange = tc.exact
			}
			if tc.never {
				want.NextChange = time.Time{}
			}
			if diff := cmp.Diff(want, exact, opts...); diff != "" && (!tc.next.IsZero() || tc.never) {
				t.Errorf("EvaluateExact (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNextChangeSound checks that no result changes before its exact
// NextChange, which is not before the first candidate, sampling every ten
// minutes for 20 days and just before the next change, and that it does
// change at the exact NextChange.
func TestNextChangeSound(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	rs := Default()
	for _, tc := range defaultCases() {
		in := Input{Facts: tc.facts, Areas: tc.areas, Now: tc.now}
		first, err := rs.Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		exact, err := rs.EvaluateExact(in)
		if err != nil {
			t.Fatal(err)
		}
		if !exact.NextChange.IsZero() && exact.NextChange.Before(first.NextChange) || first.NextChange.IsZero() && !exact.NextChange.IsZero() {
			t.Errorf("%s: exact NextChange %v before the first candidate %v", tc.name, exact.NextChange, first.NextChange)
		}
		end := tc.now.Add(20 * 24 * time.Hour)
		if !exact.NextChange.IsZero() {
			if !exact.NextChange.After(tc.now) {
				t.Errorf("%s: NextChange %v is not after now %v", tc.name, exact.NextChange, tc.now)
			}
			end = exact.NextChange
			got, err := rs.Evaluate(Input{Facts: tc.facts, Areas: tc.areas, Now: exact.NextChange})
			if err != nil {
				t.Fatal(err)
			}
			if got.Rule == first.Rule && cmp.Equal(got.FactIDs, first.FactIDs) {
				t.Errorf("%s: at NextChange %v the result is still %s/%s %v", tc.name, exact.NextChange, got.Colour, got.Rule, got.FactIDs)
			}
		}
		samples := []time.Time{end.Add(-time.Nanosecond)}
		for s := tc.now; s.Before(end); s = s.Add(10 * time.Minute) {
			samples = append(samples, s)
		}
		for _, s := range samples {
			got, err := rs.Evaluate(Input{Facts: tc.facts, Areas: tc.areas, Now: s})
			if err != nil {
				t.Fatal(err)
			}
			if got.Colour != first.Colour || got.Rule != first.Rule || !cmp.Equal(got.FactIDs, first.FactIDs) {
				t.Errorf("%s: at %v, before NextChange %v, the result changed from %s/%s to %s/%s",
					tc.name, s, exact.NextChange, first.Colour, first.Rule, got.Colour, got.Rule)
				break
			}
		}
	}
}

func TestEvaluateDeterministic(t *testing.T) {
	rs := Default()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range defaultCases() {
		in := Input{Facts: tc.facts, Areas: tc.areas, Now: tc.now}
		want, err := rs.Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			facts := append([]healthcode.Fact(nil), tc.facts...)
			rng.Shuffle(len(facts), func(i, j int) { facts[i], facts[j] = facts[j], facts[i] })
			areas := append([]healthcode.Fact(nil), tc.areas...)
			rng.Shuffle(len(areas), func(i, j int) { areas[i], areas[j] = areas[j], areas[i] })
			got, err := rs.Evaluate(Input{Facts: facts, Areas: areas, Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: result depends on input order (-first +shuffled):\n%s", tc.name, diff)
				break
			}
		}
	}
}

func TestEvaluateBadInput(t *testing.T) {
	rs := Default()
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"invalid payload", Input{Facts: []healthcode.Fact{withPayload(contact("c1", "close", at(1, 0, 0)), `{}`)}}, "fact c1: invalid: payload.level: is required"},
		{"area fact among facts", Input{Facts: []healthcode.Fact{riskArea("r1", "410102", "high", at(1, 0, 0), at(2, 0, 0))}}, "fact r1: a risk_area fact belongs in Input.Areas"},
		{"person fact among areas", Input{Areas: []healthcode.Fact{contact("c1", "close", at(1, 0, 0))}}, "area fact c1: a contact fact belongs in Input.Facts"},
	} {
		_, err := rs.Evaluate(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: Evaluate error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRaises(t *testing.T) {
	rs := Default()
	exp := at(1, 8, 0)
	now := at(2, 0, 0)
	yellow := []healthcode.Fact{contact("c2", "secondary", exp)}
	hv := visit("a1", "410102001001", at(1, 9, 0), at(1, 18, 0))
	for _, tc := range []struct {
		name string
		in   Input
		f    healthcode.Fact
		want bool
	}{
		{"green to red", Input{Now: now}, contact("c1", "close", exp), true},
		{"yellow to red", Input{Facts: yellow, Now: now}, contact("c1", "close", exp), true},
		{"green to yellow", Input{Now: now}, contact("c1", "secondary", exp), true},
		{"yellow stays yellow", Input{Facts: yellow, Now: now}, contact("c1", "spatiotemporal", exp), false},
		{"a recovery lowers", Input{Facts: []healthcode.Fact{caseStatus("s1", "confirmed", "HN-1", exp)}, Now: now}, caseStatus("s2", "recovered", "HN-1", exp.Add(time.Hour)), false},
		{"a risk area raises", Input{Facts: []healthcode.Fact{hv}, Now: at(3, 0, 0)}, riskArea("r1", "410102001", "high", at(1, 12, 0), at(8, 12, 0)), true},
	} {
		got, err := Raises(rs, tc.in, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: Raises = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCostLimit(t *testing.T) {
	_, err := Parse("slow.yaml", []byte(ruleset(`facts.area_visits.exists(a, facts.area_visits.exists(b, facts.area_visits.exists(c, a.arrived_at < b.arrived_at && b.arrived_at < c.departed_at)))`)))
	want := "slow.yaml:11: rule r1: worst-case cost 1751753503 is above the limit 1000000 (with as many facts as Kind.Max allows)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
}

// A rule that counts facts cites all facts of the kinds it reads.
func TestCiteCounting(t *testing.T) {
	rs := mustParse(t, "count.yaml", ruleset(`facts.contacts.filter(c, c.level == 'secondary').size() >= 2`))
	exp := at(1, 8, 0)
	got, err := rs.Evaluate(Input{Facts: []healthcode.Fact{contact("c2", "secondary", exp), contact("c1", "secondary", exp), contact("c3", "close", exp)}, Now: at(2, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1", "c2", "c3"}; !cmp.Equal(got.FactIDs, want) {
		t.Errorf("FactIDs = %v, want %v", got.FactIDs, want)
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	rs := mustParse(t, DefaultName, string(DefaultSource())) // fresh: programs compiled concurrently
	cases := defaultCases()
	done := make(chan error)
	for w := range 4 {
		go func() {
			for i := range cases {
				tc := cases[(i+w)%len(cases)]
				got, err := rs.Evaluate(Input{Facts: tc.facts, Areas: tc.areas, Now: tc.now})
				if err == nil && (got.Colour != tc.colour || got.Rule != tc.rule) {
					err = fmt.Errorf("%s: got %s/%s", tc.name, got.Colour, got.Rule)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestNextChangeGivesUp: with more candidate times than nextChange tries
// and no change among them, NextChange is a later candidate, where the
// result could change: re-evaluating then is redundant, never late.
func TestNextChangeGivesUp(t *testing.T) {
	rs := Default()
	var facts []healthcode.Fact
	for i := range 2 * maxNextChecks {
		facts = append(facts, testResult(fmt.Sprintf("t%d", i), "pcr", "negative", at(1, i%24, 0).Add(time.Duration(i/24)*24*time.Hour)))
	}
	now := at(3, 0, 0)
	got, err := rs.EvaluateExact(Input{Facts: facts, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got.Colour != healthcode.Green || !got.NextChange.After(now) {
		t.Fatalf("%s, next change %v: want green with a next check after %v", got.Colour, got.NextChange, now)
	}
	later, err := rs.Evaluate(Input{Facts: facts, Now: got.NextChange})
	if err != nil || later.Colour != healthcode.Green || later.Rule != "" {
		t.Errorf("at the next check: %s %q %v, want green", later.Colour, later.Rule, err)
	}
}

// TestFailedRule: the place a rule's run-time error names is kept, the
// rest (which may quote a resident's facts) is not; any other error gives
// nothing.
func TestFailedRule(t *testing.T) {
	rs := mustParse(t, "x.yaml", ruleset(`facts.case_statuses.exists(c, {'': true}[c.status])`))
	f := mkFact("s1", KindCaseStatus, "r_1", map[string]any{"status": "confirmed", "case_id": "C-1"})
	f.ObservedAt = time.Date(2022, 6, 30, 0, 0, 0, 0, time.UTC)
	_, err := rs.Evaluate(Input{Facts: []healthcode.Fact{f}, Now: f.ObservedAt.Add(time.Hour)})
	if err == nil {
		t.Fatal("the rule did not fail")
	}
	for _, tc := range []struct{ msg, want string }{
		{err.Error(), "x.yaml:11: rule r1"},
		{"fact s_lab:r_1-pcr: payload: bad", ""},
		{"ruleset henan-health-code: combined rules gave 7", ""},
		{"", ""},
	} {
		if got := FailedRule(tc.msg); got != tc.want {
			t.Errorf("FailedRule(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
