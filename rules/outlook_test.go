package rules

import (
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

// TestOutlook checks the outlook of the default ruleset against
// evaluations: at ChangeAt the code has the colour Next says, and just
// before it still has the colour of now; each holding rule ends at its
// Until and not before.
func TestOutlook(t *testing.T) {
	rs := Default()
	now := at(10, 12, 0)
	tests := []struct {
		name    string
		facts   []healthcode.Fact
		areas   []healthcode.Fact
		colour  healthcode.Colour
		holding []string
		until   []time.Time // per holding rule; zero: no end
		change  time.Time   // zero: never
		next    healthcode.Colour
	}{
		{name: "green stays green", facts: []healthcode.Fact{testResult("t1", "pcr", "negative", at(9, 9, 0))},
			colour: healthcode.Green},
		{name: "close contact turns green 7 days after exposure",
			facts:   []healthcode.Fact{contact("c1", "close", at(8, 10, 0))},
			colour:  healthcode.Red,
			holding: []string{"close-contact"}, until: []time.Time{at(15, 10, 0)},
			change: at(15, 10, 0), next: healthcode.Green},
		// Red for two reasons: the code stays red when the contact ends
		// (a change of rule, not of colour) and turns green when the
		// positive test leaves its 14 days.
		{name: "red stays red until the last red rule ends",
			facts:   []healthcode.Fact{contact("c1", "close", at(8, 10, 0)), testResult("t1", "pcr", "positive", at(9, 9, 0))},
			colour:  healthcode.Red,
			holding: []string{"close-contact", "positive-pcr"}, until: []time.Time{at(15, 10, 0), at(23, 9, 0)},
			change: at(23, 9, 0), next: healthcode.Green},
		{name: "red turns yellow, not green, when a quarantine outlasts it",
			facts: []healthcode.Fact{contact("c1", "close", at(8, 10, 0)),
				quarantine("q1", "home", at(8, 12, 0), at(20, 12, 0))},
			colour:  healthcode.Red,
			holding: []string{"close-contact", "quarantine"}, until: []time.Time{at(15, 10, 0), at(20, 12, 0)},
			change: at(15, 10, 0), next: healthcode.Yellow},
		{name: "a confirmed case has no end until a recovery is recorded",
			facts:   []healthcode.Fact{caseStatus("s1", "confirmed", "HN-1", at(9, 8, 0))},
			colour:  healthcode.Red,
			holding: []string{"case"}, until: []time.Time{{}}},
		{name: "a quarantine that starts later turns the code yellow then",
			facts:  []healthcode.Fact{quarantine("q1", "centralized", at(12, 0, 0), at(19, 0, 0))},
			colour: healthcode.Green,
			change: at(12, 0, 0), next: healthcode.Yellow},
		{name: "a medium-risk visit ends 7 days after departure",
			facts:   []healthcode.Fact{visit("v1", "410105001001", at(7, 9, 0), at(7, 18, 0))},
			areas:   []healthcode.Fact{riskArea("a1", "410105001", "medium", at(1, 0, 0), at(20, 0, 0))},
			colour:  healthcode.Yellow,
			holding: []string{"medium-risk-area"}, until: []time.Time{at(14, 18, 0)},
			change: at(14, 18, 0), next: healthcode.Green},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Facts: tt.facts, Areas: tt.areas, Now: now}
			o, err := rs.Outlook(in)
			if err != nil {
				t.Fatal(err)
			}
			if o.Colour != tt.colour {
				t.Errorf("colour %s, want %s", o.Colour, tt.colour)
			}
			var ids []string
			for i, h := range o.Holding {
				ids = append(ids, h.ID)
				if i < len(tt.until) && !h.Until.Equal(tt.until[i]) {
					t.Errorf("%s holds until %v, want %v", h.ID, h.Until, tt.until[i])
				}
				if h.Reason["zh-CN"] == "" || h.Reason["en"] == "" {
					t.Errorf("%s has no text: %v", h.ID, h.Reason)
				}
			}
			if len(ids) != len(tt.holding) || (len(ids) > 0 && !equal(ids, tt.holding)) {
				t.Errorf("holding %v, want %v", ids, tt.holding)
			}
			if !o.ChangeAt.Equal(tt.change) || o.NotBefore {
				t.Fatalf("change at %v (not before: %v), want %v", o.ChangeAt, o.NotBefore, tt.change)
			}
			if o.ChangeAt.IsZero() {
				// Never: the colour is the same a year on.
				mustColour(t, rs, in, now.AddDate(1, 0, 0), tt.colour)
				return
			}
			if o.Next.Colour != tt.next {
				t.Errorf("next colour %s, want %s", o.Next.Colour, tt.next)
			}
			// Checked by evaluating at that time, and just before.
			mustColour(t, rs, in, o.ChangeAt, tt.next)
			mustColour(t, rs, in, o.ChangeAt.Add(-time.Nanosecond), tt.colour)
			for _, h := range o.Holding {
				if h.Until.IsZero() {
					continue
				}
				if !holds(t, rs, h.ID, in, h.Until.Add(-time.Nanosecond)) || holds(t, rs, h.ID, in, h.Until) {
					t.Errorf("%s does not end at %v", h.ID, h.Until)
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustColour(t *testing.T, rs *Ruleset, in Input, when time.Time, want healthcode.Colour) {
	t.Helper()
	in.Now = when
	res, err := rs.Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Colour != want {
		t.Errorf("evaluated at %v: %s (%s), want %s", when, res.Colour, res.Rule, want)
	}
}

// holds evaluates one rule of rs at when.
func holds(t *testing.T, rs *Ruleset, id string, in Input, when time.Time) bool {
	t.Helper()
	in.Now = when
	p, err := Prepare(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.rules {
		if r.ID == id {
			ok, err := r.eval(p.act)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
	}
	t.Fatalf("no rule %s", id)
	return false
}

// TestOutlookBounded: a resident with more window boundaries than the
// outlook checks gets a lower bound, not a wrong time.
func TestOutlookBounded(t *testing.T) {
	rs := Default()
	now := at(10, 12, 0)
	// A confirmed case (red without end) and many negative tests, each a
	// boundary that changes nothing.
	facts := []healthcode.Fact{caseStatus("s1", "confirmed", "HN-1", at(1, 8, 0))}
	for i := range 90 { // under Kind.Max, and each a few candidate times
		facts = append(facts, testResult("t"+string(rune('a'+i%26))+string(rune('a'+i/26)), "pcr", "negative", now.Add(-time.Duration(i+1)*time.Minute)))
	}
	o, err := rs.Outlook(Input{Facts: facts, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !o.NotBefore || o.ChangeAt.IsZero() {
		t.Fatalf("outlook %+v, want a lower bound", o)
	}
	mustColour(t, rs, Input{Facts: facts, Now: now}, o.ChangeAt, healthcode.Red)
}
