package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/healthcode/healthcode"
)

//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations in order. File names are
// NNNN_description.sql; both dialects have the same numbers (a test checks).
func migrations(d dialect) ([]migration, error) {
	dir := "migrations/" + d.name()
	ents, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", dir, e.Name())
		}
		b, err := migrationFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s/%s and %s have the same number", dir, ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

func latestMigration(d dialect) int {
	ms, _ := migrations(d)
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

func (db *DB) schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, healthcode.Errorf(healthcode.EUNAVAIL, "read schema version of %s: %v", db.dsn, err)
	}
	return v, nil
}

// migrate applies pending migrations, each in its own transaction. Several
// processes starting at once are safe: the PostgreSQL run holds an advisory
// lock, SQLite's BEGIN IMMEDIATE serialises them.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations(db.dialect)
	if err != nil {
		return err
	}
	conn, err := db.wdb.Conn(ctx)
	if err != nil {
		return db.describeOpenError(err)
	}
	defer conn.Close()
	if db.dialect.name() == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7216001)"); err != nil {
			return db.describeOpenError(err)
		}
		defer func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7216001)"); err != nil {
				// A connection that may still hold the lock must not go
				// back to the pool, where it would block every migration.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				db.logger.Warn("releasing the migration lock failed; its connection is discarded", "err", err)
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return db.describeOpenError(err)
	}
	current, err := db.schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	if latest := latestMigration(db.dialect); current > latest {
		return healthcode.Errorf(healthcode.EINVALID, "database %s is at schema %d, newer than this binary knows (%d): upgrade healthcode", db.dsn, current, latest)
	}
	// Every migration not applied yet, in order, also one numbered below
	// the newest applied (a branch's migration that landed after a later
	// number): a database must never silently lack a table.
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var v int
		if err := rows.Scan(&v); err != nil {
			return err
		}
		applied[v] = true
		return nil
	}); err != nil {
		return healthcode.Errorf(healthcode.EUNAVAIL, "read the migrations applied to %s: %v", db.dsn, err)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return db.describeOpenError(err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind("INSERT INTO schema_migrations (version, name) VALUES (?, ?)"), m.version, m.name); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", m.name, err)
		}
		db.logger.Info("applied migration", "migration", m.name, "engine", db.dialect.name())
	}
	return nil
}
