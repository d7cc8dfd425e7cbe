package rules

import (
	"cmp"
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// Rules cannot name anyone. A rule that compares an identifier (a fact's
// id, a lab, a vaccine product, a case id, an area code) with a constant is
// a list of people in disguise: facts.test_results.exists(t, t.id in
// ['…']) turns the listed residents red on their own negative tests. So an
// identifier may meet only another identifier (a join: d.case_id ==
// c.case_id, areas[v.area]); only enumerations, numbers and times meet
// constants.
//
// identifiers walks the checked expression and tracks which values carry an
// identifier: a select of an identifier field, a comprehension variable
// ranging over identifiers (the case ids of a designation, the keys of
// areas), and lists, maps and choices built from them. It refuses an
// identifier compared with, looked up in or mixed with something that is
// not one, and an identifier passed to any function (startsWith, contains,
// matches, size of a string, +, string(), ...).

// identifies reports whether a field's values identify someone or
// something: every free-text field does (a source chooses its values), as
// do area codes and case ids. Enumerations, numbers and times do not.
func (f Field) identifies() bool {
	switch f.Type {
	case TypeString, TypeArea, TypeCaseID, TypeCaseIDs:
		return true
	}
	return false
}

// wild is compatible with identifiers and other values alike: an empty
// list or map, and a comprehension's accumulator while its loop step is
// walked (what it holds is what the step puts in it).
const wild = "\x00wild"

type identCheck struct {
	a     *celast.AST
	vars  map[string]string // comprehension variables holding identifiers: the field they come from
	found []identError
}

type identError struct {
	id  int64
	msg string
}

// identifiers returns the positions (CEL line and column) and messages of
// the places where a checked condition names someone.
func identifiers(ast *cel.Ast) []identPos {
	c := &identCheck{a: ast.NativeRep(), vars: map[string]string{}}
	c.walk(c.a.Expr())
	info := c.a.SourceInfo()
	var out []identPos
	for _, e := range c.found {
		loc := info.GetStartLocation(e.id)
		out = append(out, identPos{line: loc.Line(), col: loc.Column(), msg: e.msg})
	}
	slices.SortStableFunc(out, func(a, b identPos) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col))
	})
	return out
}

type identPos struct {
	line, col int
	msg       string
}

func (c *identCheck) refuse(e celast.Expr, format string, args ...any) {
	c.found = append(c.found, identError{e.ID(), fmt.Sprintf(format, args...) + " (docs/facts.md, Rules cannot name anyone)"})
}

// isIdent reports whether a taint is an identifier (not none, not the
// accumulator).
func isIdent(t string) bool { return t != "" && t != wild }

// join combines the taints of values that stand side by side (compared,
// in one list, two branches of a choice): both identifiers or neither. It
// returns the combined taint and the identifier that stands beside a
// non-identifier, if any.
func join(a, b string) (string, string) {
	switch {
	case a == wild:
		return b, ""
	case b == wild:
		return a, ""
	case isIdent(a) && b == "":
		return a, a
	case isIdent(b) && a == "":
		return b, b
	}
	return a, ""
}

// carries reports whether values of a type can hold an identifier: strings
// and collections of them.
func carries(t *types.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case types.StringKind, types.DynKind:
		return true
	case types.ListKind, types.MapKind:
		return slices.ContainsFunc(t.Parameters(), carries)
	}
	return false
}

// walk returns the identifier field e's value carries ("" for none).
func (c *identCheck) walk(e celast.Expr) string {
	switch e.Kind() {
	case celast.IdentKind:
		name := e.AsIdent()
		if t, ok := c.vars[name]; ok {
			return t
		}
		if name == "areas" {
			return "areas (its keys are area codes)"
		}
	case celast.SelectKind:
		s := e.AsSelect()
		t := c.walk(s.Operand())
		if s.IsTestOnly() {
			return ""
		}
		ot := c.a.GetType(s.Operand().ID())
		if isIdent(t) && ot != nil && ot.Kind() == types.MapKind {
			c.refuse(e, "%s may be looked up only by an identifier field, not by the constant key %s", t, s.FieldName())
			return ""
		}
		if ot != nil {
			for i, k := range kinds {
				if ot.TypeName() != kindTypes[i].TypeName() {
					continue
				}
				if s.FieldName() == "id" {
					return k.Name + ".id"
				}
				for _, f := range k.Fields {
					if f.Name == s.FieldName() && f.identifies() {
						return k.Name + "." + f.Name
					}
				}
			}
		}
	case celast.ListKind:
		t := wild
		for _, el := range e.AsList().Elements() {
			var bad string
			t, bad = join(t, c.walk(el))
			if bad != "" {
				c.refuse(el, "%s may not stand in a list beside constants", bad)
			}
		}
		return t
	case celast.MapKind:
		kt, vt := wild, wild
		for _, en := range e.AsMap().Entries() {
			ent := en.AsMapEntry()
			var bad string
			if kt, bad = join(kt, c.walk(ent.Key())); bad != "" {
				c.refuse(ent.Key(), "%s may not stand in a map beside constants", bad)
			}
			if vt, bad = join(vt, c.walk(ent.Value())); bad != "" {
				c.refuse(ent.Value(), "%s may not stand in a map beside constants", bad)
			}
		}
		if isIdent(kt) {
			return kt
		}
		if isIdent(vt) {
			return vt
		}
		if len(e.AsMap().Entries()) == 0 {
			return wild
		}
		return ""
	case celast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			c.walk(f.AsStructField().Value())
		}
	case celast.ComprehensionKind:
		return c.comprehension(e)
	case celast.CallKind:
		return c.call(e)
	}
	return ""
}

func (c *identCheck) comprehension(e celast.Expr) string {
	cp := e.AsComprehension()
	r := c.walk(cp.IterRange())
	c.walk(cp.AccuInit())
	saved := map[string]*string{}
	bind := func(name, t string) {
		if _, ok := saved[name]; !ok {
			old, had := c.vars[name]
			if had {
				saved[name] = &old
			} else {
				saved[name] = nil
			}
		}
		c.vars[name] = t
	}
	elem := ""
	if isIdent(r) {
		elem = r
	}
	bind(cp.IterVar(), elem)
	if cp.HasIterVar2() {
		bind(cp.IterVar2(), elem)
	}
	bind(cp.AccuVar(), wild)
	c.walk(cp.LoopCondition())
	step := c.walk(cp.LoopStep())
	if step == wild {
		step = ""
	}
	bind(cp.AccuVar(), step)
	t := c.walk(cp.Result())
	for name, old := range saved {
		if old == nil {
			delete(c.vars, name)
		} else {
			c.vars[name] = *old
		}
	}
	return t
}

func (c *identCheck) call(e celast.Expr) string {
	call := e.AsCall()
	fn := call.FunctionName()
	var target string
	if call.IsMemberFunction() {
		target = c.walk(call.Target())
	}
	args := make([]string, len(call.Args()))
	for i, a := range call.Args() {
		args[i] = c.walk(a)
	}
	switch fn {
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		if _, bad := join(args[0], args[1]); bad != "" {
			op, _ := operators.FindReverseBinaryOperator(fn)
			c.refuse(e, "%s is an identifier: it may be compared (%s) only with another identifier field, a join such as d.case_id == c.case_id, never with a constant", bad, op)
		}
		return ""
	case operators.In, operators.OldIn:
		if _, bad := join(args[0], args[1]); bad != "" {
			if isIdent(args[0]) {
				c.refuse(e, "%s is an identifier: it may be looked up (in) only in another identifier field, never in a list of constants", bad)
			} else {
				c.refuse(e, "%s may be searched (in) only for another identifier field, never for a constant", bad)
			}
		}
		return ""
	case operators.Index:
		ct := c.a.GetType(call.Args()[0].ID())
		if ct != nil && ct.Kind() == types.MapKind {
			if _, bad := join(args[0], args[1]); bad != "" {
				if isIdent(args[0]) {
					c.refuse(e, "%s may be looked up only by an identifier field, a join such as areas[v.area], never by a constant", bad)
				} else {
					c.refuse(e, "%s is an identifier: it may look up only another identifier field, never a map of constants", bad)
				}
			}
		}
		if isIdent(args[0]) && carries(c.a.GetType(e.ID())) {
			return args[0]
		}
		return ""
	case operators.Conditional:
		t, bad := join(args[1], args[2])
		if bad != "" {
			c.refuse(e, "%s may not be chosen (?:) beside a constant", bad)
		}
		return t
	case operators.Add:
		if rt := c.a.GetType(e.ID()); rt != nil && rt.Kind() == types.ListKind {
			// Concatenating lists, as map and filter accumulate: both
			// identifiers or neither.
			t, bad := join(args[0], args[1])
			if bad != "" {
				c.refuse(e, "%s may not stand in a list beside constants", bad)
			}
			return t
		}
	case "size":
		// A count names no one; the length of a string can.
		a := call.Args()
		if len(a) == 1 && !call.IsMemberFunction() || len(a) == 0 && call.IsMemberFunction() {
			x := call.Target()
			if !call.IsMemberFunction() {
				x = a[0]
			}
			if t := c.a.GetType(x.ID()); t != nil && (t.Kind() == types.ListKind || t.Kind() == types.MapKind) {
				return ""
			}
		}
	}
	for _, t := range append([]string{target}, args...) {
		if isIdent(t) {
			name, ok := operators.FindReverse(fn)
			if !ok {
				name = fn
			}
			c.refuse(e, "%s is an identifier and may not be passed to %s: a rule cannot take identifiers apart or build them", t, name)
			break
		}
	}
	return ""
}
