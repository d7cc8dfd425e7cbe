// Package testdb gives tests a fresh database per test on each engine:
// SQLite in t.TempDir(), and PostgreSQL when HEALTHCODE_TEST_POSTGRES names
// a server (each test gets its own database, dropped afterwards).
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvPostgres names the PostgreSQL server for tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "HEALTHCODE_TEST_POSTGRES"

// Engines runs f as a subtest once per engine, with a fresh database's DSN.
func Engines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, Postgres(t)) })
}

// SQLite returns the path of a new SQLite file in t.TempDir().
func SQLite(t testing.TB) string {
	return filepath.Join(t.TempDir(), "test.db")
}

// Postgres returns the URL of a new, empty PostgreSQL database, dropped when
// the test ends. It skips the test when HEALTHCODE_TEST_POSTGRES is unset.
func Postgres(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvPostgres) == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvPostgres + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	return createPostgres(t, "")
}

// createPostgres creates a database on the HEALTHCODE_TEST_POSTGRES
// server, empty or a copy of template, dropped when the test ends, and
// returns its URL.
func createPostgres(t testing.TB, template string) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	defer func() {
		if err := admin.Close(); err != nil {
			t.Logf("close %s: %v", EnvPostgres, err)
		}
	}()
	var b [6]byte
	rand.Read(b[:])
	name := "hctest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := "CREATE DATABASE " + name
	if template != "" {
		q += " TEMPLATE " + template
	}
	if _, err := admin.ExecContext(ctx, q); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		if err := db.Close(); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Copy returns the DSN of a copy of the database dsn names (as an insider
// with a backup would have it). No store may have it open: close it first.
// A PostgreSQL copy is dropped when the test ends.
func Copy(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return createPostgres(t, strings.TrimPrefix(u.Path, "/"))
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(dsn + suffix)
		if suffix != "" && os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatalf("copy database: %v", err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatalf("copy database: %v", err)
		}
	}
	return dst
}
