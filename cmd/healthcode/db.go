package main

import (
	"context"
	"fmt"
	"os"

	"github.com/healthcode/healthcode/store"
)

// dbFlag defines the --db flag every command that opens the database has.
func dbFlag(e *env, fs interface {
	String(name, value, usage string) *string
}) *string {
	return fs.String("db", e.envOr("HEALTHCODE_DB", store.DefaultPath), "database: a SQLite file, sqlite:PATH, or a postgres:// URL (env HEALTHCODE_DB)")
}

// openExisting opens a database that must already exist.
func openExisting(ctx context.Context, e *env, dsn string) (*store.DB, error) {
	if engine, target, err := store.ParseDSN(dsn); err == nil && engine == store.SQLite {
		if _, err := os.Stat(target); err != nil {
			return nil, fmt.Errorf("no database at %s", target)
		}
	}
	st, err := store.Open(ctx, dsn, store.Options{Logger: quietLogger(), KeySecret: optionalKeySecret(e, dsn)})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// closeStore closes st at the end of a command (defer closeStore(st, &err)):
// a failure to close, such as the last write of a SQLite file, is the
// command's error unless it has one already.
func closeStore(st *store.DB, err *error) {
	if cerr := st.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close database: %w", cerr)
	}
}
