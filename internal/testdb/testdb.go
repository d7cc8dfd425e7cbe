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
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvPostgres + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
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
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
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
