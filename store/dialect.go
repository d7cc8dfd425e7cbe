package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/healthcode/healthcode"
)

// dialect is the little that differs between the engines.
type dialect interface {
	name() string
	rebind(query string) string // `?` placeholders to the engine's
	lockHead() string           // the statement that takes the sequencer lock
	maxParams() int
	// snapshotOptions begins a read-only transaction that sees one
	// consistent state of the database throughout.
	snapshotOptions() *sql.TxOptions
	// analyze refreshes the planner's statistics of the tables named
	// (every table when none is) that have none or have changed by a tenth
	// since they were taken.
	analyze(ctx context.Context, db *sql.DB, tables ...string) error
}

// limit appends a LIMIT clause (the same in both dialects today; kept here
// so a dialect that differs has one place to say so).
func limitClause(q string, n int) string { return q + " LIMIT " + strconv.Itoa(n) }

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return SQLite }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) lockHead() string {
	return "SELECT size, root, checkpoint FROM log_head WHERE id = 1"
}                                    // BEGIN IMMEDIATE already holds the lock
func (sqliteDialect) maxParams() int { return 32000 }

// snapshotOptions: a deferred transaction reads one WAL snapshot.
func (sqliteDialect) snapshotOptions() *sql.TxOptions { return nil }

// analyze: SQLite's planner needs no statistics for these queries.
func (sqliteDialect) analyze(context.Context, *sql.DB, ...string) error { return nil }

type postgresDialect struct{}

func (postgresDialect) name() string { return Postgres }
func (postgresDialect) lockHead() string {
	return "SELECT size, root, checkpoint FROM log_head WHERE id = 1 FOR UPDATE"
}
func (postgresDialect) maxParams() int { return 65000 }

func (postgresDialect) snapshotOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// analyze runs ANALYZE where autovacuum would, for a server whose
// autovacuum is off or has not caught up with a bulk load. Without
// statistics PostgreSQL guesses that a jurisdiction prefix matches few
// residents and sorts a sequential scan for every chunk of a job (a
// 1,000,000-resident job took 118 s instead of 17), and a statement that
// a connection has run five times keeps the generic plan made then: made
// while a table was nearly empty, it scans the whole table for each lookup
// (building 1,000,000 residents slowed to a few hundred per second by
// 75,000). New statistics replace such plans. A table counts as changed
// as autovacuum counts it (its default analyze threshold: 50 rows and a
// tenth of the table): without the 50 a three-row table was analyzed again
// when another connection's insert statistics arrived late, which they do
// by up to a second.
func (postgresDialect) analyze(ctx context.Context, db *sql.DB, tables ...string) error {
	if tables == nil {
		tables = []string{}
	}
	rows, err := db.QueryContext(ctx, `SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND (cardinality($1::text[]) = 0 OR relname = ANY($1))
		AND (COALESCE(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > 50 + n_live_tup / 10)`, tables)
	if err != nil {
		return err
	}
	stale, err := scanStrings(rows)
	if err != nil || len(stale) == 0 {
		return err
	}
	for i, t := range stale {
		stale[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	_, err = db.ExecContext(ctx, "ANALYZE "+strings.Join(stale, ", "))
	return err
}

// rebind turns `?` into $1, $2, ... (no query here has a literal `?`).
func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// isUniqueViolation reports whether err is either engine's unique or
// primary-key constraint failure.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports whether err is either engine's foreign-key
// failure.
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// conflictOr maps a unique violation to ECONFLICT with msg, a foreign-key
// violation to EINVALID, and passes anything else through.
func conflictOr(err error, msg string) error {
	switch {
	case err == nil:
		return nil
	case isUniqueViolation(err):
		return healthcode.Errorf(healthcode.ECONFLICT, "%s", msg)
	case isForeignKeyViolation(err):
		return healthcode.Errorf(healthcode.EINVALID, "%s: refers to something that does not exist", msg)
	}
	return err
}
