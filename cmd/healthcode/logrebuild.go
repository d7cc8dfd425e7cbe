package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/healthcode/healthcode/store"
)

// runLogRebuild writes a fresh database whose state is the projection of
// another's log: the recovery after state rows were edited behind the
// log's back.
func runLogRebuild(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "log rebuild", "log rebuild --db DB --into NEWDB")
	db := dbFlag(e, fs)
	into := fs.String("into", "", "the new database: a SQLite file that does not exist yet, or an empty postgres:// database")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	st, err := openCopySource(ctx, e, *db, *into)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	start := time.Now()
	if err := st.RebuildInto(ctx, *into, copyProgress(e)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rebuilt %s from the log of %s in %.1fs; check it with: healthcode log verify --db %s\n", *into, *db, time.Since(start).Seconds(), *into)
	return nil
}

// openCopySource checks the --into value of a command that writes a new
// database from db (given, and not an existing SQLite file; an existing
// PostgreSQL database must be empty, which the store checks), then opens
// db.
func openCopySource(ctx context.Context, e *env, db, into string) (*store.DB, error) {
	if into == "" {
		return nil, usagef("--into is required: the new database to write")
	}
	if engine, target, err := store.ParseDSN(into); err != nil {
		return nil, usagef("bad --into: %v", err)
	} else if engine == store.SQLite {
		if _, err := os.Stat(target); err == nil {
			return nil, fmt.Errorf("%s exists: write into a new file", target)
		}
	}
	return openExisting(ctx, e, db)
}

// removeSQLite removes the SQLite database a failed command wrote, if
// dsn names one.
func removeSQLite(dsn string) {
	if engine, target, err := store.ParseDSN(dsn); err == nil && engine == store.SQLite {
		for _, f := range []string{target, target + "-wal", target + "-shm"} {
			_ = os.Remove(f) // best effort after an error already reported; absent files are fine
		}
	}
}

// copyProgress reports the phases of a rebuild, a move or a verify on
// stderr, once a second.
func copyProgress(e *env) func(phase string, done, total int64) {
	last := time.Now()
	return func(phase string, done, total int64) {
		if time.Since(last) > time.Second {
			last = time.Now()
			if total > 0 {
				fmt.Fprintf(e.stderr, "healthcode: %s: %d/%d\n", phase, done, total)
			} else {
				fmt.Fprintf(e.stderr, "healthcode: %s: %d rows\n", phase, done)
			}
		}
	}
}

// runLogMoveOrigin writes a new database that continues a log under a new
// origin (store.MoveOriginInto): for a database created with the shared
// default origin, which witnesses cannot tell from another province's.
func runLogMoveOrigin(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "log move-origin", "log move-origin --db DB --into NEWDB --origin ORIGIN")
	db := fs.String("db", e.envOr("HEALTHCODE_DB", store.DefaultPath), "database whose log moves (its server stopped): a SQLite file, sqlite:PATH, or a postgres:// URL")
	into := fs.String("into", "", "the new database: a SQLite file that does not exist yet, or an empty postgres:// database")
	origin := fs.String("origin", "", "the new origin, e.g. hc.henan.gov.cn/log (the public URL's host and path + /log)")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	if *origin == "" {
		return usagef("--origin is required: the log's new origin")
	}
	st, err := openCopySource(ctx, e, *db, *into)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	m, err := st.MoveOriginInto(ctx, *into, *origin, copyProgress(e))
	if err != nil {
		removeSQLite(*into) // a move that failed half-way leaves no database behind
		return err
	}
	fmt.Fprintf(e.stdout, "moved the log of %s (origin %s) into %s: origin %s, entry %d cites the old log's final checkpoint\n", *db, m.FromOrigin, *into, m.Origin, m.Index)
	fmt.Fprintf(e.stdout, "new log verifier key (publish it): %s\n", m.Key)
	fmt.Fprintf(e.stdout, "serve %s from now on (and stop serving %s); check it with: healthcode log verify --db %s\n", *into, *db, *into)
	return nil
}
