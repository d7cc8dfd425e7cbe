package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The server warns at start-up about a private file others may read.
func TestWarnLooseModes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	for name, mode := range map[string]os.FileMode{"h.db": 0o644, "h.db-wal": 0o600, keySecretFile: 0o640} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	warnLooseModes(slog.New(slog.NewTextHandler(&buf, nil)), privateFiles(db)...)
	got := buf.String()
	for _, want := range []string{"file=" + db + " ", "file=" + filepath.Join(dir, keySecretFile)} {
		if !strings.Contains(got, want) {
			t.Errorf("no warning for %s in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "h.db-wal") {
		t.Errorf("warned about a 0600 file:\n%s", got)
	}
}
