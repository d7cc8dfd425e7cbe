package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// benchResidents is how many residents BenchmarkReevaluate uses:
// HEALTHCODE_BENCH_RESIDENTS, default 100,000 (BENCHMARKS.md reports
// 1,000,000).
func benchResidents() int {
	if n, err := strconv.Atoi(os.Getenv("HEALTHCODE_BENCH_RESIDENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkReevaluate measures the full re-evaluation that follows the
// publication of a new ruleset: every resident, each with a PCR result (one
// in fifty positive), evaluated under the new ruleset, changed codes
// written with their log entries. It reports residents/s and the run's
// seconds. The SQLite database is built once and cached in the temp
// directory; each run works on a copy.
//
//	HEALTHCODE_BENCH_RESIDENTS=1000000 go test -run '^$' -bench Reevaluate -benchtime 1x -timeout 2h ./store
func BenchmarkReevaluate(b *testing.B) {
	n := benchResidents()
	b.Run("sqlite", func(b *testing.B) {
		cached := reevalCache(b, n)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dsn := filepath.Join(b.TempDir(), "x.db")
			copyFile(b, cached, dsn)
			benchReevaluate(b, dsn, n)
		}
	})
	b.Run("postgres", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dsn := testdb.Postgres(b)
			buildReevalDB(b, dsn, n)
			benchReevaluate(b, dsn, n)
		}
	})
}

// reevalCache is the SQLite database of n residents that the
// re-evaluation benchmarks start from, built once and kept in the temp
// directory.
func reevalCache(b *testing.B, n int) string {
	cached := filepath.Join(os.TempDir(), fmt.Sprintf("healthcode-bench-reeval-v2-%d.db", n))
	if _, err := os.Stat(cached); err != nil {
		buildReevalDB(b, cached, n)
	}
	return cached
}

var reevalNow = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

func buildReevalDB(b *testing.B, dsn string, n int) {
	b.Helper()
	tmp := dsn
	if !strings.HasPrefix(dsn, "postgres") {
		tmp = dsn + ".building"
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
	}
	db, err := store.Open(context.Background(), tmp, store.Options{Now: func() time.Time { return reevalNow }})
	if err != nil {
		b.Fatal(err)
	}
	mustSeedTree(b, db)
	for _, a := range []healthcode.Actor{cmdProvince1, cmdProvince2} {
		if err := db.CreateOfficial(system, healthcode.Official{ID: a.ID, Name: a.ID, Role: a.Role, Jurisdiction: a.Jurisdiction}, "l"+a.ID, "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.CreateSource(system, healthcode.Source{ID: "s_lab", Name: "lab", Kinds: []string{"test_result"}, Jurisdiction: "410000"}, "hck_labkeylabkeylabkeylabkey"); err != nil {
		b.Fatal(err)
	}
	if _, err := db.DraftRuleset(as(cmdProvince1), "v1.yaml", rules.DefaultSource()); err != nil {
		b.Fatal(err)
	}
	if _, err := db.DecideRuleset(as(cmdProvince2), "henan-health-code", 1, true, ""); err != nil {
		b.Fatal(err)
	}
	day := reevalNow.Add(-24 * time.Hour)
	w := &world{db: db, now: reevalNow}
	start := time.Now()
	const chunk = 5000
	for i := 0; i < n; i += chunk {
		var rs []healthcode.Resident
		var fs []healthcode.Fact
		for j := i; j < min(i+chunk, n); j++ {
			r := benchResident(j)
			r.Jurisdiction = []string{"410105001001", "410105001002"}[j%2]
			rs = append(rs, r)
			result := "negative"
			if j%50 == 0 {
				result = "positive"
			}
			fs = append(fs, w.pcr(fmt.Sprint("pcr-", j), r.ID, result, day))
		}
		if err := db.CreateResidents(system, rs); err != nil {
			b.Fatal(err)
		}
		if _, err := db.RecordFacts(as(lab), fs); err != nil {
			b.Fatal(err)
		}
		if (i/chunk)%20 == 0 {
			b.Logf("built %d/%d residents (%.0f/s)", i+len(rs), n, float64(i+len(rs))/time.Since(start).Seconds())
		}
	}
	if _, err := db.RunJobs(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	db.Close()
	if tmp != dsn {
		if err := os.Remove(tmp + "-wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, dsn); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReevaluate(b *testing.B, dsn string, n int) {
	db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return reevalNow }})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	d, _ := reevaluateAll(b, db, n)
	b.ReportMetric(float64(n)/d.Seconds(), "residents/s")
	b.ReportMetric(d.Seconds(), "s/run")
}

// reevaluateAll publishes version 2 of the default ruleset, which makes
// positive PCRs yellow (every fiftieth code changes), and times the job
// that re-evaluates all n residents, with the benchmark's timer running.
// It returns the job's wall time and the process's CPU time over the job
// (not over the publication before it, whose dry run reads every
// resident too).
func reevaluateAll(b *testing.B, db *store.DB, n int) (time.Duration, time.Duration) {
	b.Helper()
	src := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
	if _, err := db.DraftRuleset(as(cmdProvince1), "v2.yaml", []byte(src)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start, cpu := time.Now(), cpuTime()
	var last healthcode.JobProgress
	if _, err := db.RunJobs(context.Background(), func(p healthcode.JobProgress) { last = p }); err != nil {
		b.Fatal(err)
	}
	d, cpu := time.Since(start), cpuTime()-cpu
	b.StopTimer()
	if last.Done != int64(n) {
		b.Fatalf("job evaluated %d residents, want %d", last.Done, n)
	}
	return d, cpu
}

func copyFile(b *testing.B, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = in.Close() }() // read only; the copy's errors are checked
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
