package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/healthcode/healthcode/internal/atomicfile"
	"github.com/healthcode/healthcode/store"
)

// The key secret seals the signing keys at rest (docs/token.md). It comes
// from HEALTHCODE_KEY_SECRET or, failing that, from the file
// healthcode-key-secret beside the SQLite database (in the working
// directory for PostgreSQL), which demo mode creates with mode 0600. It is
// never printed and never stored in the database.
const (
	envKeySecret  = "HEALTHCODE_KEY_SECRET"
	keySecretFile = "healthcode-key-secret"
)

// keySecretPath is where the secret file lives for a --db value.
func keySecretPath(dsn string) string {
	engine, target, err := store.ParseDSN(dsn)
	if err != nil || engine != store.SQLite {
		return keySecretFile
	}
	return filepath.Join(filepath.Dir(target), keySecretFile)
}

// keySecret returns the key secret for the database dsn and where it came
// from. With create, a missing secret file is generated (demo mode).
// Returns (nil, "", nil) if there is none and create is false.
func keySecret(e *env, dsn string, create bool) ([]byte, string, error) {
	if s := e.getenv(envKeySecret); s != "" {
		return []byte(s), envKeySecret, nil
	}
	path := keySecretPath(dsn)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, err := os.Stat(path)
		if err != nil {
			return nil, "", err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, "", fmt.Errorf("key secret file %s is readable by others (mode %v): run 'chmod 600 %s'", path, st.Mode().Perm(), path)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, "", fmt.Errorf("key secret file %s is empty", path)
		}
		return []byte(s), path, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("read key secret: %w", err)
	case !create:
		return nil, "", nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", err
	}
	s := base64.RawURLEncoding.EncodeToString(raw[:])
	// Never over an existing secret, and never half-written.
	if err := atomicfile.Create(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, "", fmt.Errorf("create key secret file: %w", err)
	}
	return []byte(s), path, nil
}

// mustKeySecret is keySecret for commands that cannot work without one.
func mustKeySecret(e *env, dsn string) ([]byte, error) {
	s, _, err := keySecret(e, dsn, false)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("no key secret: set %s (or put it in %s, mode 0600)", envKeySecret, keySecretPath(dsn))
	}
	return s, nil
}

// optionalKeySecret is the key secret for commands that open the store and
// can do without it (reading a database whose keys are sealed, or one whose
// keys are still in clear); with it, the store seals keys left in clear.
// A secret that cannot be read counts as none: the commands that need it
// report why through mustKeySecret or the store's ErrNoKeySecret.
func optionalKeySecret(e *env, dsn string) []byte {
	s, _, _ := keySecret(e, dsn, false)
	return s
}
