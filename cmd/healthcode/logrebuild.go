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
	if *into == "" {
		return usagef("--into is required: the new database to write")
	}
	if engine, target, err := store.ParseDSN(*into); err != nil {
		return usagef("bad --into: %v", err)
	} else if engine == store.SQLite {
		if _, err := os.Stat(target); err == nil {
			return fmt.Errorf("%s exists: rebuild into a new file", target)
		}
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	start := time.Now()
	last := start
	err = st.RebuildInto(ctx, *into, func(phase string, done, total int64) {
		if time.Since(last) > time.Second {
			last = time.Now()
			if total > 0 {
				fmt.Fprintf(e.stderr, "healthcode: %s: %d/%d\n", phase, done, total)
			} else {
				fmt.Fprintf(e.stderr, "healthcode: %s: %d rows\n", phase, done)
			}
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rebuilt %s from the log of %s in %.1fs; check it with: healthcode log verify --db %s\n", *into, *db, time.Since(start).Seconds(), *into)
	return nil
}
