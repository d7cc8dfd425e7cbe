package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// rawMeta reads a meta value straight from the database, as an insider
// holding the file (or a backup, or a replica) would.
func rawMeta(t *testing.T, dsn, key string) string {
	t.Helper()
	raw, _ := openRaw(t, dsn)
	defer raw.Close()
	var v string
	if err := raw.QueryRow("SELECT value FROM meta WHERE key = '" + key + "'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// assertInsiderCannotSign checks that what the database holds in the log
// key row cannot sign a checkpoint that verifies under the published key,
// and that the ID HMAC key row does not hold the key in clear.
func assertInsiderCannotSign(t *testing.T, dsn string, db *store.DB, idKey []byte) {
	t.Helper()
	skey := rawMeta(t, dsn, "log_signer_key")
	if signer, err := note.NewSigner(skey); err == nil {
		verifier, err := note.NewVerifier(db.LogVerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		forged, err := tlog.SignCheckpoint(signer, db.LogOrigin(), 99, sumtlog.Hash{1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tlog.OpenCheckpoint(forged, verifier, db.LogOrigin()); err == nil {
			t.Fatalf("the stored log key %.20s... signs a checkpoint that verifies under the published key", skey)
		}
	}
	v := rawMeta(t, dsn, "id_hmac_key")
	if idKey != nil && (strings.Contains(v, base64.StdEncoding.EncodeToString(idKey)) || bytes.Contains([]byte(v), idKey)) {
		t.Fatalf("the ID HMAC key is stored in clear: %q", v)
	}
	if k, err := base64.StdEncoding.DecodeString(v); err == nil && len(k) == 32 {
		t.Fatalf("the ID HMAC key is stored in clear: %q", v)
	}
}

func openWithSecret(t *testing.T, dsn string, secret []byte) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, KeySecret: secret})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	return db
}

// A new database opened with the key secret stores its log key and ID key
// sealed; the server still signs; a copy opened without the secret refuses
// to sign, saying why.
func TestKeysSealedAtRest(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := openWithSecret(t, dsn, keySecret)
		if err := db.CreateJurisdictions(system, testTree); err != nil {
			t.Fatal(err)
		}
		h := db.HashNationalID("410105199001011234")
		assertInsiderCannotSign(t, dsn, db, nil)
		db.Close()

		// Without the secret: opens (for reading) but cannot write.
		ro, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		err = ro.CreateJurisdictions(system, newCounty)
		if !errors.Is(err, store.ErrNoKeySecret) {
			t.Fatalf("write without the secret: got %v, want ErrNoKeySecret", err)
		}
		if err := ro.CanSign(); !errors.Is(err, store.ErrNoKeySecret) {
			t.Fatalf("CanSign without the secret: %v, want ErrNoKeySecret", err)
		}
		if ro.HashNationalID("410105199001011234") != nil {
			t.Fatal("ID hash computed without the secret")
		}
		ro.Close()

		// With the secret again: same ID hash, signing works.
		db = openWithSecret(t, dsn, keySecret)
		defer db.Close()
		if got := db.HashNationalID("410105199001011234"); !bytes.Equal(got, h) {
			t.Fatalf("ID hash changed across reopen: %x, want %x", got, h)
		}
		if err := db.CanSign(); err != nil {
			t.Fatalf("CanSign with the secret: %v", err)
		}
		if err := db.CreateJurisdictions(system, newCounty); err != nil {
			t.Fatal(err)
		}
	})
}

// An old-format database (keys in clear) is sealed when opened with the
// secret, keeping the same log key and ID hashes.
func TestOldDatabaseKeysAreSealed(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		old := mustOpen(t, dsn) // no secret: the format before sealing
		if err := old.CreateJurisdictions(system, testTree); err != nil {
			t.Fatal(err)
		}
		vkey := old.LogVerifierKey()
		h := old.HashNationalID("410105199001011234")
		if got, err := old.KeysInClear(context.Background()); err != nil || strings.Join(got, " ") != "log_signer_key id_hmac_key" {
			t.Fatalf("KeysInClear of a database without a secret = %v, %v; want both keys", got, err)
		}
		old.Close()
		if _, err := note.NewSigner(rawMeta(t, dsn, "log_signer_key")); err != nil {
			t.Fatalf("precondition: old format holds the log key in clear: %v", err)
		}
		idKey, _ := base64.StdEncoding.DecodeString(rawMeta(t, dsn, "id_hmac_key"))

		db := openWithSecret(t, dsn, keySecret)
		defer db.Close()
		if db.LogVerifierKey() != vkey {
			t.Fatalf("log key changed: %s, want %s", db.LogVerifierKey(), vkey)
		}
		if got := db.HashNationalID("410105199001011234"); !bytes.Equal(got, h) {
			t.Fatalf("ID hash changed by sealing")
		}
		assertInsiderCannotSign(t, dsn, db, idKey)
		if got, err := db.KeysInClear(context.Background()); err != nil || len(got) != 0 {
			t.Fatalf("KeysInClear after sealing = %v, %v; want none", got, err)
		}
		if err := db.CreateJurisdictions(system, newCounty); err != nil {
			t.Fatal(err)
		}
		// A wrong secret cannot open the sealed keys.
		if _, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, KeySecret: []byte("the wrong secret, long enough")}); err == nil {
			t.Fatal("opened with a wrong secret")
		}
	})
}

var newCounty = []healthcode.Jurisdiction{{Code: "410106", Name: "x", Level: healthcode.County, Parent: "410100"}}

// A new SQLite database, its -wal and its -shm file are readable by their
// owner only: they hold personal data and the sealed keys.
func TestSQLiteFilesPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db := openWithSecret(t, path, keySecret)
	defer db.Close()
	if err := db.CreateJurisdictions(system, testTree); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, got)
		}
	}
}

// A new database takes the configured new origin; an existing one keeps
// the origin it was created with when none is configured.
func TestNewLogOriginKeptByExistingDatabase(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, NewLogOrigin: "hc.example.org/log"})
		if err != nil {
			t.Fatal(err)
		}
		if got := db.LogOrigin(); got != "hc.example.org/log" {
			t.Fatalf("new database origin %q, want hc.example.org/log", got)
		}
		if err := db.CreateJurisdictions(system, testTree); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db, err = store.Open(context.Background(), dsn, store.Options{Logger: quiet, NewLogOrigin: "healthcode.local/log-12345678"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got := db.LogOrigin(); got != "hc.example.org/log" {
			t.Fatalf("reopened origin %q, want the database's own hc.example.org/log", got)
		}
		if err := db.CreateJurisdictions(system, newCounty); err != nil {
			t.Fatal(err)
		}
		cp, err := db.LogCheckpoint(context.Background())
		if err != nil || !bytes.HasPrefix(cp, []byte("hc.example.org/log\n")) {
			t.Fatalf("checkpoint %q, %v", cp, err)
		}
	})
}
