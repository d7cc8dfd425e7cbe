package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
)

// TestHundredNegatives is the 100-negatives suppression (issue 13): a lab
// that files 100 negative tests for a resident, all sampled after another
// lab's positive PCR, fills the test_result bound. The positive is not
// refused, it counts (red), one of the flooding lab's own negatives is left
// out and named, and the result says who crowds the bound.
func TestHundredNegatives(t *testing.T) {
	pos := testResult("pos", "pcr", "positive", at(1, 8, 0))
	pos.Source = "s_lab_b"
	facts := []healthcode.Fact{pos}
	for i := range 100 {
		f := testResult(fmt.Sprintf("neg%03d", i), "pcr", "negative", at(1, 9, 0).Add(time.Duration(i)*time.Minute))
		f.Source = "s_lab_a"
		facts = append(facts, f)
	}
	got, err := Default().Evaluate(Input{Facts: facts, Now: at(3, 0, 0)})
	if err != nil {
		t.Fatalf("Evaluate: %v (a fact must not be refused because others fill its window)", err)
	}
	if got.Colour != healthcode.Red || got.Rule != "positive-pcr" {
		t.Errorf("code %s/%s, want red/positive-pcr: the other lab's positive was crowded out", got.Colour, got.Rule)
	}
	if want := map[string]int{KindTestResult: 1}; !cmp.Equal(got.Omitted, want) {
		t.Errorf("Omitted = %v, want %v", got.Omitted, want)
	}
	want := []Crowding{{Kind: KindTestResult, InWindow: 101, Max: 100, Omitted: 1, Origin: "s_lab_a", FromOrigin: 100}}
	if diff := cmp.Diff(want, got.Crowded); diff != "" {
		t.Errorf("Crowded (-want +got):\n%s", diff)
	}
}

// TestBoundKeepsRecent: within one origin the most recent facts are kept.
func TestBoundKeepsRecent(t *testing.T) {
	var facts []healthcode.Fact
	for i := range 101 {
		facts = append(facts, contact(fmt.Sprint("c", i), "secondary", at(1, 0, 0).Add(time.Duration(i)*time.Minute)))
	}
	facts[0] = contact("c0", "close", at(1, 0, 0)) // the oldest, left out
	got, err := Default().Evaluate(Input{Facts: facts, Now: at(2, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rule != "secondary-contact" || got.Omitted[KindContact] != 1 {
		t.Errorf("rule %s, omitted %v: want secondary-contact with the oldest contact left out", got.Rule, got.Omitted)
	}
	near := facts[:75]
	got, err = Default().Evaluate(Input{Facts: near, Now: at(2, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Crowded) != 1 || got.Crowded[0].InWindow != 75 || got.Omitted != nil {
		t.Errorf("75 of 100: Crowded %v, Omitted %v; want one crowded kind and nothing left out", got.Crowded, got.Omitted)
	}
	got, err = Default().Evaluate(Input{Facts: facts[:74], Now: at(2, 0, 0)})
	if err != nil || got.Crowded != nil {
		t.Errorf("74 of 100: Crowded %v, %v; want none", got.Crowded, err)
	}
}

// TestTwentyOneDesignations: more designations covering a visited area
// than Kind.Max leave the oldest out instead of failing the evaluation
// (the 21-designation queue stall of issue 13 failed every evaluation of a
// visitor).
func TestTwentyOneDesignations(t *testing.T) {
	var areas []healthcode.Fact
	for i := range 21 {
		level := "low"
		if i == 0 {
			level = "high" // the oldest: left out
		}
		f := riskArea(fmt.Sprint("ra", i), "410102001", level, at(1, 0, 0).Add(time.Duration(i)*time.Minute), at(8, 0, 0))
		f.RecordedBy = "o_cmd"
		f.Source = ""
		areas = append(areas, f)
	}
	in := Input{Facts: []healthcode.Fact{visit("v1", "410102001001", at(2, 0, 0), at(2, 2, 0))}, Areas: areas, Now: at(3, 0, 0)}
	got, err := Default().Evaluate(in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if got.Colour != healthcode.Green || got.Omitted[KindRiskArea] != 1 {
		t.Errorf("%s, omitted %v: want green with the oldest designation left out", got.Colour, got.Omitted)
	}
	if len(got.Crowded) != 1 || got.Crowded[0].Origin != "o_cmd" {
		t.Errorf("Crowded = %v, want risk_area by o_cmd", got.Crowded)
	}
}

// TestFifteenRuleCost is the 15-rule cost (issue 13): fifteen rules each
// within CostLimit add up to far more than one evaluation should cost;
// the ruleset's budget refuses them, naming the costliest.
func TestFifteenRuleCost(t *testing.T) {
	cond := `facts.test_results.exists(a, facts.test_results.exists(b, a.sampled_at < b.sampled_at && a.method == b.method))`
	one := mustParse(t, "one.yaml", ruleset(cond))
	if c := one.Cost(); c > CostLimit || c*15 <= BudgetLimit {
		t.Fatalf("one rule costs %d: want within %d, and fifteen above %d", c, CostLimit, BudgetLimit)
	}
	conds := make([]string, 15)
	for i := range conds {
		conds[i] = cond
	}
	_, err := Parse("fifteen.yaml", []byte(ruleset(conds...)))
	want := fmt.Sprintf("fifteen.yaml:1: the rules' worst-case costs add up to %d, above the ruleset budget %d", 15*one.Cost(), BudgetLimit)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Parse error = %v, want %s...", err, want)
	}
	if c := Default().Cost(); c*3 > BudgetLimit {
		t.Errorf("the default ruleset costs %d, more than a third of the budget %d (docs say about a quarter)", c, BudgetLimit)
	}
}

// TestCombinedCostLimit: the combined program runs under a runtime cost
// limit (budget.go): an evaluation that would make more calls than the
// limit is stopped with an error, not served; within it, it is served.
func TestCombinedCostLimit(t *testing.T) {
	rs := Default()
	in := Input{Facts: typicalResident(), Areas: typicalAreas(), Now: typicalNow}
	if _, err := rs.EvaluateExact(in); err != nil {
		t.Fatalf("within the budget: %v", err)
	}
	defer func(l uint64) { budgetLimit = l }(budgetLimit)
	budgetLimit = 3
	_, err := rs.Evaluate(in)
	if err == nil || !strings.Contains(err.Error(), "cost limit exceeded (more than 3 calls)") {
		t.Fatalf("over the budget: error = %v, want the cost limit exceeded", err)
	}
}
