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

// jsonTagged are the exported types of this package (by name) and of
// store (store.Name) allowed to carry json tags, each with the reason:
// only a type whose JSON is the log's, the storage's or another signed
// format belongs here (changing it would break what verifies those
// bytes), never the API's. The API's JSON shapes are the server's
// (server/wire.go); the log's event payloads are store's unexported ev
// types (store/apply.go).
var jsonTagged = map[string]string{
	"store.RecognisedIssuer": "an entry of the signed recognition statement (store.SignRecognition): other provinces verify those bytes",
}

// TestNoJSONTags fails when an exported type of the root package or of
// store carries a json struct tag, at any depth of its struct fields, and
// is not in jsonTagged: the domain and the store do not know the API's
// wire format.
func TestNoJSONTags(t *testing.T) {
	fset := token.NewFileSet()
	tagged := map[string]bool{}
	for _, pkg := range []string{".", "store"} {
		checkPackageJSONTags(t, fset, pkg, tagged)
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

// checkPackageJSONTags checks the exported types of the package in dir.
func checkPackageJSONTags(t *testing.T, fset *token.FileSet, dir string, tagged map[string]bool) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := ""
	if dir != "." {
		prefix = filepath.Base(dir) + "."
	}
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
					checkJSONTags(t, fset, prefix+ts.Name.Name, ts, tagged)
				}
			}
		}
	}
}

// checkJSONTags reports the json tags of the fields of ts (named name),
// at any depth, unless jsonTagged allows them, and notes in tagged that
// it has some.
func checkJSONTags(t *testing.T, fset *token.FileSet, name string, ts *ast.TypeSpec, tagged map[string]bool) {
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
		tagged[name] = true
		if _, ok := jsonTagged[name]; !ok {
			t.Errorf("%s: %s has a json tag (%s): the API's JSON shapes are the server's (server/wire.go); "+
				"a log or storage format goes in jsonTagged with the reason", fset.Position(field.Pos()), name, field.Tag.Value)
		}
		return true
	})
}
