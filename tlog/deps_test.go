package tlog

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the package's rule: only the standard library,
// x/mod's sumdb/tlog and sumdb/note, transparency-dev/formats/note for
// witness cosignatures, the root package, and internal/atomicfile and
// internal/filelock (each standard library only).
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"golang.org/x/mod/sumdb/tlog":                          true,
		"golang.org/x/mod/sumdb/note":                          true,
		"github.com/transparency-dev/formats/note":             true, // cosignature/v1 (C2SP tlog-cosignature)
		"github.com/healthcode/healthcode":                     true,
		"github.com/healthcode/healthcode/internal/atomicfile": true,
		"github.com/healthcode/healthcode/internal/filelock":   true,
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if !allowed[path] && strings.Contains(first, ".") {
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}
