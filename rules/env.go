package rules

import (
	"fmt"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// The CEL environment is typed from the schema: every kind is a struct type
// (healthcode.TestResult, healthcode.Contact, ...) whose fields are id,
// observed_at and the kind's payload fields, so the checker rejects any
// reference outside the schema before a rule can run. Values are the
// package's own ref.Val objects whose fields are read by index: no
// reflection at evaluation time.
//
// Variables:
//
//	facts  healthcode.Facts: one list per person kind (facts.test_results,
//	       facts.vaccinations, facts.case_statuses, facts.contacts,
//	       facts.area_visits, facts.quarantines), the resident's active facts
//	       within their windows
//	areas  map(string, list(healthcode.RiskArea)): for each area code the
//	       resident visited, the designations of that area or an area
//	       covering it, within their windows
//	now    timestamp

const factsTypeName = "healthcode.Facts"

// typeName returns the CEL type name of a kind: test_result becomes
// healthcode.TestResult.
func typeName(kind string) string {
	var b strings.Builder
	b.WriteString("healthcode.")
	for _, part := range strings.Split(kind, "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

type structType struct {
	t      *types.Type
	names  []string
	fields map[string]*types.FieldType
}

// provider resolves the schema's struct types and defers everything else to
// the base provider.
type provider struct {
	types.Provider
	structs map[string]*structType
}

func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if s, ok := p.structs[name]; ok {
		return types.NewTypeTypeWithParam(s.t), true
	}
	return p.Provider.FindStructType(name)
}

func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if s, ok := p.structs[name]; ok {
		return s.names, true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if s, ok := p.structs[name]; ok {
		ft, ok := s.fields[field]
		return ft, ok
	}
	return p.Provider.FindStructFieldType(name, field)
}

func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.structs[name]; ok {
		return types.NewErr("rules cannot construct %s values", name)
	}
	return p.Provider.NewValue(name, fields)
}

func always(any) bool { return true }

func celType(ft FieldType) *types.Type {
	switch ft {
	case TypeTime:
		return types.TimestampType
	case TypeInt:
		return types.IntType
	case TypeCaseIDs:
		return types.NewListType(types.StringType)
	}
	return types.StringType
}

// kindTypes are the CEL types of the kinds, indexed like kinds.
var kindTypes = func() []*types.Type {
	ts := make([]*types.Type, len(kinds))
	for i, k := range kinds {
		ts[i] = types.NewObjectType(typeName(k.Name))
	}
	return ts
}()

var factsType = types.NewObjectType(factsTypeName)

func newProvider(base types.Provider) *provider {
	p := &provider{Provider: base, structs: map[string]*structType{}}
	facts := &structType{t: factsType, fields: map[string]*types.FieldType{}}
	for i, k := range kinds {
		s := &structType{t: kindTypes[i], fields: map[string]*types.FieldType{}}
		add := func(name string, t *types.Type, idx int) {
			s.names = append(s.names, name)
			s.fields[name] = &types.FieldType{Type: t, IsSet: always, GetFrom: func(o any) (any, error) {
				return o.(*object).d.vals[idx], nil
			}}
		}
		add("id", types.StringType, fieldID)
		add("observed_at", types.TimestampType, fieldObserved)
		for j, fl := range k.Fields {
			add(fl.Name, celType(fl.Type), fieldBase+j)
		}
		p.structs[s.t.TypeName()] = s
		if k.List != "" {
			facts.names = append(facts.names, k.List)
			facts.fields[k.List] = &types.FieldType{Type: types.NewListType(kindTypes[i]), IsSet: always, GetFrom: func(o any) (any, error) {
				return o.(*factsObject).lists[i], nil
			}}
		}
	}
	p.structs[factsTypeName] = facts
	return p
}

// newEnv returns the CEL environment rules are checked and run in.
func newEnv() (*cel.Env, error) {
	base, err := cel.NewEnv()
	if err != nil {
		return nil, err
	}
	riskArea := kindTypes[kindIndex(KindRiskArea)]
	return cel.NewEnv(
		cel.CustomTypeProvider(newProvider(base.CELTypeProvider())),
		cel.Variable("facts", factsType),
		cel.Variable("areas", cel.MapType(cel.StringType, cel.ListType(riskArea))),
		cel.Variable("now", cel.TimestampType),
		areasOfDecl(riskArea),
		cel.ParserExpressionSizeLimit(4000),
		cel.ParserRecursionLimit(100),
	)
}

// object is a fact as a CEL value.
type object struct{ d *decoded }

func (o *object) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("a %s fact cannot leave a rule", kinds[o.d.kind].Name)
}

func (o *object) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return kindTypes[o.d.kind]
	}
	return types.NewErr("cannot convert a %s fact to %s", kinds[o.d.kind].Name, t.TypeName())
}

func (o *object) Equal(other ref.Val) ref.Val {
	p, ok := other.(*object)
	return types.Bool(ok && p.d == o.d)
}

func (o *object) Type() ref.Type { return kindTypes[o.d.kind] }
func (o *object) Value() any     { return o }

// factsObject is the facts variable: one CEL list per kind.
type factsObject struct{ lists []ref.Val }

func (o *factsObject) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("facts cannot leave a rule")
}

func (o *factsObject) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return factsType
	}
	return types.NewErr("cannot convert facts to %s", t.TypeName())
}

func (o *factsObject) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(o)) }
func (o *factsObject) Type() ref.Type              { return factsType }
func (o *factsObject) Value() any                  { return o }

// areasOf is areas[code] as a function. A rule's program calls it instead
// of indexing areas: CEL builds an index qualifier, an allocation, at each
// dynamic lookup, and these lookups were a third of an evaluation. Its
// name cannot be written in a rule (the parser takes no '@'), and like
// the index it fails on an area code not in the map, which cannot happen:
// areas has a key for every visit's area.
const areasOf = "@areas_of"

// areasOfDecl declares areasOf. Its argument types need no check at run
// time (a guard that would walk the whole map at each call): the checker
// has placed each call, on areas and a string.
func areasOfDecl(riskArea *cel.Type) cel.EnvOption {
	return cel.Function(areasOf,
		cel.Overload("areas_of_string", []*cel.Type{cel.MapType(cel.StringType, cel.ListType(riskArea)), cel.StringType}, cel.ListType(riskArea),
			cel.BinaryBinding(func(m, k ref.Val) ref.Val {
				mapper, ok := m.(traits.Mapper)
				if !ok {
					return types.MaybeNoSuchOverloadErr(m)
				}
				if v, ok := mapper.Find(k); ok {
					return v
				}
				return types.NewErr("no such key: %v", k)
			})),
		decls.DisableTypeGuards(true))
}

// areaLookups rewrites each areas[key] of a checked expression into
// @areas_of(areas, key).
type areaLookups struct{}

func (areaLookups) Optimize(ctx *cel.OptimizerContext, a *celast.AST) *celast.AST {
	for _, e := range celast.MatchDescendants(celast.NavigateAST(a), func(e celast.NavigableExpr) bool {
		if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != operators.Index {
			return false
		}
		args := e.AsCall().Args()
		return len(args) == 2 && args[0].Kind() == celast.IdentKind && args[0].AsIdent() == "areas"
	}) {
		args := e.AsCall().Args()
		ctx.UpdateExpr(e, ctx.NewCall(areasOf, args[0], args[1]))
	}
	return a
}

// program plans a checked condition for evaluation, with its area lookups
// rewritten (areaLookups) and CEL's own optimisations.
func program(env *cel.Env, ast *cel.Ast, opts ...cel.ProgramOption) (cel.Program, error) {
	opt, err := cel.NewStaticOptimizer(areaLookups{})
	if err != nil {
		return nil, err
	}
	ast, iss := opt.Optimize(env, ast)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	return env.Program(ast, append(opts, cel.EvalOptions(cel.OptOptimize))...)
}
