package store_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/verify"
)

// TestVerifyMemoryBounded: an operator who wants a log nobody can check
// need only let it grow until verification runs out of memory. Verify's
// live heap, sampled after a collection at every chunk it reports, must
// not grow with the log: a log four times as long may add a few MiB
// (the chunks filling up), not the ~3 KB per entry it took when the
// chains, commitments, state rows and facts were all held in maps.
func TestVerifyMemoryBounded(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		added := 6 // mustWorld's residents
		grow := func(n int) {
			t.Helper()
			const batch = 1000
			for i := 0; i < n; i += batch {
				var rs []healthcode.Resident
				var fs []healthcode.Fact
				for j := added; j < added+batch; j++ {
					rs = append(rs, resident(j, []string{"410105001001", "410105001002"}[j%2]))
					result := "negative"
					if j%50 == 0 {
						result = "positive"
					}
					fs = append(fs, w.pcr(fmt.Sprint("pcr-", j), rs[len(rs)-1].ID, result, w.now.Add(-24*60*60*1e9)))
				}
				added += batch
				if err := w.db.CreateResidents(system, rs); err != nil {
					t.Fatal(err)
				}
				if _, err := w.db.RecordFacts(as(lab), fs); err != nil {
					t.Fatal(err)
				}
			}
		}
		peak := func() (uint64, int64) {
			t.Helper()
			var peak uint64
			sample := func(_ string, done, total int64) {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
			runtime.GC()
			rep, err := verify.Log(context.Background(), w.db.VerifyView(), verify.Options{Progress: sample, RunSize: 1024})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Fatalf("verify: %v", rep.Problems)
			}
			if rep.CodeChanges == 0 {
				t.Fatalf("no code changes replayed: %+v", rep)
			}
			return peak, rep.Size
		}
		grow(2000)
		small, n := peak()
		grow(6000)
		large, m := peak()
		t.Logf("peak live heap %d KiB at %d entries, %d KiB at %d entries: %+.0f bytes per added entry",
			small>>10, n, large>>10, m, (float64(large)-float64(small))/float64(m-n))
		if large > small+8<<20 {
			t.Errorf("peak live heap grew from %d KiB at %d entries to %d KiB at %d entries: verify's memory grows with the log", small>>10, n, large>>10, m)
		}
	})
}
