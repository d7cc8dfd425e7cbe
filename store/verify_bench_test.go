package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/verify"
)

// BenchmarkVerifyLog measures log verify and log rebuild beside a full
// re-evaluation, in the same run, on the same database: the re-evaluation
// benchmark's (n residents, each registered and with a PCR result, so
// about 2n entries). Each run re-evaluates every resident under a new
// ruleset (timed), then verifies the whole log with the projection rebuilt
// and compared (timed), then rebuilds the database from the log into a new
// one (timed). It reports the three times, the log's size and verify's
// time over the re-evaluation's. The starting database is built once and
// kept: SQLite in the temp directory, PostgreSQL as a database on the
// HEALTHCODE_TEST_POSTGRES server, each run working on a copy.
//
//	HEALTHCODE_BENCH_RESIDENTS=1000000 go test -run '^$' -bench VerifyLog/sqlite -benchtime 1x -timeout 3h ./store
//
// The comparison is verify at N entries beside a re-evaluation of
// N residents; the log of n residents has about 2n entries. With
// HEALTHCODE_BENCH_VERIFY_RESIDENTS=m each case verifies and
// rebuilds the database of m residents instead (re-evaluated first under
// the same new ruleset, untimed, so its log has the same shape), in the
// same process right after the timed re-evaluation of n residents:
//
//	HEALTHCODE_BENCH_RESIDENTS=1000000 HEALTHCODE_BENCH_VERIFY_RESIDENTS=495040 go test -run '^$' -bench VerifyLog/sqlite -benchtime 1x -timeout 3h ./store
//	HEALTHCODE_BENCH_RESIDENTS=1000000 HEALTHCODE_BENCH_VERIFY_RESIDENTS=495040 HEALTHCODE_TEST_POSTGRES=postgres://... go test -run '^$' -bench VerifyLog/postgres -benchtime 1x -timeout 3h ./store
func BenchmarkVerifyLog(b *testing.B) {
	n := benchResidents()
	m, err := strconv.Atoi(os.Getenv("HEALTHCODE_BENCH_VERIFY_RESIDENTS"))
	if err != nil || m <= 0 || m == n {
		m = n
	}
	b.Run("sqlite", func(b *testing.B) {
		cached := reevalCache(b, n)
		other := cached
		if m != n {
			other = reevalCache(b, m)
		}
		for range b.N {
			b.StopTimer()
			if m == n {
				benchVerify(b, settled(cloneDB(b, cached)), filepath.Join(b.TempDir(), "rebuilt.db"), n)
				continue
			}
			benchVerifySized(b, settled(cloneDB(b, cached)), settled(cloneDB(b, other)), filepath.Join(b.TempDir(), "rebuilt.db"), n, m)
		}
	})
	b.Run("postgres", func(b *testing.B) {
		cached := mustReevalPostgres(b, n)
		other := cached
		if m != n {
			other = mustReevalPostgres(b, m)
		}
		for range b.N {
			b.StopTimer()
			if m == n {
				benchVerify(b, cloneDB(b, cached), testdb.Postgres(b), n)
				continue
			}
			benchVerifySized(b, cloneDB(b, cached), cloneDB(b, other), testdb.Postgres(b), n, m)
		}
	})
}

func benchVerify(b *testing.B, dsn, into string, n int) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{Now: func() time.Time { return reevalNow }, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	reeval, reevalCPU := reevaluateAll(b, db, n)
	verifyAndRebuild(b, db, into, n, reeval, reevalCPU, maxRSS())
}

// benchVerifySized times the re-evaluation of the n residents of reevalDSN,
// then verifies and rebuilds the database of m residents at verifyDSN
// (re-evaluated first, untimed).
func benchVerifySized(b *testing.B, reevalDSN, verifyDSN, into string, n, m int) {
	ctx := context.Background()
	open := func(dsn string) *store.DB {
		db, err := store.Open(ctx, dsn, store.Options{Now: func() time.Time { return reevalNow }, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	db := open(reevalDSN)
	reeval, reevalCPU := reevaluateAll(b, db, n)
	reevalRSS := maxRSS()
	db.Close()
	other := open(verifyDSN)
	defer other.Close()
	_, _ = reevaluateAll(b, other, m)
	b.StopTimer()
	b.Logf("re-evaluated %d residents; verifying the log of %d residents", n, m)
	verifyAndRebuild(b, other, into, n, reeval, reevalCPU, reevalRSS)
}

func verifyAndRebuild(b *testing.B, db *store.DB, into string, n int, reeval, reevalCPU time.Duration, reevalRSS int64) {
	ctx := context.Background()

	b.StartTimer()
	start, cpu := time.Now(), cpuTime()
	rep, err := verify.Log(ctx, db.VerifyView(), verify.Options{})
	verifyTime, verifyCPU := time.Since(start), cpuTime()-cpu
	b.StopTimer()
	verifyRSS := maxRSS()
	if err != nil {
		b.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		b.Fatalf("verify: %d problems, the first %v", len(rep.Problems), rep.Problems[0])
	}

	b.StartTimer()
	start, cpu = time.Now(), cpuTime()
	err = db.RebuildInto(ctx, into, nil)
	rebuild, rebuildCPU := time.Since(start), cpuTime()-cpu
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d residents, %d entries, %d projected rows: re-evaluation %v (CPU %v), verify %v (CPU %v), rebuild %v (CPU %v); max RSS %d MiB after the re-evaluation, %d MiB after verify, %d MiB after rebuild",
		n, rep.Size, rep.Projected, reeval.Round(time.Millisecond), reevalCPU.Round(time.Millisecond), verifyTime.Round(time.Millisecond), verifyCPU.Round(time.Millisecond),
		rebuild.Round(time.Millisecond), rebuildCPU.Round(time.Millisecond), reevalRSS>>20, verifyRSS>>20, maxRSS()>>20)
	b.ReportMetric(float64(rep.Size), "entries")
	b.ReportMetric(reeval.Seconds(), "reeval-s")
	b.ReportMetric(verifyTime.Seconds(), "verify-s")
	b.ReportMetric(rebuild.Seconds(), "rebuild-s")
	b.ReportMetric(verifyTime.Seconds()/reeval.Seconds(), "verify/reeval")
	b.ReportMetric(verifyCPU.Seconds()/reevalCPU.Seconds(), "verify/reeval-cpu")
}

// settled returns dsn once the copy just made of it is on disk: on this
// machine's disk (about 30 MB/s) the write-back of a 2 GB copy otherwise
// goes on through the timed phase that follows, whose commits wait for it.
func settled(dsn string) string {
	syscall.Sync()
	return dsn
}

// cpuTime is the CPU time the process has used, user and system: on this
// shared machine a phase's CPU time says more than its wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is the process's peak resident set so far, in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // KiB on Linux
}

// mustReevalPostgres is the PostgreSQL database of n residents the
// verify benchmark starts from, built once (under another name, renamed
// when complete) and kept on the test server.
func mustReevalPostgres(b *testing.B, n int) string {
	b.Helper()
	admin, base := mustPostgresAdmin(b)
	defer admin.Close()
	name := fmt.Sprintf("hcbench_reeval_v2_%d", n)
	if !pgHas(b, admin, name) {
		building := name + "_building"
		for _, q := range []string{"DROP DATABASE IF EXISTS " + building + " WITH (FORCE)", "CREATE DATABASE " + building} {
			if _, err := admin.Exec(q); err != nil {
				b.Fatal(err)
			}
		}
		buildReevalDB(b, pgURL(base, building), n)
		if _, err := admin.Exec("ALTER DATABASE " + building + " RENAME TO " + name); err != nil {
			b.Fatal(err)
		}
	}
	return pgURL(base, name)
}

// mustPostgresAdmin connects to the HEALTHCODE_TEST_POSTGRES server, or
// skips the benchmark.
func mustPostgresAdmin(b *testing.B) (*sql.DB, *url.URL) {
	b.Helper()
	base := os.Getenv(testdb.EnvPostgres)
	if base == "" {
		b.Skip("set " + testdb.EnvPostgres + " to benchmark PostgreSQL")
	}
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	return admin, u
}

// pgHas reports whether the server has the named database.
func pgHas(b *testing.B, admin *sql.DB, name string) bool {
	b.Helper()
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n > 0
}

// pgURL is base naming another database.
func pgURL(base *url.URL, name string) string {
	u := *base
	u.Path = "/" + name
	return u.String()
}
