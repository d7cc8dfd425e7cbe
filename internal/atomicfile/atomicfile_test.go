package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/healthcode/healthcode/internal/atomicfile"
)

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	for _, want := range []string{"first", "second, longer than the first"} {
		if err := atomicfile.Write(path, []byte(want), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	mustMode(t, path, 0o640)
	mustOnly(t, filepath.Join(dir, "sub"), "state.json")
}

func TestCreateKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := atomicfile.Create(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.Create(path, []byte("two"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: got %v, want an error that is fs.ErrExist", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "one" {
		t.Errorf("got %q, want the first content", got)
	}
	mustMode(t, path, 0o600)
	mustOnly(t, dir, "secret")
}

func mustMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// mustOnly checks that dir holds only name: no temporary file is left.
func mustOnly(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != name {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want only %s", dir, names, name)
	}
}
