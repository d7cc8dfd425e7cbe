package verify

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the verifier apart from the writer: it reads through
// Source alone, so it imports no database (database/sql, a driver) and
// nothing of the project's but the packages it shares by design: the
// domain, the rules, the log's format, and store for its event types,
// codec, Projector and the read-only view's row types.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/healthcode/healthcode":       true,
		"github.com/healthcode/healthcode/rules": true,
		"github.com/healthcode/healthcode/store": true,
		"github.com/healthcode/healthcode/tlog":  true,
		"golang.org/x/mod/sumdb/note":            true,
		"golang.org/x/mod/sumdb/tlog":            true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			switch {
			case path == "database/sql" || strings.HasPrefix(path, "database/sql/"):
				t.Errorf("%s imports %s: the verifier reads only through Source", name, path)
			case !std && !allowed[path]:
				t.Errorf("%s imports %s: not one of the packages the verifier may share with the writer", name, path)
			}
		}
	}
}
