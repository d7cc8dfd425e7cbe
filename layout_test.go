package healthcode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeLayout keeps the README's layout section and the tree in step:
// every path it names exists, and every top-level directory, every
// package under internal/ and server/ is named.
func TestReadmeLayout(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Layout\n\n```\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no layout block")
	}
	named := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		path, _, _ := strings.Cut(line, " ")
		if path == "" || path == "*.go" {
			continue
		}
		path = strings.TrimSuffix(path, "/")
		named[path] = true
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the layout names %s: %v", path, err)
		}
	}
	var want []string
	for _, pattern := range []string{"*", "internal/*", "server/*"} {
		dirs, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if st, err := os.Stat(d); err != nil || !st.IsDir() || d == ".git" || !hasGo(d) && pattern != "*" {
				continue
			}
			want = append(want, d)
		}
	}
	for _, d := range want {
		if !named[d] && !coveredBy(named, d) {
			t.Errorf("the README's layout does not name %s/", d)
		}
	}
}

// hasGo reports whether dir holds Go files (a package, not data).
func hasGo(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}

// coveredBy reports whether a top-level directory is named only through
// its sub-directories (internal/demo/ for internal/, bench/peers/ for
// bench/).
func coveredBy(named map[string]bool, d string) bool {
	for n := range named {
		if strings.HasPrefix(n, d+"/") {
			return true
		}
	}
	return false
}
