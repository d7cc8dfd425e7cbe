package rules

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

// The default ruleset hand-written in plain Go: the lower bound for
// evaluation, and a cross-check of the CEL rules (TestGoMatchesCEL).

type goTest struct {
	Method, Result string
	SampledAt      time.Time `json:"sampled_at"`
}

type goCase struct {
	Status string
	CaseID string `json:"case_id"`
	at     time.Time
}

type goContact struct {
	Level     string
	ExposedAt time.Time `json:"exposed_at"`
}

type goVisit struct {
	Area       string
	ArrivedAt  time.Time `json:"arrived_at"`
	DepartedAt time.Time `json:"departed_at"`
}

type goArea struct {
	code        string
	Level       string
	From, Until time.Time
}

type goQuarantine struct {
	Type        string
	From, Until time.Time
}

type goInput struct {
	tests       []goTest
	cases       []goCase
	contacts    []goContact
	visits      []goVisit
	areas       []goArea
	quarantines []goQuarantine
	now         time.Time
}

// goPrepare decodes an input, keeping the facts within their windows.
func goPrepare(tb testing.TB, in Input) *goInput {
	g := &goInput{now: in.Now}
	dec := func(f healthcode.Fact, v any) bool {
		if f.Status == healthcode.FactPending || f.Status == healthcode.FactRetracted {
			return false
		}
		from, until, err := WindowOf(&f)
		if err != nil {
			tb.Fatal(err)
		}
		if in.Now.Before(from) || (!until.IsZero() && !in.Now.Before(until)) {
			return false
		}
		if err := json.Unmarshal(f.Payload, v); err != nil {
			tb.Fatal(err)
		}
		return true
	}
	for _, f := range in.Facts {
		switch f.Kind {
		case KindTestResult:
			var v goTest
			if dec(f, &v) {
				g.tests = append(g.tests, v)
			}
		case KindCaseStatus:
			v := goCase{at: f.ObservedAt}
			if dec(f, &v) {
				g.cases = append(g.cases, v)
			}
		case KindContact:
			var v goContact
			if dec(f, &v) {
				g.contacts = append(g.contacts, v)
			}
		case KindAreaVisit:
			var v goVisit
			if dec(f, &v) {
				g.visits = append(g.visits, v)
			}
		case KindQuarantine:
			var v goQuarantine
			if dec(f, &v) {
				g.quarantines = append(g.quarantines, v)
			}
		}
	}
	for _, f := range in.Areas {
		v := goArea{code: f.Subject}
		if dec(f, &v) {
			g.areas = append(g.areas, v)
		}
	}
	return g
}

const week = 7 * 24 * time.Hour

func (g *goInput) caseOpen(statuses ...string) bool {
	for _, c := range g.cases {
		if c.Status != statuses[0] && (len(statuses) < 2 || c.Status != statuses[1]) {
			continue
		}
		closed := false
		for _, d := range g.cases {
			if d.CaseID == c.CaseID && (d.Status == "recovered" || d.Status == "excluded") && d.at.After(c.at) {
				closed = true
				break
			}
		}
		if !closed {
			return true
		}
	}
	return false
}

func (g *goInput) contact(level string) bool {
	for _, c := range g.contacts {
		if c.Level == level && g.now.Sub(c.ExposedAt) < week {
			return true
		}
	}
	return false
}

func (g *goInput) areaVisit(level string) bool {
	for _, v := range g.visits {
		if g.now.Sub(v.DepartedAt) >= week {
			continue
		}
		for _, a := range g.areas {
			if a.Level == level && healthcode.Covers(a.code, v.Area) && v.ArrivedAt.Before(a.Until) && !v.DepartedAt.Before(a.From) {
				return true
			}
		}
	}
	return false
}

func (g *goInput) test(method, result string) bool {
	for _, t := range g.tests {
		if t.Method != method || t.Result != result || g.now.Sub(t.SampledAt) >= 2*week {
			continue
		}
		if method == "pcr" {
			return true
		}
		overridden := false
		for _, p := range g.tests {
			if p.Method == "pcr" && p.Result == "negative" && p.SampledAt.After(t.SampledAt) {
				overridden = true
				break
			}
		}
		if !overridden {
			return true
		}
	}
	return false
}

func (g *goInput) quarantined() bool {
	for _, q := range g.quarantines {
		if (q.Type == "centralized" || q.Type == "home") && !g.now.Before(q.From) && g.now.Before(q.Until) {
			return true
		}
	}
	return false
}

func goEvaluate(g *goInput) (healthcode.Colour, string) {
	switch {
	case g.caseOpen("confirmed", "asymptomatic"):
		return healthcode.Red, "case"
	case g.contact("close"):
		return healthcode.Red, "close-contact"
	case g.areaVisit("high"):
		return healthcode.Red, "high-risk-area"
	case g.test("pcr", "positive"):
		return healthcode.Red, "positive-pcr"
	case g.contact("secondary"):
		return healthcode.Yellow, "secondary-contact"
	case g.contact("spatiotemporal"):
		return healthcode.Yellow, "spatiotemporal"
	case g.areaVisit("medium"):
		return healthcode.Yellow, "medium-risk-area"
	case g.test("antigen", "positive"):
		return healthcode.Yellow, "positive-antigen"
	case g.caseOpen("suspected"):
		return healthcode.Yellow, "suspected-case"
	case g.quarantined():
		return healthcode.Yellow, "quarantine"
	}
	return healthcode.Green, ""
}

func TestGoMatchesCEL(t *testing.T) {
	rs := Default()
	cases := defaultCases()
	cases = append(cases, evalCase{name: "typical", facts: typicalResident(), areas: typicalAreas(), now: typicalNow})
	for _, tc := range cases {
		in := Input{Facts: tc.facts, Areas: tc.areas, Now: tc.now}
		want, err := rs.Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		colour, rule := goEvaluate(goPrepare(t, in))
		if colour != want.Colour || rule != want.Rule {
			t.Errorf("%s: Go gives %s/%s, CEL %s/%s", tc.name, colour, rule, want.Colour, want.Rule)
		}
	}
}

var typicalNow = at(10, 12, 0)

// typicalResident has a handful of facts and a green code: tests every
// other day, three vaccine doses, a commute through two areas, one of
// them once a low-risk area.
func typicalResident() []healthcode.Fact {
	return []healthcode.Fact{
		testResult("t1", "pcr", "negative", at(6, 8, 0)),
		testResult("t2", "pcr", "negative", at(8, 8, 0)),
		testResult("t3", "pcr", "negative", at(10, 8, 0)),
		vaccination("v1", 1, time.Date(2021, 5, 1, 9, 0, 0, 0, cst)),
		vaccination("v2", 2, time.Date(2021, 6, 1, 9, 0, 0, 0, cst)),
		vaccination("v3", 3, time.Date(2021, 12, 1, 9, 0, 0, 0, cst)),
		visit("a1", "410102001001", at(9, 8, 0), at(9, 18, 0)),
		visit("a2", "410105001002", at(9, 19, 0), at(10, 7, 0)),
	}
}

func typicalAreas() []healthcode.Fact {
	return []healthcode.Fact{riskArea("r1", "410102001", "low", at(1, 0, 0), at(12, 0, 0))}
}

func BenchmarkEvaluateDefault(b *testing.B) {
	rs := Default()
	p, err := Prepare(Input{Facts: typicalResident(), Areas: typicalAreas(), Now: typicalNow})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := rs.EvaluatePrepared(p)
		if err != nil || res.Colour != healthcode.Green {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkEvaluateDefaultRed adds a close contact: a match, and the
// evaluations that find the facts it rests on.
func BenchmarkEvaluateDefaultRed(b *testing.B) {
	rs := Default()
	facts := append(typicalResident(), contact("c1", "close", at(9, 8, 0)))
	p, err := Prepare(Input{Facts: facts, Areas: typicalAreas(), Now: typicalNow})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := rs.EvaluatePrepared(p)
		if err != nil || res.Colour != healthcode.Red {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkEvaluateDefaultDecode includes decoding the facts' JSON.
func BenchmarkEvaluateDefaultDecode(b *testing.B) {
	rs := Default()
	in := Input{Facts: typicalResident(), Areas: typicalAreas(), Now: typicalNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rs.Evaluate(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluateGo(b *testing.B) {
	g := goPrepare(b, Input{Facts: typicalResident(), Areas: typicalAreas(), Now: typicalNow})
	b.ReportAllocs()
	for b.Loop() {
		if c, _ := goEvaluate(g); c != healthcode.Green {
			b.Fatal(c)
		}
	}
}

// TestEvaluateAllocatesNothing checks that evaluating prepared facts
// allocates nothing for a typical green resident, the runtime cost limit
// included (budget.go; cel.CostLimit's tracker made about 50 allocations
// per evaluation). An index into areas with a key read from a fact
// (areas[v.area]) costs CEL an allocation at each lookup, unless the
// program calls @areas_of instead (areaLookups).
func TestEvaluateAllocatesNothing(t *testing.T) {
	rs := Default()
	p, err := Prepare(Input{Facts: typicalResident(), Areas: typicalAreas(), Now: typicalNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.EvaluatePrepared(p); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = rs.EvaluatePrepared(p) }); n > 0 {
		t.Errorf("EvaluatePrepared allocates %.0f times, want none", n)
	}
}
