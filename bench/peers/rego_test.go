package peers

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// The default ruleset (rules/default.yaml) in OPA Rego, evaluated as a
// prepared query on prepared input, to compare with the CEL evaluation in
// rules.BenchmarkEvaluateDefault and the plain Go lower bound in
// rules.BenchmarkEvaluateGo on the same typical resident. Times are
// nanoseconds since 1970, converted once with the input.
const regoDefault = `
package healthcode

week := 604800000000000

fortnight := 1209600000000000

closed(c) if {
	some d in input.facts.case_statuses
	d.case_id == c.case_id
	d.status in {"recovered", "excluded"}
	d.observed_at > c.observed_at
}

case_open(statuses) if {
	some c in input.facts.case_statuses
	c.status in statuses
	not closed(c)
}

contact(level) if {
	some c in input.facts.contacts
	c.level == level
	input.now - c.exposed_at < week
}

area_visit(level) if {
	some v in input.facts.area_visits
	input.now - v.departed_at < week
	some a in input.areas[v.area]
	a.level == level
	v.arrived_at < a.until
	v.departed_at >= a.from
}

positive_pcr if {
	some t in input.facts.test_results
	t.method == "pcr"
	t.result == "positive"
	input.now - t.sampled_at < fortnight
}

overridden(t) if {
	some p in input.facts.test_results
	p.method == "pcr"
	p.result == "negative"
	p.sampled_at > t.sampled_at
}

positive_antigen if {
	some t in input.facts.test_results
	t.method == "antigen"
	t.result == "positive"
	input.now - t.sampled_at < fortnight
	not overridden(t)
}

quarantined if {
	some q in input.facts.quarantines
	q.type in {"centralized", "home"}
	q.from <= input.now
	input.now < q.until
}

result := {"colour": "red", "rule": "case"} if {
	case_open({"confirmed", "asymptomatic"})
} else := {"colour": "red", "rule": "close-contact"} if {
	contact("close")
} else := {"colour": "red", "rule": "high-risk-area"} if {
	area_visit("high")
} else := {"colour": "red", "rule": "positive-pcr"} if {
	positive_pcr
} else := {"colour": "yellow", "rule": "secondary-contact"} if {
	contact("secondary")
} else := {"colour": "yellow", "rule": "spatiotemporal"} if {
	contact("spatiotemporal")
} else := {"colour": "yellow", "rule": "medium-risk-area"} if {
	area_visit("medium")
} else := {"colour": "yellow", "rule": "positive-antigen"} if {
	positive_antigen
} else := {"colour": "yellow", "rule": "suspected-case"} if {
	case_open({"suspected"})
} else := {"colour": "yellow", "rule": "quarantine"} if {
	quarantined
} else := {"colour": "green", "rule": ""}
`

func mustPrepareRego(tb testing.TB) rego.PreparedEvalQuery {
	tb.Helper()
	pq, err := rego.New(
		rego.Query("data.healthcode.result"),
		rego.Module("healthcode.rego", regoDefault),
	).PrepareForEval(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return pq
}

// regoInput converts a rules.Input to Rego's input once: the facts within
// their windows, by kind, payload times as nanoseconds, and for each
// visited area the designations covering it.
func regoInput(tb testing.TB, in rules.Input) ast.Value {
	tb.Helper()
	lists := map[string][]any{}
	inWindow := func(f *healthcode.Fact) bool {
		from, until, err := rules.WindowOf(f)
		if err != nil {
			tb.Fatal(err)
		}
		return !in.Now.Before(from) && (until.IsZero() || in.Now.Before(until))
	}
	obj := func(f *healthcode.Fact) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(f.Payload, &m); err != nil {
			tb.Fatal(err)
		}
		k, _ := rules.LookupKind(f.Kind)
		for _, fl := range k.Fields {
			if fl.Type == rules.TypeTime {
				t, err := time.Parse(time.RFC3339, m[fl.Name].(string))
				if err != nil {
					tb.Fatal(err)
				}
				m[fl.Name] = t.UnixNano()
			}
		}
		m["id"], m["observed_at"] = f.ID, f.ObservedAt.UnixNano()
		return m
	}
	areas := map[string][]any{}
	for i := range in.Facts {
		f := &in.Facts[i]
		if !inWindow(f) {
			continue
		}
		k, _ := rules.LookupKind(f.Kind)
		o := obj(f)
		lists[k.List] = append(lists[k.List], o)
		if f.Kind == rules.KindAreaVisit {
			code := o["area"].(string)
			areas[code] = []any{}
			for j := range in.Areas {
				a := &in.Areas[j]
				if inWindow(a) && healthcode.Covers(a.Subject, code) {
					areas[code] = append(areas[code], obj(a))
				}
			}
		}
	}
	facts := map[string]any{}
	for _, k := range rules.Kinds() {
		if k.List != "" {
			facts[k.List] = append([]any{}, lists[k.List]...)
		}
	}
	v, err := ast.InterfaceToValue(map[string]any{"facts": facts, "areas": areas, "now": in.Now.UnixNano()})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func evalRego(tb testing.TB, pq rego.PreparedEvalQuery, input ast.Value) (string, string) {
	rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(input))
	if err != nil {
		tb.Fatal(err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		tb.Fatalf("rego result %v", rs)
	}
	m := rs[0].Expressions[0].Value.(map[string]any)
	return m["colour"].(string), m["rule"].(string)
}

var cst = time.FixedZone("CST", 8*3600)

func day(d, hour int) time.Time { return time.Date(2022, 7, d, hour, 0, 0, 0, cst).UTC() }

func fact(id, kind, subject string, payload map[string]any) healthcode.Fact {
	p, _ := json.Marshal(payload)
	return healthcode.Fact{ID: id, Kind: kind, Subject: subject, ObservedAt: rules.EventTime(kind, p),
		Source: "src_bench", Payload: p, Status: healthcode.FactActive}
}

func ts(t time.Time) string { return t.Format(time.RFC3339) }

func test(id, method, result string, at time.Time) healthcode.Fact {
	return fact(id, rules.KindTestResult, "r_1", map[string]any{"method": method, "result": result, "sampled_at": ts(at), "lab": "郑州金域"})
}

func visit(id, area string, from, to time.Time) healthcode.Fact {
	return fact(id, rules.KindAreaVisit, "r_1", map[string]any{"area": area, "arrived_at": ts(from), "departed_at": ts(to)})
}

func contactFact(id, level string, at time.Time) healthcode.Fact {
	return fact(id, rules.KindContact, "r_1", map[string]any{"level": level, "case_id": "HN-1", "exposed_at": ts(at)})
}

func riskArea(id, area, level string, from, until time.Time) healthcode.Fact {
	return fact(id, rules.KindRiskArea, area, map[string]any{"level": level, "from": ts(from), "until": ts(until), "case_ids": []string{"HN-1"}})
}

// typicalInput is the same typical resident as rules' benchmarks: tests
// every other day, three vaccine doses, a commute through two areas, one of
// them once a low-risk area; green.
func typicalInput() rules.Input {
	vacc := func(id string, dose int, t time.Time) healthcode.Fact {
		return fact(id, rules.KindVaccination, "r_1", map[string]any{"dose": dose, "product": "科兴", "administered_at": ts(t)})
	}
	return rules.Input{
		Facts: []healthcode.Fact{
			test("t1", "pcr", "negative", day(6, 8)),
			test("t2", "pcr", "negative", day(8, 8)),
			test("t3", "pcr", "negative", day(10, 8)),
			vacc("v1", 1, time.Date(2021, 5, 1, 9, 0, 0, 0, cst)),
			vacc("v2", 2, time.Date(2021, 6, 1, 9, 0, 0, 0, cst)),
			vacc("v3", 3, time.Date(2021, 12, 1, 9, 0, 0, 0, cst)),
			visit("a1", "410102001001", day(9, 8), day(9, 18)),
			visit("a2", "410105001002", day(9, 19), day(10, 7)),
		},
		Areas: []healthcode.Fact{riskArea("r1", "410102001", "low", day(1, 0), day(12, 0))},
		Now:   day(10, 12),
	}
}

// TestRegoMatchesCEL checks that the Rego policy is the same ruleset.
func TestRegoMatchesCEL(t *testing.T) {
	pq := mustPrepareRego(t)
	with := func(extra ...healthcode.Fact) rules.Input {
		in := typicalInput()
		for _, f := range extra {
			if f.Kind == rules.KindRiskArea {
				in.Areas = append(in.Areas, f)
			} else {
				in.Facts = append(in.Facts, f)
			}
		}
		return in
	}
	for name, in := range map[string]rules.Input{
		"typical":        typicalInput(),
		"close contact":  with(contactFact("c1", "close", day(9, 8))),
		"secondary":      with(contactFact("c1", "secondary", day(9, 8))),
		"old contact":    with(contactFact("c1", "close", day(1, 8))),
		"antigen":        with(test("t9", "antigen", "positive", day(10, 10))),
		"antigen, PCR":   with(test("t9", "antigen", "positive", day(7, 10))),
		"high-risk area": with(riskArea("r2", "410105001", "high", day(9, 0), day(16, 0))),
		"medium area":    with(riskArea("r2", "410102", "medium", day(9, 0), day(16, 0))),
	} {
		want, err := rules.Default().Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		colour, rule := evalRego(t, pq, regoInput(t, in))
		if colour != string(want.Colour) || rule != want.Rule {
			t.Errorf("%s: Rego gives %s/%s, CEL %s/%s", name, colour, rule, want.Colour, want.Rule)
		}
	}
}

// BenchmarkEvaluateRego is rules.BenchmarkEvaluateDefault in Rego.
func BenchmarkEvaluateRego(b *testing.B) {
	pq := mustPrepareRego(b)
	input := regoInput(b, typicalInput())
	b.ReportAllocs()
	for b.Loop() {
		if colour, _ := evalRego(b, pq, input); colour != "green" {
			b.Fatal(colour)
		}
	}
}

// BenchmarkEvaluateCEL is rules.BenchmarkEvaluateDefault, repeated here so
// one run gives the ratio on the same machine load.
func BenchmarkEvaluateCEL(b *testing.B) {
	rs := rules.Default()
	p, err := rules.Prepare(typicalInput())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := rs.EvaluatePrepared(p); err != nil || res.Colour != healthcode.Green {
			b.Fatal(res, err)
		}
	}
}
