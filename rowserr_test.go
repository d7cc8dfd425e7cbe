package healthcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRowsErrChecked is the check that errcheck (in CI) cannot make: a loop
// `for rows.Next() { ... }` stops at the first error as at the last row,
// and only rows.Err tells which. So the function holding such a loop must
// also call rows.Err(), or end the rows with store's endRows(rows), or
// leave the loop to store's scanRows. rows.Close does not report the
// iteration's error. Test files are not checked.
func TestRowsErrChecked(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, pos := range uncheckedRowLoops(f) {
			t.Errorf("%s: a loop over %s.Next() in a function that never checks %[2]s.Err()", fset.Position(pos.at), pos.rows)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type rowLoop struct {
	at   token.Pos
	rows string
}

// uncheckedRowLoops returns the `for X.Next()` loops of f's functions whose
// function has no X.Err() and no endRows(X).
func uncheckedRowLoops(f *ast.File) []rowLoop {
	var out []rowLoop
	ast.Inspect(f, func(n ast.Node) bool {
		var body *ast.BlockStmt
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body = fn.Body
		case *ast.FuncLit:
			body = fn.Body
		}
		if body == nil {
			return true
		}
		var loops []rowLoop
		checked := map[string]bool{}
		ast.Inspect(body, func(m ast.Node) bool {
			if lit, ok := m.(*ast.FuncLit); ok && lit.Body != body {
				return false // a function of its own, inspected by itself
			}
			if loop, ok := m.(*ast.ForStmt); ok {
				if x, ok := methodCallOn(loop.Cond, "Next"); ok {
					loops = append(loops, rowLoop{loop.Pos(), x})
				}
			}
			if x, ok := methodCallOn(m, "Err"); ok {
				checked[x] = true
			}
			if c, ok := m.(*ast.CallExpr); ok {
				if fun, ok := c.Fun.(*ast.Ident); ok && fun.Name == "endRows" && len(c.Args) == 1 {
					if x, ok := c.Args[0].(*ast.Ident); ok {
						checked[x.Name] = true
					}
				}
			}
			return true
		})
		for _, l := range loops {
			if !checked[l.rows] {
				out = append(out, l)
			}
		}
		return true
	})
	return out
}

// methodCallOn reports whether n is a call X.name() with no arguments on an
// identifier X, and returns X.
func methodCallOn(n ast.Node, name string) (string, bool) {
	c, ok := n.(*ast.CallExpr)
	if !ok || len(c.Args) != 0 {
		return "", false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return "", false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return "", false
	}
	return x.Name, true
}
