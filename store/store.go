// Package store keeps healthcode's state and its transparency log in one
// database: SQLite (the embedded default, one file) or PostgreSQL (the scale
// store), through one code path with `?` placeholders rebound per dialect.
//
// Every state change goes through DB.write, which runs it in a transaction
// together with the log entries it produces; concurrent writers are batched
// into one transaction (group commit). A public method opens its
// transaction, composes small unexported helpers and commits once.
//
// The store imports the domain packages (the root package, tlog); it never
// imports server or cmd.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/healthcode/healthcode"
)

// Options configure a store. The zero value is usable: real clock, crypto
// randomness, default log origin.
type Options struct {
	Now       func() time.Time // the clock; default time.Now
	Rand      io.Reader        // randomness for ids, salts and keys; default crypto/rand
	LogOrigin string           // checkpoint origin line; if empty, the database's own (NewLogOrigin for a new one)
	// NewLogOrigin is the origin of a new database's log when LogOrigin is
	// empty; an existing database keeps the origin it was created with.
	// Default tlog.DefaultOrigin.
	NewLogOrigin string
	Logger       *slog.Logger // default slog.Default()
	Limits       Limits       // accountability thresholds; zero fields take DefaultLimits
	// KeySecret seals the log signing key and the ID HMAC key at rest
	// (sealmeta.go). Without it, a database whose keys are sealed opens
	// for reading but refuses to sign; one whose keys are in clear (or a
	// new one) keeps them in clear.
	KeySecret []byte
	// Observer receives the store's events for metrics (see Observe);
	// default none.
	Observer Observer
}

// DB is an open store.
type DB struct {
	dialect dialect
	db      *sql.DB // reads (and, on PostgreSQL, writes)
	wdb     *sql.DB // writes: on SQLite one connection taking the write lock at BEGIN
	dsn     string  // as given, with any password redacted, for messages

	now       func() time.Time
	rand      io.Reader
	origin    string // the log's origin; "" until initLog reads it when not configured
	newOrigin string // the origin of a new log when origin is ""
	logger    *slog.Logger
	limits    Limits

	log   *logState
	idKey []byte
	// lastTrust is the newest trust material Trust read, served while the
	// database cannot be reached.
	lastTrust atomic.Pointer[TrustMaterial]
	// sideGate puts a login's writes ahead of the committer's next batch
	// on SQLite (see sideWrite): the committer holds it shared for each
	// batch, sideWrite exclusively.
	sideGate sync.RWMutex
	secret   []byte // the key secret, or nil
	rulesets rulesetCache
	jobChunk int // residents per job transaction
	// oldScopes accepts drafts scoped below a province, as before
	// 一省一码: only the tests of the migration set it (SetOldScopes).
	oldScopes bool
	// leafV1 writes v1 leaves, as the code before migration 0013 did:
	// only the tests of that migration set it (SetLeafV1).
	leafV1   bool
	compiled sync.Map // "id@version" → *rules.Ruleset
	impacts  impactCache
	// integrity remembers the integrity alerts raised (codecheck.go).
	integrity integrityState

	// cpuSlots bounds the goroutines doing CPU-bound work for writes
	// before they reach the committer (validating and encoding facts,
	// evaluating on a snapshot) to GOMAXPROCS-1, so that the committer,
	// the single writer and under load the bottleneck, finds a core.
	cpuSlots chan struct{}
	// loginSlots bounds the password checks running at once
	// (Limits.LoginChecks): each takes argon2's 19 MiB.
	loginSlots chan struct{}

	obs atomic.Pointer[Observer] // never nil after Open (see Observe)

	failHook func(name string) // the fault tests' hook (failpoint.go); nil outside them

	closeOnce sync.Once
	closed    chan struct{}
}

// Engine names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DefaultPath is the SQLite file used when no database is named.
const DefaultPath = "healthcode.db"

// Open opens (creating if needed) the database named by dsn and applies
// pending migrations. dsn is a postgres:// or postgresql:// URL for
// PostgreSQL, or "sqlite:PATH" or a plain file path for SQLite.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	db := &DB{now: opt.Now, rand: opt.Rand, origin: opt.LogOrigin, logger: opt.Logger, limits: opt.Limits.withDefaults(), secret: opt.KeySecret, closed: make(chan struct{}), jobChunk: defaultJobChunk,
		cpuSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))}
	db.loginSlots = make(chan struct{}, db.limits.LoginChecks)
	db.Observe(opt.Observer)
	if db.now == nil {
		db.now = time.Now
	}
	if db.rand == nil {
		db.rand = rand.Reader
	}
	db.newOrigin = opt.NewLogOrigin
	if db.newOrigin == "" {
		db.newOrigin = "healthcode.local/log"
	}
	if db.logger == nil {
		db.logger = slog.Default()
	}
	if err := db.open(ctx, dsn); err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		return nil, errors.Join(err, db.closeDBs())
	}
	if err := db.sealMeta(ctx); err != nil {
		return nil, errors.Join(err, db.closeDBs())
	}
	if err := db.initIdentity(ctx); err != nil {
		return nil, errors.Join(err, db.closeDBs())
	}
	if err := db.initLog(ctx); err != nil {
		return nil, errors.Join(err, db.closeDBs())
	}
	if err := db.withdrawSubProvince(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, dsn string) error {
	engine, target, err := ParseDSN(dsn)
	if err != nil {
		return err
	}
	switch engine {
	case Postgres:
		db.dialect = postgresDialect{}
		db.dsn = redact(target)
		db.db, err = sql.Open("pgx", target)
		if err != nil {
			return healthcode.Errorf(healthcode.EINVALID, "bad PostgreSQL URL %s: %v", db.dsn, err)
		}
		db.db.SetMaxOpenConns(16)
		db.wdb = db.db
	case SQLite:
		db.dialect = sqliteDialect{}
		db.dsn = target
		if dir := filepath.Dir(target); dir != "" {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return healthcode.Errorf(healthcode.EINVALID, "SQLite file %s: directory %s does not exist", target, dir)
			}
		}
		// A new database file is created 0600 (SQLite gives its -wal and
		// -shm files the database file's mode): it holds personal data.
		if f, err := os.OpenFile(target, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			if err := f.Close(); err != nil {
				return fmt.Errorf("create sqlite %s: %w", target, err)
			}
		}
		// temp_store(MEMORY): each write request in a group commit runs in
		// a savepoint, whose journal of the pages it changes otherwise
		// spills to a temporary file past 64 KiB (5% of the committer's
		// time at 1,000 facts per request). secure_delete(1): deleted and
		// overwritten content is zeroed, so an erased name is not left in
		// a free page or cell (erase.go).
		pragmas := "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(MEMORY)&_pragma=secure_delete(1)"
		u := "file:" + (&url.URL{Path: target}).EscapedPath() + "?" + pragmas
		if db.db, err = sql.Open("sqlite", u); err != nil {
			return fmt.Errorf("open sqlite %s: %w", target, err)
		}
		db.db.SetMaxOpenConns(8)
		if db.wdb, err = sql.Open("sqlite", u+"&_txlock=immediate"); err != nil {
			return errors.Join(fmt.Errorf("open sqlite %s: %w", target, err), db.db.Close())
		}
		db.wdb.SetMaxOpenConns(1)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.wdb.PingContext(pctx); err != nil {
		return errors.Join(db.describeOpenError(err), db.closeDBs())
	}
	return nil
}

// describeOpenError turns a driver's connection error into a message naming
// the database and what to do.
func (db *DB) describeOpenError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a database"), strings.Contains(msg, "malformed"):
		return healthcode.Errorf(healthcode.EINVALID, "SQLite file %s is not a healthcode database or is corrupt: %v", db.dsn, err)
	case strings.Contains(msg, "readonly"), strings.Contains(msg, "read-only"), strings.Contains(msg, "unable to open"):
		return healthcode.Errorf(healthcode.EUNAVAIL, "cannot open %s for writing: %v", db.dsn, err)
	}
	return healthcode.Errorf(healthcode.EUNAVAIL, "cannot reach database %s: %v", db.dsn, err)
}

// ParseDSN tells which engine a --db value names and returns the driver
// target (a PostgreSQL URL or a SQLite file path).
func ParseDSN(dsn string) (engine, target string, err error) {
	switch {
	case dsn == "":
		return SQLite, DefaultPath, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", healthcode.Errorf(healthcode.EINVALID, "bad PostgreSQL URL: %v", err)
		}
		if u.Host == "" {
			return "", "", healthcode.Errorf(healthcode.EINVALID, "PostgreSQL URL %s names no host", redact(dsn))
		}
		if strings.Trim(u.Path, "/") == "" {
			return "", "", healthcode.Errorf(healthcode.EINVALID, "PostgreSQL URL %s names no database (add /DBNAME)", redact(dsn))
		}
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if p == "" {
			return "", "", healthcode.Errorf(healthcode.EINVALID, "sqlite: names no file (want sqlite:PATH)")
		}
		return SQLite, p, nil
	case strings.Contains(dsn, "://"):
		return "", "", healthcode.Errorf(healthcode.EINVALID, "unsupported database URL %q: want a postgres:// URL, sqlite:PATH or a file path", redact(dsn))
	}
	return SQLite, dsn, nil
}

// redact hides a password in a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Name is the database as given to Open, any password redacted.
func (db *DB) Name() string { return db.dsn }

// Engine returns SQLite or Postgres.
func (db *DB) Engine() string { return db.dialect.name() }

// Close stops the committer and closes the database.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		close(db.closed)
		if db.log != nil {
			db.log.wg.Wait()
		}
		err = db.closeDBs()
	})
	return err
}

func (db *DB) closeDBs() error {
	var errs []error
	if db.wdb != nil && db.wdb != db.db {
		errs = append(errs, db.wdb.Close())
	}
	if db.db != nil {
		errs = append(errs, db.db.Close())
	}
	return errors.Join(errs...)
}

// Ready reports whether the database answers and every migration is applied.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return healthcode.Errorf(healthcode.EUNAVAIL, "database does not answer: %v", err)
	}
	v, err := db.schemaVersion(ctx, db.db)
	if err != nil {
		return err
	}
	if want := latestMigration(db.dialect); v != want {
		return healthcode.Errorf(healthcode.EUNAVAIL, "schema at migration %d, want %d", v, want)
	}
	return nil
}

// Time format for every stored time: UTC, millisecond precision, fixed width
// so that text comparison orders times.
const timeFormat = "2006-01-02T15:04:05.000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeFormat, s)
}

// nowMs is the store clock truncated to milliseconds, the stored precision.
func (db *DB) nowMs() time.Time { return db.now().UTC().Truncate(time.Millisecond) }

// cpuSlot waits for one of the cpuSlots and returns its release.
func (db *DB) cpuSlot(ctx context.Context) (release func(), err error) {
	select {
	case db.cpuSlots <- struct{}{}:
		return func() { <-db.cpuSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
