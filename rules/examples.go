package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/healthcode/healthcode"
)

// An example is a worked case in a ruleset file: facts in, code out. Check
// runs every example, so a published ruleset documents and tests itself.
type example struct {
	name      string
	line      int
	now       time.Time
	facts     []healthcode.Fact
	areas     []healthcode.Fact
	colour    healthcode.Colour
	rule      string
	factIDs   []string // nil: not checked
	wantFacts bool
	bad       bool // a fact failed validation
}

func (p *parser) examples(rs *Ruleset, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "examples must be a list")
		return
	}
	for _, en := range n.Content {
		ex := &example{line: en.Line}
		var factNodes, areaNodes []*yaml.Node
		p.fields(en, "example", map[string]func(*yaml.Node){
			"name": func(n *yaml.Node) { p.str(n, "example name", &ex.name) },
			"now":  func(n *yaml.Node) { p.time(n, "now", &ex.now) },
			"facts": func(n *yaml.Node) {
				if n.Kind != yaml.SequenceNode {
					p.errorf(n, "facts must be a list")
					return
				}
				factNodes = n.Content
			},
			"areas": func(n *yaml.Node) {
				if n.Kind != yaml.SequenceNode {
					p.errorf(n, "areas must be a list")
					return
				}
				areaNodes = n.Content
			},
			"want": func(n *yaml.Node) {
				p.fields(n, "want", map[string]func(*yaml.Node){
					"colour": func(n *yaml.Node) {
						c, err := healthcode.ParseColour(n.Value)
						if err != nil {
							p.errorf(n, "want.colour: %s", healthcode.ErrorMessage(err))
						}
						ex.colour = c
					},
					"rule": func(n *yaml.Node) { ex.rule = n.Value },
					"facts": func(n *yaml.Node) {
						ex.wantFacts = true
						if err := n.Decode(&ex.factIDs); err != nil {
							p.errorf(n, "want.facts must be a list of fact ids")
						}
					},
				}, "colour")
			},
		}, "name", "now", "want")
		for _, fn := range factNodes {
			if f, ok := p.fact(ex, fn); ok {
				ex.facts = append(ex.facts, f)
			}
		}
		for _, fn := range areaNodes {
			if f, ok := p.fact(ex, fn); ok {
				ex.areas = append(ex.areas, f)
			}
		}
		rs.examples = append(rs.examples, ex)
	}
}

// fact parses an example's fact: id, kind, optional subject (default
// "resident"; an area fact's subject is its area code), optional
// observed_at (default: the payload's first time; required for
// case_status) and payload. The fact must pass ValidateFact at the
// example's now.
func (p *parser) fact(ex *example, n *yaml.Node) (healthcode.Fact, bool) {
	f := healthcode.Fact{Subject: "resident", Source: "example", Status: healthcode.FactActive, RecordedAt: ex.now}
	nerr := len(p.errs)
	p.fields(n, "fact", map[string]func(*yaml.Node){
		"id":          func(n *yaml.Node) { p.str(n, "fact id", &f.ID) },
		"kind":        func(n *yaml.Node) { p.str(n, "kind", &f.Kind) },
		"subject":     func(n *yaml.Node) { p.str(n, "subject", &f.Subject) },
		"observed_at": func(n *yaml.Node) { p.time(n, "observed_at", &f.ObservedAt) },
		"payload": func(n *yaml.Node) {
			var v map[string]any
			if err := n.Decode(&v); err != nil {
				// A key given twice is a *yaml.TypeError "line N: mapping key ... already defined".
				var te *yaml.TypeError
				if errors.As(err, &te) && len(te.Errors) > 0 && strings.Contains(te.Errors[0], "already defined") {
					_, msg, _ := strings.Cut(te.Errors[0], ": ")
					p.errorf(n, "example payload: %s", msg)
					return
				}
				p.errorf(n, "payload must be a mapping")
				return
			}
			for k, x := range v {
				if t, ok := x.(time.Time); ok {
					v[k] = t.Format(time.RFC3339Nano)
				}
			}
			f.Payload, _ = json.Marshal(v)
		},
	}, "id", "kind", "payload")
	if len(p.errs) > nerr {
		return f, false
	}
	if f.ObservedAt.IsZero() {
		f.ObservedAt = EventTime(f.Kind, f.Payload)
	}
	if err := ValidateFact(&f, ex.now); err != nil {
		ex.bad = true
		p.exErrs = append(p.exErrs, &PosError{File: p.name, Line: n.Line,
			Msg: fmt.Sprintf("example %q: fact %s: %s", ex.name, f.ID, healthcode.ErrorMessage(err))})
		return f, false
	}
	return f, true
}

// runExamples evaluates every example and checks that every rule has one
// that matches it.
func (rs *Ruleset) runExamples() []error {
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &PosError{File: rs.name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	covered := map[string]bool{}
	for _, ex := range rs.examples {
		if ex.bad {
			continue
		}
		got, err := rs.Evaluate(Input{Facts: ex.facts, Areas: ex.areas, Now: ex.now})
		if err != nil {
			fail(ex.line, "example %q: %v", ex.name, err)
			continue
		}
		covered[got.Rule] = true
		if got.Colour != ex.colour || got.Rule != ex.rule {
			fail(ex.line, "example %q: got %s, want %s", ex.name, describe(got.Colour, got.Rule), describe(ex.colour, ex.rule))
			continue
		}
		if ex.wantFacts && !slices.Equal(got.FactIDs, sorted(ex.factIDs)) {
			fail(ex.line, "example %q: got facts [%s], want [%s]", ex.name, strings.Join(got.FactIDs, " "), strings.Join(sorted(ex.factIDs), " "))
		}
	}
	for _, r := range rs.rules {
		if !covered[r.ID] {
			fail(r.Line, "rule %s: no example matches it", r.ID)
		}
	}
	return errs
}

func describe(c healthcode.Colour, rule string) string {
	if rule == "" {
		return fmt.Sprintf("%s (no rule)", c)
	}
	return fmt.Sprintf("%s (rule %s)", c, rule)
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
