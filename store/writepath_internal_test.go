package store

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The apply functions are the only code that writes projected rows
// (apply.go): the writer records an entry and applies it through them, in
// the same transaction (Tx.record). TestOnlyApplyWritesProjection reads the
// package's source and fails on any other SQL that writes a projected
// table: every INSERT (OR REPLACE), REPLACE, MERGE, DELETE, TRUNCATE and
// UPDATE in every string, each statement of a string with several, with
// the strings built by concatenation or fmt.Sprintf read as one and
// package-level constants resolved; a write whose table (or, for an
// UPDATE of a projected table, whose columns) is built at run time cannot
// be checked and fails too. An UPDATE may set a projected table's
// operational columns. Outside the apply functions (the methods of
// *projector) only the functions in writeAllowed may write, each for the
// reason given: a rebuild writes a fresh database, never the live one.
func TestOnlyApplyWritesProjection(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	src := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		src[name] = string(b)
	}
	res, err := scanWrites(src, writeAllowed)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.problems {
		t.Error(p)
	}
	// The scan must see the apply functions write every projected table:
	// else it is blind to how they write, or a table is written nowhere.
	for i := range projection {
		if name := projection[i].name; !res.applied[name] {
			t.Errorf("the scan sees no write to %s in the apply functions", name)
		}
	}
	for fn := range writeAllowed {
		if !res.allowedSeen[fn] {
			t.Errorf("writeAllowed lists %s, which writes no projected table (or no longer exists): remove it", fn)
		}
	}
}

// writeAllowed are the functions outside the apply functions that may
// write projected tables, as "file function" (methods as "file
// (*Recv).Name"), each with the reason.
var writeAllowed = map[string]string{
	"rebuild.go copyTable":       "copies every row of a table into a rebuild's fresh target (RebuildInto), never the live database",
	"rebuild.go copyIn":          "copies a table into a rebuild's fresh PostgreSQL target with COPY",
	"rebuild.go copyOperational": "sets the operational and erased personal columns in a rebuild's fresh target",
	"log.go multiInsert":         "builds the multi-row INSERT of insertRows and upsertRows, whose table argument is checked at each call",
	"log.go insertRows":          "passes its table argument on to upsertRows; checked at each call of insertRows",
}

// writeScan is what scanWrites found.
type writeScan struct {
	problems    []string
	applied     map[string]bool // projected tables the apply functions write
	allowedSeen map[string]bool // writeAllowed functions that write a projected table or an unchecked one
}

// hole stands, in a flattened string, for a part built at run time.
const hole = "\x00"

var (
	writeStmt = regexp.MustCompile(`(?i)\b(INSERT(?:\s+OR\s+[A-Z]+)?\s+INTO|REPLACE\s+INTO|MERGE\s+INTO|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|UPDATE)\s+(?:ONLY\s+)?(` + hole + `|[A-Za-z_]\w*)`)
	// An UPDATE that is not a statement: an upsert's DO UPDATE, a row
	// lock's FOR UPDATE.
	notUpdate  = regexp.MustCompile(`(?i)\b(DO|FOR)\s+$`)
	setEnd     = regexp.MustCompile(`(?i)\b(WHERE|FROM|RETURNING)\b`)
	formatVerb = regexp.MustCompile(`%[-+# 0-9.*\[\]]*[a-zA-Z]`)
)

// scanWrites checks the Go files src (name to content) of this package.
func scanWrites(src map[string]string, allowed map[string]string) (*writeScan, error) {
	res := &writeScan{applied: map[string]bool{}, allowedSeen: map[string]bool{}}
	fset := token.NewFileSet()
	var parsed []*ast.File
	names := make([]string, 0, len(src))
	for name := range src {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, src[name], parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
	}
	consts := packageConsts(parsed)
	for i, f := range parsed {
		file := names[i]
		for _, decl := range f.Decls {
			fn, apply := file+" (package level)", false
			if d, ok := decl.(*ast.FuncDecl); ok {
				fn = file + " " + funcName(d)
				apply = isProjectorMethod(d)
			}
			s := &writeScanner{fset: fset, consts: consts, res: res, fn: fn, apply: apply, allowed: allowed[fn] != ""}
			s.inspect(decl)
		}
	}
	return res, nil
}

// writeScanner scans one declaration.
type writeScanner struct {
	fset    *token.FileSet
	consts  map[string]string
	res     *writeScan
	fn      string
	apply   bool // a method of *projector
	allowed bool // in writeAllowed
}

func (s *writeScanner) inspect(n ast.Node) {
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op != token.ADD {
				return true
			}
			text, lit := flattenString(n, s.consts)
			if !lit {
				return true
			}
			s.checkSQL(n.Pos(), text)
			s.inspectOperands(n)
			return false
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if text, err := strconv.Unquote(n.Value); err == nil {
					s.checkSQL(n.Pos(), text)
				}
			}
		case *ast.CallExpr:
			return s.call(n)
		}
		return true
	})
}

// inspectOperands inspects the operands of a concatenation that are
// neither literals nor names: calls whose arguments may hold SQL.
func (s *writeScanner) inspectOperands(e ast.Expr) {
	switch e := e.(type) {
	case *ast.BinaryExpr:
		s.inspectOperands(e.X)
		s.inspectOperands(e.Y)
	case *ast.ParenExpr:
		s.inspectOperands(e.X)
	case *ast.BasicLit, *ast.Ident:
	default:
		s.inspect(e)
	}
}

// call checks the calls that write without an SQL literal of their own
// (insertRows, upsertRows, COPY) or build SQL from a format, and skips
// the messages of errors and log lines; it reports whether to inspect
// the call's parts as usual.
func (s *writeScanner) call(n *ast.CallExpr) bool {
	var name, recv string
	switch f := n.Fun.(type) {
	case *ast.Ident:
		name = f.Name
	case *ast.SelectorExpr:
		name = f.Sel.Name
		if id, ok := f.X.(*ast.Ident); ok {
			recv = id.Name
		}
	}
	switch {
	case (name == "insertRows" || name == "upsertRows") && len(n.Args) > 1:
		text, _ := flattenString(n.Args[1], s.consts)
		table, _, _ := strings.Cut(strings.TrimSpace(text), " ")
		s.checkTable(n.Pos(), name+"(..., "+text+", ...)", "INSERT", table, "")
	case name == "CopyFrom":
		s.checkTable(n.Pos(), "CopyFrom", "COPY", hole, "")
	case name == "insert" && s.apply && len(n.Args) > 0:
		// The projector's own insert: the table the apply function writes.
		if text, lit := flattenString(n.Args[0], s.consts); lit && !strings.Contains(text, hole) {
			s.res.applied[text] = true
		}
	case name == "Sprintf" && recv == "fmt" && len(n.Args) > 0:
		if text, lit := flattenString(n.Args[0], s.consts); lit {
			s.checkSQL(n.Pos(), formatVerb.ReplaceAllString(text, hole))
			for _, a := range n.Args[1:] {
				s.inspect(a)
			}
			return false
		}
	case name == "Errorf" || recv == "errors" || name == "Info" || name == "Warn" || name == "Error" || name == "Debug":
		// A message, not SQL ("insert into %s: %w"); its other arguments
		// are inspected.
		for _, a := range n.Args {
			if _, ok := a.(*ast.BasicLit); !ok {
				s.inspect(a)
			}
		}
		return false
	}
	return true
}

// checkSQL checks every write statement in text.
func (s *writeScanner) checkSQL(pos token.Pos, text string) {
	for _, m := range writeStmt.FindAllStringSubmatchIndex(text, -1) {
		verb := strings.ToUpper(strings.Fields(text[m[2]:m[3]])[0])
		if verb == "UPDATE" && notUpdate.MatchString(text[:m[2]]) {
			continue
		}
		table := text[m[4]:m[5]]
		if strings.EqualFold(table, "SET") {
			continue
		}
		set := ""
		if verb == "UPDATE" {
			set = text[m[5]:]
			if loc := setEnd.FindStringIndex(set); loc != nil {
				set = set[:loc[0]]
			}
		}
		s.checkTable(pos, text, verb, table, set)
	}
}

// checkTable checks one write of table (hole: built at run time); set is
// an UPDATE's SET clause.
func (s *writeScanner) checkTable(pos token.Pos, stmt, verb, table, set string) {
	pt := projTableNamed(table)
	if table != hole && pt == nil {
		return
	}
	if s.apply {
		if pt != nil {
			s.res.applied[table] = true
		}
		return
	}
	if s.allowed {
		s.res.allowedSeen[s.fn] = true
		return
	}
	at := fmt.Sprintf("%s (%s)", s.fset.Position(pos), s.fn)
	show := strings.ReplaceAll(stmt, hole, "…")
	if table == hole {
		s.res.problems = append(s.res.problems, fmt.Sprintf("%s: %s of a table named at run time, which this test cannot check: name the table in the SQL, or write through the apply functions: %q", at, verb, show))
		return
	}
	if verb != "UPDATE" {
		s.res.problems = append(s.res.problems, fmt.Sprintf("%s: %s %s outside the apply functions: %q", at, verb, table, show))
		return
	}
	if strings.Contains(set, hole) {
		s.res.problems = append(s.res.problems, fmt.Sprintf("%s: UPDATE %s sets columns named at run time, which this test cannot check: %q", at, table, show))
		return
	}
	for _, col := range setColumns(set) {
		if !operationalCol(pt, col) {
			s.res.problems = append(s.res.problems, fmt.Sprintf("%s: UPDATE %s sets projected column %s outside the apply functions: %q", at, table, col, show))
		}
	}
}

// setColumns are the columns an UPDATE's SET clause (from after the table
// name) assigns: the name before the first "=" of each top-level item.
func setColumns(set string) []string {
	set = strings.TrimSpace(set)
	if len(set) < 3 || !strings.EqualFold(set[:3], "SET") {
		return nil
	}
	var out []string
	depth, start := 0, 3
	items := []string{}
	for i, r := range set {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, set[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, set[start:])
	for _, it := range items {
		name, _, ok := strings.Cut(it, "=")
		if !ok {
			continue
		}
		if f := strings.Fields(name); len(f) > 0 {
			out = append(out, f[len(f)-1])
		}
	}
	return out
}

// flattenString is a string expression's text with every part that is not
// a literal or a package constant as hole; lit reports whether any part is
// a literal or constant.
func flattenString(e ast.Expr, consts map[string]string) (text string, lit bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			if s, err := strconv.Unquote(e.Value); err == nil {
				return s, true
			}
		}
	case *ast.Ident:
		if v, ok := consts[e.Name]; ok {
			return v, true
		}
	case *ast.ParenExpr:
		return flattenString(e.X, consts)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, lx := flattenString(e.X, consts)
			y, ly := flattenString(e.Y, consts)
			return x + y, lx || ly
		}
	}
	return hole, false
}

// packageConsts are the package's string constants given by a literal or
// a concatenation of them.
func packageConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if s, _ := flattenString(vs.Values[i], out); !strings.Contains(s, hole) {
							out[n.Name] = s
						}
					}
				}
			}
		}
	}
	return out
}

func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	r := d.Recv.List[0].Type
	star := ""
	if s, ok := r.(*ast.StarExpr); ok {
		r, star = s.X, "*"
	}
	if id, ok := r.(*ast.Ident); ok {
		return "(" + star + id.Name + ")." + d.Name.Name
	}
	return d.Name.Name
}

func isProjectorMethod(d *ast.FuncDecl) bool {
	return strings.HasPrefix(funcName(d), "(*projector).")
}

// TestWriteScanFindsEvasions: the scan behind TestOnlyApplyWritesProjection
// finds each way a write to a projected table could be written so that a
// simpler scan (the first statement of each literal, tables named in the
// literal) misses it, and passes the writes that are allowed.
func TestWriteScanFindsEvasions(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       string // a substring of the one problem; "" for none
	}{
		{"second statement of a literal", `t.exec("DELETE FROM sessions WHERE id = ?; DELETE FROM facts WHERE uid = ?")`, "DELETE facts"},
		{"table named at run time", `t.exec("DELETE FROM " + table + " WHERE id = ?")`, "named at run time"},
		{"table from a constant", `t.exec("DELETE FROM " + factsTable + " WHERE uid = ?")`, "DELETE facts"},
		{"table from a format", `t.exec(fmt.Sprintf("UPDATE %s SET status = 'x'", table))`, "named at run time"},
		{"insert or replace", `t.exec("INSERT OR REPLACE INTO codes (resident, colour) VALUES (?, ?)")`, "INSERT codes"},
		{"replace into", `t.exec("REPLACE INTO codes (resident, colour) VALUES (?, ?)")`, "REPLACE codes"},
		{"lower case", `t.exec("update facts set status = 'active' where uid = ?")`, "projected column status"},
		{"a projected column among operational ones", `t.exec("UPDATE jobs SET cursor = ?, status = 'done' WHERE id = ?")`, "projected column status"},
		{"columns named at run time", `t.exec("UPDATE jobs SET " + cols + " WHERE id = ?")`, "columns named at run time"},
		{"multi-row insert", `insertRows(t, "codes (resident, colour)", 2, n, row)`, "INSERT codes"},
		{"copy", `conn.CopyFrom(ctx, pgx.Identifier{"facts"}, cols, src)`, "COPY of a table named at run time"},
		{"an upsert of an operational table", `t.exec("INSERT INTO audit_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")`, ""},
		{"operational columns", `t.exec("UPDATE jobs SET cursor = ?, done = COALESCE(?, done) WHERE id = ?")`, ""},
		{"a row lock", `t.query("SELECT size FROM log_head WHERE id = 1 FOR UPDATE")`, ""},
		{"a message", `return fmt.Errorf("insert into %s: %w", table, err)`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := "package store\n\nconst factsTable = \"facts\"\n\nfunc f() {\n\t" + c.body + "\n}\n"
			res, err := scanWrites(map[string]string{"x.go": src}, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.want == "" && len(res.problems) > 0:
				t.Errorf("%s: %v, want none", c.body, res.problems)
			case c.want != "" && (len(res.problems) != 1 || !strings.Contains(res.problems[0], c.want)):
				t.Errorf("%s: %v, want one naming %q", c.body, res.problems, c.want)
			}
		})
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
