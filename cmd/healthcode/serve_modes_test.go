package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/store"
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

// The server warns at start-up when the database holds its keys in clear
// (created and opened without the key secret), and not once they are
// sealed.
func TestWarnKeysInClear(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	quiet := slog.New(slog.DiscardHandler)
	warned := func(secret []byte) string {
		st, err := store.Open(ctx, path, store.Options{Logger: quiet, KeySecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var buf bytes.Buffer
		warnKeysInClear(ctx, slog.New(slog.NewTextHandler(&buf, nil)), st)
		return buf.String()
	}
	if got := warned(nil); !strings.Contains(got, "keys stored in clear") || !strings.Contains(got, "log_signer_key,id_hmac_key") || !strings.Contains(got, envKeySecret) {
		t.Errorf("no warning for a database without a key secret:\n%s", got)
	}
	if got := warned([]byte("a key secret of at least 32 bytes, for the test")); got != "" {
		t.Errorf("warned about a database whose keys are sealed:\n%s", got)
	}
}
