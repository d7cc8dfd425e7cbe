package rules

import (
	"slices"
	"testing"

	"github.com/healthcode/healthcode"
)

// TestDecodedReused: an evaluation given the facts validation decoded
// (Input.Decoded) gives what decoding afresh gives, under the fact's own
// id; and a fact whose payload, observation time or subject is not the
// one decoded is decoded afresh, never evaluated from a stale decoding.
// Each case's change alters the result, so a stale decoding would show.
func TestDecodedReused(t *testing.T) {
	rs := Default()
	visitHome := visit("v1", "410102001001", at(9, 8, 0), at(9, 9, 0))
	cases := []struct {
		name   string
		f      healthcode.Fact
		area   bool // f goes in Input.Areas, with visitHome in Facts
		change func(f *healthcode.Fact)
	}{
		{"payload", testResult("t1", "pcr", "positive", at(9, 8, 0)), false,
			func(f *healthcode.Fact) { f.Payload = testResult("t1", "pcr", "negative", at(9, 8, 0)).Payload }},
		{"observed_at", caseStatus("c1", "confirmed", "HN-1", at(9, 8, 0)), false,
			func(f *healthcode.Fact) { f.ObservedAt = at(11, 8, 0) }},
		{"subject", riskArea("a1", "410102001", "high", at(1, 0, 0), at(12, 0, 0)), true,
			func(f *healthcode.Fact) { f.Subject = "410105001" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			f.Key = "src_test/" + f.ID
			d, err := ValidateFactDecoded(&f, typicalNow)
			if err != nil {
				t.Fatal(err)
			}
			decoded := map[string]*Decoded{f.Key: d}
			input := func(f healthcode.Fact, decoded map[string]*Decoded) Input {
				f.ID = f.Key // as the store evaluates it (forEval)
				if c.area {
					return Input{Facts: []healthcode.Fact{visitHome}, Areas: []healthcode.Fact{f}, Now: typicalNow, Decoded: decoded}
				}
				return Input{Facts: []healthcode.Fact{f}, Now: typicalNow, Decoded: decoded}
			}
			eval := func(in Input) Result {
				t.Helper()
				r, err := rs.EvaluateExact(in)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			same := func(a, b Result) bool {
				return a.Colour == b.Colour && a.Rule == b.Rule && slices.Equal(a.FactIDs, b.FactIDs) && a.NextChange.Equal(b.NextChange)
			}
			want := eval(input(f, nil))
			if got := eval(input(f, decoded)); !same(got, want) {
				t.Fatalf("with the decoded fact: %+v, want %+v", got, want)
			}
			if want.Colour == healthcode.Green || !slices.Contains(want.FactIDs, f.Key) {
				t.Fatalf("unchanged: %+v, want a code citing %s", want, f.Key)
			}
			g := f
			c.change(&g)
			wantChanged := eval(input(g, nil))
			if same(wantChanged, want) {
				t.Fatalf("the change does not alter the result (%+v): the case tests nothing", want)
			}
			if got := eval(input(g, decoded)); !same(got, wantChanged) {
				t.Errorf("%s changed: %+v, want %+v (decoded afresh)", c.name, got, wantChanged)
			}
		})
	}
}
