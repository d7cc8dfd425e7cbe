package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"gopkg.in/yaml.v3"

	"github.com/healthcode/healthcode"
)

// A Ruleset is a parsed, compiled and checked ruleset file. It is immutable
// and safe for concurrent use.
type Ruleset struct {
	name        string
	source      []byte
	id          string
	version     int
	scope       string
	legal       LegalBasis
	effectiveAt time.Time
	rules       []*rule
	order       []*rule // evaluation order: most severe first, then file order
	examples    []*example
	env         *cel.Env
	mu          sync.Mutex // held while compiling a combined program
	combined    sync.Map   // uint32 → *combined: by the set of kinds a resident has facts of
	kinds       []bool     // kinds any rule reads, indexed like kinds
	nowKinds    []bool     // kinds read by rules that also read now
	durations   []int64    // duration literals in rules that read now, in ns
	instants    []int64    // timestamp literals, in ns since 1970
	cost        uint64     // the sum of the rules' worst-case costs
}

// LegalBasis is the published order a ruleset implements.
type LegalBasis struct {
	Number string // e.g. 联防联控机制综发〔2022〕71号
	Title  string
}

// A Rule is one rule of a ruleset as published.
type Rule struct {
	ID        string
	Colour    healthcode.Colour
	Reason    map[string]string // "zh-CN" and "en"
	Condition string            // CEL
	Line      int               // line of the condition in the file
}

// PosError is an error at a position in a ruleset file. It formats as
// FILE:LINE: message, or FILE:LINE:COL: message when the column is known,
// and unwraps to a *healthcode.Error of code EINVALID.
type PosError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *PosError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (e *PosError) Unwrap() error {
	return &healthcode.Error{Code: healthcode.EINVALID, Field: fmt.Sprintf("%s:%d", e.File, e.Line), Message: e.Msg}
}

// ID returns the ruleset's id.
func (rs *Ruleset) ID() string { return rs.id }

// Version returns the ruleset's version.
func (rs *Ruleset) Version() int { return rs.version }

// Scope returns the code of the jurisdiction the ruleset applies to.
func (rs *Ruleset) Scope() string { return rs.scope }

// LegalBasis returns the order the ruleset implements.
func (rs *Ruleset) LegalBasis() LegalBasis { return rs.legal }

// EffectiveAt returns when the ruleset takes effect.
func (rs *Ruleset) EffectiveAt() time.Time { return rs.effectiveAt }

// Cost returns the sum of the rules' worst-case CEL costs, at most
// BudgetLimit.
func (rs *Ruleset) Cost() uint64 { return rs.cost }

// Name returns the file name the ruleset was parsed from.
func (rs *Ruleset) Name() string { return rs.name }

// Source returns the ruleset file as published, byte for byte.
func (rs *Ruleset) Source() []byte { return append([]byte(nil), rs.source...) }

// Rules returns the rules in file order.
func (rs *Ruleset) Rules() []Rule {
	out := make([]Rule, len(rs.rules))
	for i, r := range rs.rules {
		out[i] = r.Rule
		out[i].Reason = map[string]string{"zh-CN": r.Reason["zh-CN"], "en": r.Reason["en"]}
	}
	return out
}

// Parse parses a ruleset file, type-checks and compiles every rule, and
// rejects rules that read nothing of the schema or that hold for a resident
// with no facts. Every error is a *PosError; several are joined. Parse does
// not run the file's examples: Check does.
func Parse(name string, data []byte) (*Ruleset, error) {
	p := &parser{name: name}
	rs := p.parse(data)
	if errs := append(p.errs, p.exErrs...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// Check parses a ruleset like Parse, then runs its examples and checks that
// every rule has one. It returns every error found, each a *PosError that
// reads FILE:LINE: message, for `healthcode rules check`.
func Check(name string, data []byte) []error {
	p := &parser{name: name}
	rs := p.parse(data)
	if len(p.errs) > 0 {
		return append(p.errs, p.exErrs...)
	}
	return append(p.exErrs, rs.runExamples()...)
}

type parser struct {
	name   string
	errs   []error
	exErrs []error  // invalid example facts: Check still runs the other examples
	src    []string // the file's lines
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	line := 1
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &PosError{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling f for each key it knows and reporting
// unknown and missing keys.
func (p *parser) fields(n *yaml.Node, what string, known map[string]func(*yaml.Node), required ...string) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := known[k.Value]
		switch {
		case !ok:
			p.errorf(k, "unknown key %q in %s", k.Value, what)
		case seen[k.Value]:
			p.errorf(k, "duplicate key %q in %s", k.Value, what)
		default:
			seen[k.Value] = true
			f(v)
		}
	}
	for _, r := range required {
		if !seen[r] {
			p.errorf(n, "%s: %s is required", what, r)
		}
	}
}

func (p *parser) str(n *yaml.Node, what string, dst *string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.errorf(n, "%s must be a non-empty string", what)
		return
	}
	*dst = n.Value
}

func (p *parser) time(n *yaml.Node, what string, dst *time.Time) {
	t, err := time.Parse(time.RFC3339, n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		p.errorf(n, "%s must be an RFC 3339 time, like 2022-06-14T00:00:00+08:00", what)
		return
	}
	*dst = t.UTC()
}

func (p *parser) parse(data []byte) *Ruleset {
	rs := &Ruleset{name: p.name, source: append([]byte(nil), data...)}
	p.src = strings.Split(string(data), "\n")
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := 1, err.Error()
		// yaml.v3 reports "yaml: line N: message".
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if i := strings.Index(rest, ": "); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					line, msg = n, rest[i+2:]
				}
			}
		}
		p.errs = append(p.errs, &PosError{File: p.name, Line: line, Msg: "yaml: " + msg})
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.errorf(nil, "the file is empty")
		return nil
	}
	top := doc.Content[0]
	var rulesNode, examplesNode *yaml.Node
	p.fields(top, "ruleset", map[string]func(*yaml.Node){
		"id": func(n *yaml.Node) { p.str(n, "id", &rs.id) },
		"version": func(n *yaml.Node) {
			v, err := strconv.Atoi(n.Value)
			if n.Kind != yaml.ScalarNode || err != nil || v < 1 {
				p.errorf(n, "version must be a positive integer")
			}
			rs.version = v
		},
		"scope": func(n *yaml.Node) {
			p.str(n, "scope", &rs.scope)
			if _, err := healthcode.LevelOf(rs.scope); rs.scope != "" && err != nil {
				p.errorf(n, "scope: %s", healthcode.ErrorMessage(err))
			}
		},
		"legal_basis": func(n *yaml.Node) {
			p.fields(n, "legal_basis", map[string]func(*yaml.Node){
				"number": func(n *yaml.Node) { p.str(n, "legal_basis.number", &rs.legal.Number) },
				"title":  func(n *yaml.Node) { p.str(n, "legal_basis.title", &rs.legal.Title) },
			}, "number", "title")
		},
		"effective_at": func(n *yaml.Node) { p.time(n, "effective_at", &rs.effectiveAt) },
		"rules":        func(n *yaml.Node) { rulesNode = n },
		"examples":     func(n *yaml.Node) { examplesNode = n },
	}, "id", "version", "scope", "legal_basis", "effective_at", "rules", "examples")
	if rulesNode != nil {
		p.rules(rs, rulesNode)
	}
	if examplesNode != nil {
		p.examples(rs, examplesNode)
	}
	if len(p.errs) > 0 {
		return nil
	}
	p.compile(rs)
	return rs
}

func (p *parser) rules(rs *Ruleset, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "rules must be a non-empty list")
		return
	}
	ids := map[string]bool{}
	for _, rn := range n.Content {
		r := &rule{}
		var cond *yaml.Node
		p.fields(rn, "rule", map[string]func(*yaml.Node){
			"id": func(n *yaml.Node) {
				p.str(n, "rule id", &r.ID)
				if ids[r.ID] {
					p.errorf(n, "duplicate rule id %q", r.ID)
				}
				ids[r.ID] = true
			},
			"colour": func(n *yaml.Node) {
				c, err := healthcode.ParseColour(n.Value)
				switch {
				case err != nil:
					p.errorf(n, "colour: %s", healthcode.ErrorMessage(err))
				case c == healthcode.Green:
					p.errorf(n, "colour: a rule raises a code to yellow or red; green is what no rule matching means")
				}
				r.Colour = c
			},
			"reason": func(n *yaml.Node) {
				r.Reason = map[string]string{}
				var zh, en string
				p.fields(n, "reason", map[string]func(*yaml.Node){
					"zh-CN": func(n *yaml.Node) { p.str(n, "reason.zh-CN", &zh) },
					"en":    func(n *yaml.Node) { p.str(n, "reason.en", &en) },
				}, "zh-CN", "en")
				r.Reason["zh-CN"], r.Reason["en"] = zh, en
			},
			"condition": func(n *yaml.Node) {
				p.str(n, "condition", &r.Condition)
				cond = n
			},
		}, "id", "colour", "reason", "condition")
		if cond != nil {
			r.Line = cond.Line
			r.node = cond
		}
		rs.rules = append(rs.rules, r)
	}
}
