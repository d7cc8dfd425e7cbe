package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"gopkg.in/yaml.v3"
)

type rule struct {
	Rule
	node    *yaml.Node
	prg     cel.Program
	kinds   []int  // the kinds the condition reads (risk_area through areas)
	mask    uint32 // the same as a bit set
	usesNow bool
	cost    uint64 // the condition's worst-case cost (checkCost)
	file    string // the ruleset file's name, for errors
}

// compile type-checks and compiles every rule, analyses what each reads,
// and builds the combined program.
func (p *parser) compile(rs *Ruleset) {
	env, err := newEnv()
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("rules: CEL environment: %w", err))
		return
	}
	rs.kinds = make([]bool, len(kinds))
	rs.nowKinds = make([]bool, len(kinds))
	empty := newPrepared(nil, nil).at(rs.effectiveAt)
	for _, r := range rs.rules {
		r.file = p.name
		ast, iss := env.Compile(r.Condition)
		if iss.Err() != nil {
			for _, e := range iss.Errors() {
				line, col := p.position(r.node, e.Location.Line(), e.Location.Column())
				p.errs = append(p.errs, &PosError{File: p.name, Line: line, Col: col,
					Msg: fmt.Sprintf("rule %s: %s", r.ID, explain(e.Message))})
			}
			continue
		}
		if !ast.OutputType().IsExactType(types.BoolType) {
			p.errorf(r.node, "rule %s: condition is of type %s, not bool", r.ID, ast.OutputType())
			continue
		}
		if found := identifiers(ast); len(found) > 0 {
			for _, f := range found {
				line, col := p.position(r.node, f.line, f.col)
				p.errs = append(p.errs, &PosError{File: p.name, Line: line, Col: col, Msg: fmt.Sprintf("rule %s: %s", r.ID, f.msg)})
			}
			continue
		}
		if msg := p.analyse(rs, r, ast); msg != "" {
			p.errorf(r.node, "rule %s: %s", r.ID, msg)
			continue
		}
		est, msg := checkCost(env, ast)
		if msg != "" {
			p.errorf(r.node, "rule %s: %s", r.ID, msg)
			continue
		}
		r.cost = est
		rs.cost += est
		r.prg, err = program(env, ast, cel.CostLimit(CostLimit))
		if err != nil {
			p.errorf(r.node, "rule %s: %v", r.ID, err)
			continue
		}
		switch ok, err := r.eval(empty); {
		case err != nil:
			p.errorf(r.node, "rule %s: fails for a resident with no facts: %v", r.ID, err)
		case ok:
			p.errorf(r.node, "rule %s: condition holds for a resident with no facts; a code must rest on facts", r.ID)
		}
	}
	if len(p.errs) > 0 {
		return
	}
	if rs.cost > BudgetLimit {
		costly := slices.Clone(rs.rules)
		slices.SortStableFunc(costly, func(a, b *rule) int { return cmp.Compare(b.cost, a.cost) })
		var b strings.Builder
		for i, r := range costly[:min(3, len(costly))] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (line %d) %d", r.ID, r.Line, r.cost)
		}
		p.errorf(nil, "the rules' worst-case costs add up to %d, above the ruleset budget %d (the costliest: %s); merge or simplify rules", rs.cost, BudgetLimit, b.String())
		return
	}
	rs.order = slices.Clone(rs.rules)
	slices.SortStableFunc(rs.order, func(a, b *rule) int { return b.Colour.Severity() - a.Colour.Severity() })
	rs.env = env
	if _, err := rs.combinedFor(1<<len(kinds) - 1); err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: combining the rules: %w", p.name, err))
	}
}

// combined is the rules that read at least one of a set of kinds, in
// evaluation order, as one conditional expression: the index of the first
// matching rule, or -1. One program for all rules saves the per-program
// overhead.
type combined struct {
	prg   cel.Program // nil if no rule applies
	rules []*rule
}

// combinedFor returns the combined program for the rules that read a kind
// in mask (a bit per kind index), compiling it on first use.
func (rs *Ruleset) combinedFor(mask uint32) (*combined, error) {
	if c, ok := rs.combined.Load(mask); ok {
		return c.(*combined), nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if c, ok := rs.combined.Load(mask); ok {
		return c.(*combined), nil
	}
	c := &combined{}
	var b strings.Builder
	for _, r := range rs.order {
		if r.mask&mask != 0 {
			fmt.Fprintf(&b, "(%s\n) ? %d : ", r.Condition, len(c.rules))
			c.rules = append(c.rules, r)
		}
	}
	if len(c.rules) > 0 {
		b.WriteString("-1")
		ast, iss := rs.env.Compile(b.String())
		if iss.Err() != nil {
			return nil, iss.Err()
		}
		prg, err := program(rs.env, ast, chargeCalls())
		if err != nil {
			return nil, err
		}
		c.prg = prg
	}
	rs.combined.Store(mask, c)
	return c, nil
}

// analyse records what a checked condition reads: the kinds, now, and the
// duration and timestamp literals (for NextChange). It returns a message if
// the condition reads no facts or shadows a variable.
func (p *parser) analyse(rs *Ruleset, r *rule, ast *cel.Ast) string {
	var msg string
	celast.PreOrderVisit(celast.NavigateAST(ast.NativeRep()), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			switch e.AsIdent() {
			case "areas":
				r.addKind(kindIndex(KindRiskArea))
			case "now":
				r.usesNow = true
			}
		case celast.SelectKind:
			s := e.AsSelect()
			if op := s.Operand(); op.Kind() == celast.IdentKind && op.AsIdent() == "facts" {
				for i, k := range kinds {
					if k.List != "" && k.List == s.FieldName() {
						r.addKind(i)
					}
				}
			}
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			for _, v := range []string{c.IterVar(), c.IterVar2()} {
				if v == "facts" || v == "areas" || v == "now" {
					msg = fmt.Sprintf("a variable may not be named %s", v)
				}
			}
		case celast.CallKind:
			c := e.AsCall()
			if len(c.Args()) != 1 || c.Args()[0].Kind() != celast.LiteralKind {
				break
			}
			s, ok := c.Args()[0].AsLiteral().(types.String)
			if !ok {
				break
			}
			switch c.FunctionName() {
			case "duration":
				if d, err := time.ParseDuration(string(s)); err == nil && !slices.Contains(rs.durations, int64(d)) {
					rs.durations = append(rs.durations, int64(d))
				}
			case "timestamp":
				if t, err := time.Parse(time.RFC3339, string(s)); err == nil {
					rs.instants = append(rs.instants, t.UnixNano())
				}
			}
		}
	}))
	if msg != "" {
		return msg
	}
	if len(r.kinds) == 0 {
		return "condition reads no facts; a rule must read facts.<kind> or areas (see docs/facts.md)"
	}
	for _, k := range r.kinds {
		rs.kinds[k] = true
		if r.usesNow {
			rs.nowKinds[k] = true
		}
	}
	// The visits' windows decide which areas a resident's areas map holds.
	if r.mask&(1<<kindIndex(KindRiskArea)) != 0 {
		rs.kinds[kindIndex(KindAreaVisit)] = true
	}
	return ""
}

func (r *rule) addKind(k int) {
	r.mask |= 1 << k
	if !slices.Contains(r.kinds, k) {
		r.kinds = append(r.kinds, k)
		slices.Sort(r.kinds)
	}
}

// explain makes CEL's messages about names outside the schema say why.
func explain(msg string) string {
	switch {
	case strings.HasPrefix(msg, "undefined field"):
		return msg + ": rules may read only the fact schema (docs/facts.md)"
	case strings.HasPrefix(msg, "undeclared reference"):
		return msg + ": rules may read only facts, areas and now"
	}
	return msg
}

// position maps a CEL location (1-based line, 0-based column within the
// condition) to a line and 1-based column in the file. The column is 0
// (unknown) for folded scalars, whose lines CEL sees joined.
func (p *parser) position(n *yaml.Node, line, col int) (int, int) {
	if line < 1 {
		line = 1
	}
	switch n.Style {
	case yaml.LiteralStyle:
		// The block's indentation is that of its first line.
		if n.Line < len(p.src) {
			first := p.src[n.Line]
			indent := len(first) - len(strings.TrimLeft(first, " "))
			return n.Line + line, indent + col + 1
		}
		return n.Line + line, 0
	case yaml.FoldedStyle:
		return n.Line + 1, 0
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 {
			return n.Line, n.Column + 1 + col
		}
		return n.Line + line - 1, 0
	}
	if line == 1 {
		return n.Line, n.Column + col
	}
	return n.Line + line - 1, 0
}
