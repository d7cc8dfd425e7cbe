package healthcode

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeLayout keeps the README's layout section and the tree in step:
// every path it names exists, every top-level directory is named, and so
// is every package, at any depth.
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
	// Every top-level directory, named or through a sub-directory.
	top, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range top {
		if d.IsDir() && !strings.HasPrefix(d.Name(), ".") && !named[d.Name()] && !coveredBy(named, d.Name()) {
			t.Errorf("the README's layout does not name %s/", d.Name())
		}
	}
	// Every package (a directory holding Go files, at any depth, in this
	// module or another one in the tree), by its own path.
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if path != "." && hasGo(path) && !named[filepath.ToSlash(path)] {
			t.Errorf("the README's layout does not name the package %s/", filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

// TestDocLinks: every relative link in README.md and docs/*.md names a
// file of the repository (none outside it, such as ../shared/), and the
// README links the design, docs/design.md.
func TestDocLinks(t *testing.T) {
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, file := range append([]string{"README.md", "BENCHMARKS.md"}, files...) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target, _, _ := strings.Cut(m[1], "#")
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, err := filepath.Abs(filepath.Join(filepath.Dir(file), target))
				if err != nil {
					t.Fatal(err)
				}
				if rel, err := filepath.Rel(root, path); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					t.Errorf("%s:%d: link %s leaves the repository", file, i+1, m[1])
				} else if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d: link %s: %v", file, i+1, m[1], err)
				}
			}
		}
	}
	if b, err := os.ReadFile("README.md"); err != nil || !strings.Contains(string(b), "](docs/design.md)") {
		t.Errorf("README.md does not link docs/design.md (%v)", err)
	}
}
