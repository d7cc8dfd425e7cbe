package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// openRaw opens dsn's database directly, bypassing the store, and says
// which engine it is.
func openRaw(t *testing.T, dsn string) (*sql.DB, string) {
	t.Helper()
	engine, target, err := store.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	driver := map[string]string{store.SQLite: "sqlite", store.Postgres: "pgx"}[engine]
	raw, err := sql.Open(driver, target)
	if err != nil {
		t.Fatal(err)
	}
	return raw, engine
}

// holdLogLock takes the log's sequencer lock from a connection of its own
// (BEGIN IMMEDIATE on SQLite, the log head row FOR UPDATE on PostgreSQL),
// so that the store's committer waits and writes queue up behind it. The
// returned function releases the lock.
func holdLogLock(t *testing.T, dsn string) (release func()) {
	t.Helper()
	ctx := context.Background()
	raw, engine := openRaw(t, dsn)
	begin, lock := "BEGIN IMMEDIATE", "SELECT size FROM log_head WHERE id = 1"
	if engine == store.Postgres {
		begin, lock = "BEGIN", "SELECT size FROM log_head WHERE id = 1 FOR UPDATE"
	}
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		t.Fatalf("take the log lock: %v", err)
	}
	if err := conn.QueryRowContext(ctx, lock).Scan(&size); err != nil {
		t.Fatalf("take the log lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Errorf("release the log lock: %v", err)
			}
			conn.Close()
			raw.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// mustCountCommits returns how many checkpoints were signed past size:
// one per group commit.
func mustCountCommits(t *testing.T, dsn string, size int64) int {
	t.Helper()
	raw, engine := openRaw(t, dsn)
	defer raw.Close()
	q := "SELECT COUNT(*) FROM log_checkpoints WHERE size > ?"
	if engine == store.Postgres {
		q = "SELECT COUNT(*) FROM log_checkpoints WHERE size > $1"
	}
	var n int
	if err := raw.QueryRow(q, size).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGroupCommitIsolatesFailures queues good and failing registrations
// behind the log lock so that they commit as one batch, and checks that
// each failing request fails alone: the good ones commit, and the failing
// ones leave no state and no log entries.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		mustSeedTree(t, db)
		const community = "410105001001"
		if err := db.CreateResidents(system, []healthcode.Resident{resident(0, community)}); err != nil {
			t.Fatal(err)
		}
		before := mustVerifyLog(t, db).Size

		type request struct {
			name    string
			rs      []healthcode.Resident
			wantErr string // error code, "" for success
		}
		var reqs []request
		for i := 1; i <= 12; i++ {
			reqs = append(reqs, request{fmt.Sprint("new ", i), []healthcode.Resident{resident(i, community), resident(100+i, community)}, ""})
			switch i % 3 {
			case 0: // a new resident, then one already registered before the batch
				reqs = append(reqs, request{fmt.Sprint("then existing ", i), []healthcode.Resident{resident(200+i, community), resident(0, community)}, healthcode.ECONFLICT})
			case 1: // the same new resident twice in one request
				reqs = append(reqs, request{fmt.Sprint("twice ", i), []healthcode.Resident{resident(300+i, community), resident(300+i, community)}, healthcode.ECONFLICT})
			case 2: // a resident another request of the batch registers
				reqs = append(reqs, request{fmt.Sprint("other's ", i), []healthcode.Resident{resident(400+i, community), resident(100+i, community)}, ""})
			}
		}

		release := holdLogLock(t, dsn)
		errs := make([]error, len(reqs))
		var wg sync.WaitGroup
		for i, r := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.CreateResidents(system, r.rs)
			}()
		}
		// No store call tells when the requests are queued; give them a
		// moment, then let the committer go. (If some are late they commit
		// in a later batch: the outcome must be the same.)
		time.Sleep(200 * time.Millisecond)
		release()
		wg.Wait()

		// "other's" races "new" for resident 100+i: exactly one of the two
		// may win; whichever does, its whole request is in and the
		// other's whole request is out.
		registered := make(map[string]int) // resident id -> registrations acknowledged
		var wantEntries int64
		for i, r := range reqs {
			got, want := healthcode.ErrorCode(errs[i]), r.wantErr
			if strings.HasPrefix(r.name, "other's") || strings.HasPrefix(r.name, "new") {
				if got != "" && got != healthcode.ECONFLICT {
					t.Errorf("%s: %v, want success or %s", r.name, errs[i], healthcode.ECONFLICT)
				}
			} else if got != want {
				t.Errorf("%s: %v, want error code %q", r.name, errs[i], want)
			}
			if errs[i] == nil {
				wantEntries += int64(len(r.rs))
				for _, res := range r.rs {
					registered[res.ID]++
				}
			}
		}
		for i := 1; i <= 12; i++ {
			if i%3 == 2 {
				if n := registered[resident(100+i, community).ID]; n != 1 {
					t.Errorf("resident %d acknowledged as registered %d times, want once", 100+i, n)
				}
			}
		}

		rep := mustVerifyLog(t, db)
		t.Logf("%d requests (%d succeeded) in %d commits", len(reqs), len(registered)/2, mustCountCommits(t, dsn, before))
		if rep.Size != before+wantEntries {
			t.Errorf("log grew by %d entries, want %d (those of the requests that succeeded)", rep.Size-before, wantEntries)
		}
		leaves, err := db.ReadLeaves(context.Background(), before, rep.Size)
		if err != nil {
			t.Fatal(err)
		}
		logged := make(map[string]int)
		for i := range leaves {
			e, _, err := db.OpenedEntry(context.Background(), before+int64(i))
			if err != nil {
				t.Fatal(err)
			}
			logged[e.Subject]++
		}
		official := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd1", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
		for _, r := range reqs {
			for _, res := range r.rs {
				if res.ID == resident(0, community).ID {
					continue
				}
				want := registered[res.ID]
				if logged[res.ID] != want {
					t.Errorf("%s: resident %s has %d log entries, want %d", r.name, res.ID, logged[res.ID], want)
				}
				_, err := db.Resident(official, res.ID)
				if (err == nil) != (want == 1) {
					t.Errorf("%s: resident %s: read %v, want registered: %v", r.name, res.ID, err, want == 1)
				}
			}
		}
	})
}

// TestClosedStoreRefusesWrites checks that every write after Close fails
// with EUNAVAIL, promptly.
func TestClosedStoreRefusesWrites(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		if _, err := db.AppendEvents(system, []store.Event{{Kind: tlog.KindJobProgressed, Payload: map[string]int{"before": 1}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			done := make(chan error, 1)
			go func() {
				_, err := db.AppendEvents(system, []store.Event{{Kind: tlog.KindJobProgressed, Payload: map[string]int{"after": i}}})
				done <- err
			}()
			select {
			case err := <-done:
				if healthcode.ErrorCode(err) != healthcode.EUNAVAIL {
					t.Fatalf("append %d after Close: %v, want %s", i, err, healthcode.EUNAVAIL)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("append %d after Close has not returned after 10 s", i)
			}
		}
		if err := db.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestCloseRacingWrites closes the store while writers append in a loop:
// every write either commits or fails with EUNAVAIL, and none hangs.
func TestCloseRacingWrites(t *testing.T) {
	for round := 0; round < 20; round++ {
		db := mustOpen(t, testdb.SQLite(t))
		const writers = 64
		done := make(chan error, writers)
		for i := 0; i < writers; i++ {
			go func() {
				for n := 0; ; n++ {
					_, err := db.AppendEvents(system, []store.Event{{Kind: tlog.KindJobProgressed, Payload: map[string]int{"i": i, "n": n}}})
					if err != nil {
						done <- err
						return
					}
				}
			}()
		}
		if _, err := db.AppendEvents(system, []store.Event{{Kind: tlog.KindJobProgressed, Payload: map[string]int{"round": round}}}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		timeout := time.After(10 * time.Second)
		for i := 0; i < writers; i++ {
			select {
			case err := <-done:
				if healthcode.ErrorCode(err) != healthcode.EUNAVAIL {
					t.Fatalf("round %d: write racing Close: %v, want %s", round, err, healthcode.EUNAVAIL)
				}
			case <-timeout:
				t.Fatalf("round %d: %d of %d writers racing Close have not returned after 10 s", round, writers-i, writers)
			}
		}
	}
}
