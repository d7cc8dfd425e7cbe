package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The apply functions are the only code that writes projected rows
// (apply.go): the writer records an entry and applies it through them, in
// the same transaction (Tx.record). This test reads the package's source
// and fails on any other statement that inserts into or deletes from a
// projected table, or updates a projected column of one. Rebuilding
// (rebuild.go) writes into a fresh database, never the live one, and may.
func TestOnlyApplyWritesProjection(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"apply.go": true, "rebuild.go": true, "erasedcounts.go": true}
	stmt := regexp.MustCompile(`(?is)\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(\w+)(.*)`)
	setCols := regexp.MustCompile(`(?i)(\w+)\s*=`)
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || allowed[name] {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				// insertRows(t, "table (cols)", ...) and upsertRows.
				if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "insertRows" || id.Name == "upsertRows") && len(n.Args) > 1 {
					if lit, ok := n.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						table := strings.Fields(s)[0]
						checked++
						if projTableNamed(table) != nil {
							t.Errorf("%s: %s inserts into projected table %s outside the apply functions", fset.Position(n.Pos()), id.Name, table)
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				m := stmt.FindStringSubmatch(s)
				if m == nil {
					return true
				}
				checked++
				pt := projTableNamed(m[2])
				if pt == nil {
					return true
				}
				verb := strings.ToUpper(strings.Fields(m[1])[0])
				if verb != "UPDATE" {
					t.Errorf("%s: %s %s outside the apply functions: %q", fset.Position(n.Pos()), m[1], m[2], s)
					return true
				}
				set := m[3]
				if i := strings.Index(strings.ToUpper(set), " WHERE "); i >= 0 {
					set = set[:i]
				}
				for _, c := range setCols.FindAllStringSubmatch(set, -1) {
					if col := c[1]; !strings.EqualFold(col, "SET") && !operationalCol(pt, col) {
						t.Errorf("%s: UPDATE %s sets projected column %s outside the apply functions: %q", fset.Position(n.Pos()), m[2], col, s)
					}
				}
			}
			return true
		})
	}
	if checked < 20 {
		t.Fatalf("only %d write statements found: the scan does not see the store's SQL", checked)
	}
}

func operationalCol(t *projTable, name string) bool {
	for _, c := range t.cols {
		if c.name == name {
			return c.class == operational
		}
	}
	return false
}

func projTableNamed(name string) *projTable {
	for i := range projection {
		if projection[i].name == name {
			return &projection[i]
		}
	}
	return nil
}
