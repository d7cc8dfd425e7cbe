package healthcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// jsonTagged are the exported types of this package allowed to carry json
// tags, each with the reason: only a type whose JSON is the log's or the
// storage's format belongs here (changing it would break the verification
// of existing logs), never the API's. The API's JSON shapes are the
// server's (server/wire.go); the log's event payloads are store's (the ev
// types of store/apply.go). None is needed today.
var jsonTagged = map[string]string{}

// TestNoJSONTags fails when an exported type of the root package carries
// a json struct tag, at any depth of its struct fields, and is not in
// jsonTagged: the domain does not know the wire format.
func TestNoJSONTags(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	tagged := map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				if ts.Name.IsExported() {
					checkJSONTags(t, fset, ts, tagged)
				}
			}
		}
	}
	var stale []string
	for name := range jsonTagged {
		if !tagged[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		t.Errorf("jsonTagged names %s, which carries no json tag (any more): remove it", name)
	}
}

// checkJSONTags reports the json tags of ts's fields, at any depth, unless
// jsonTagged allows them, and notes in tagged that ts has some.
func checkJSONTags(t *testing.T, fset *token.FileSet, ts *ast.TypeSpec, tagged map[string]bool) {
	t.Helper()
	ast.Inspect(ts.Type, func(n ast.Node) bool {
		field, ok := n.(*ast.Field)
		if !ok || field.Tag == nil {
			return true
		}
		tag, err := strconv.Unquote(field.Tag.Value)
		if err != nil {
			t.Errorf("%s: tag %s: %v", fset.Position(field.Pos()), field.Tag.Value, err)
			return true
		}
		if _, ok := reflect.StructTag(tag).Lookup("json"); !ok {
			return true
		}
		tagged[ts.Name.Name] = true
		if _, ok := jsonTagged[ts.Name.Name]; !ok {
			t.Errorf("%s: %s has a json tag (%s): the API's JSON shapes are the server's (server/wire.go); "+
				"a log or storage format goes in jsonTagged with the reason", fset.Position(field.Pos()), ts.Name.Name, field.Tag.Value)
		}
		return true
	})
}
