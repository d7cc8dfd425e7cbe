package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// Two servers on one host with the default auditor projection take one
// file each (the second numbered), not one shared file; a server given a
// path in use is refused with a clear error; a server started after one
// stopped takes the file it left.
func TestAuditorDefaultPathPerServer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(ctx, path, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, p1, err := openAuditor(ctx, st, path, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	second, p2, err := openAuditor(ctx, st, path, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != path+".audit" || p2 != path+"-2.audit" {
		t.Errorf("default projections %s and %s, want %s.audit and %s-2.audit", p1, p2, path, path)
	}
	if _, _, err := openAuditor(ctx, st, path, p1, time.Hour); !errors.Is(err, store.ErrAuditPathInUse) || !strings.Contains(err.Error(), "--audit-path") {
		t.Errorf("an explicit path in use: %v, want ErrAuditPathInUse naming --audit-path", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, p3, err := openAuditor(ctx, st, path, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p3 != p1 {
		t.Errorf("after the first stopped: %s, want its file %s", p3, p1)
	}
	for _, a := range []*store.Auditor{second, third} {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
