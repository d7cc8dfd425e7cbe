package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// mustLoginWorld is a store with officials login-o_0 ... login-o_{n-1}
// (password "correct horse battery") and a clock the test moves.
func mustLoginWorld(t *testing.T, dsn string, lim store.Limits, n int) (*store.DB, *atomic.Pointer[time.Time]) {
	t.Helper()
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	now.Store(&start)
	db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return *now.Load() }, Limits: lim, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mustSeedTree(t, db)
	for i := range n {
		o := healthcode.Official{ID: fmt.Sprint("o_", i), Name: "官员", Role: healthcode.RoleCommand, Jurisdiction: "410000"}
		if err := db.CreateOfficial(system, o, fmt.Sprint("login-o_", i), "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	return db, &now
}

func advance(now *atomic.Pointer[time.Time], d time.Duration) {
	t := now.Load().Add(d)
	now.Store(&t)
}

func retryAfter(err error) time.Duration {
	var he *healthcode.Error
	if errors.As(err, &he) {
		return he.RetryAfter
	}
	return 0
}

// TestLoginRace: 40 parallel wrong guesses at one account from one address
// get at most the 5 free attempts checked; the others are refused before
// their password is looked at.
func TestLoginRace(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db, _ := mustLoginWorld(t, dsn, store.Limits{LoginQueueWait: time.Minute}, 1)
		var checked, refused atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				_, err := db.LoginFrom(context.Background(), "login-o_0", "a wrong guess!", "203.0.113.9")
				switch healthcode.ErrorCode(err) {
				case healthcode.EUNAUTH:
					checked.Add(1)
				case healthcode.ETOOMANY:
					if retryAfter(err) <= 0 {
						t.Errorf("ETOOMANY without a time to wait: %v", err)
					}
					refused.Add(1)
				default:
					t.Errorf("guess: %v", err)
				}
			})
		}
		wg.Wait()
		if checked.Load() > 5 || checked.Load()+refused.Load() != 40 {
			t.Errorf("%d guesses checked, %d refused; want at most 5 checked", checked.Load(), refused.Load())
		}
	})
}

// TestLoginProgressiveDelay: failures from one address slow down that
// address's attempts on the account, doubling the wait, but the owner
// logs in from another address at once; the right password from the
// abuser's address waits like any other attempt.
func TestLoginProgressiveDelay(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db, now := mustLoginWorld(t, dsn, store.Limits{}, 1)
		ctx := context.Background()
		const a, b = "203.0.113.1", "198.51.100.2"
		for i := range 5 {
			_, err := db.LoginFrom(ctx, "login-o_0", "a wrong guess!", a)
			mustCode(t, err, healthcode.EUNAUTH, fmt.Sprint("failure ", i+1))
		}
		_, err := db.LoginFrom(ctx, "login-o_0", "correct horse battery", a)
		mustCode(t, err, healthcode.ETOOMANY, "sixth attempt from A")
		if got := retryAfter(err); got != time.Second {
			t.Errorf("first delay %v, want 1s", got)
		}
		if _, err := db.LoginFrom(ctx, "login-o_0", "correct horse battery", b); err != nil {
			t.Fatalf("the owner from address B: %v", err)
		}
		// The delay doubles with each further failure from A.
		advance(now, time.Second)
		for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
			_, err := db.LoginFrom(ctx, "login-o_0", "a wrong guess!", a)
			mustCode(t, err, healthcode.EUNAUTH, "an attempt after the delay")
			_, err = db.LoginFrom(ctx, "login-o_0", "a wrong guess!", a)
			mustCode(t, err, healthcode.ETOOMANY, "at once after it")
			if got := retryAfter(err); got != want {
				t.Errorf("delay %v, want %v", got, want)
			}
			advance(now, want-time.Millisecond)
			_, err = db.LoginFrom(ctx, "login-o_0", "correct horse battery", a)
			mustCode(t, err, healthcode.ETOOMANY, "just before the delay ends")
			advance(now, time.Millisecond)
		}
		if _, err := db.LoginFrom(ctx, "login-o_0", "correct horse battery", a); err != nil {
			t.Fatalf("the right password from A after the delay: %v", err)
		}
		// A success from A forgets A's failures on the account.
		for i := range 5 {
			_, err := db.LoginFrom(ctx, "login-o_0", "a wrong guess!", a)
			mustCode(t, err, healthcode.EUNAUTH, fmt.Sprint("failure after the success ", i+1))
		}
	})
}

// TestLoginChecksBounded: 60 logins at once run at most LoginChecks
// password checks at a time (argon2 takes 19 MiB each), so the heap stays
// far below the 60 × 19 MiB of unbounded checks; with a short queue wait
// the logins beyond are shed (EUNAVAIL with a time to retry).
func TestLoginChecksBounded(t *testing.T) {
	db, _ := mustLoginWorld(t, testdb.SQLite(t), store.Limits{LoginChecks: 2, LoginQueueWait: time.Minute}, 60)
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if _, err := db.LoginFrom(context.Background(), fmt.Sprint("login-o_", i), "correct horse battery", fmt.Sprint("10.0.0.", i)); err != nil {
				t.Errorf("login %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	extra := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("60 concurrent logins: heap peak %d MB above the start", extra>>20)
	if extra > 200<<20 {
		t.Errorf("60 concurrent logins: heap peak %d MB above the start, want < 200 MB", extra>>20)
	}

	shed, _ := mustLoginWorld(t, testdb.SQLite(t), store.Limits{LoginChecks: 1, LoginQueueWait: time.Millisecond}, 20)
	var n atomic.Int32
	for i := range 20 {
		wg.Go(func() {
			_, err := shed.LoginFrom(context.Background(), fmt.Sprint("login-o_", i), "correct horse battery", "10.0.1.1")
			switch {
			case err == nil:
			case healthcode.ErrorCode(err) == healthcode.EUNAVAIL && retryAfter(err) > 0:
				n.Add(1)
			default:
				t.Errorf("login %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n.Load() == 0 {
		t.Error("20 logins at once with one check slot and 1 ms of queue: none shed")
	}
}

// TestLoginBesideBatches: with the single writer busy with batches back
// to back, each holding the database for a while (a failpoint makes each
// take 300 ms), a login (its throttle reservation, the official's login
// record, the session) does not queue behind them: it waits at most for
// the batch in commit at each of its two writes. On SQLite its writes
// used to poll for the write lock beside the committer, rarely found it
// free, and failed with SQLITE_BUSY after 10 s.
func TestLoginBesideBatches(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		const hold = 300 * time.Millisecond
		var slow atomic.Bool
		store.SetFailpoint(db, func(name string) {
			if name == "batch.begun" && slow.Load() {
				time.Sleep(hold)
			}
		})
		mustSeedTree(t, db)
		if err := db.CreateOfficial(system, healthcode.Official{ID: "o_0", Name: "官员", Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-o_0", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		slow.Store(true)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var batches atomic.Int64
		for g := range 3 {
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					var rs []healthcode.Resident
					for k := range 20 {
						rs = append(rs, resident(100000*(g+1)+20*n+k, "410105001002"))
					}
					if err := db.CreateResidents(system, rs); err != nil {
						t.Errorf("batch %d-%d: %v", g, n, err)
						return
					}
					batches.Add(1)
				}
			})
		}
		defer func() { stop(); wg.Wait() }()
		for batches.Load() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		for i := range 3 {
			start := time.Now()
			_, err := db.LoginFrom(context.Background(), "login-o_0", "correct horse battery", "198.51.100.7")
			took := time.Since(start)
			if err != nil {
				t.Fatalf("login %d beside the batches: %v after %v", i, err, took)
			}
			// Two waits for the batch in commit, the password check
			// and slack for a loaded machine.
			if bound := 2*hold + 2*time.Second; took > bound {
				t.Errorf("login %d beside the batches took %v, want under %v", i, took, bound)
			}
			t.Logf("login %d: %v (%d batches)", i, took, batches.Load())
		}
	})
}
