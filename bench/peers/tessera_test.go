package peers

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

var flagEntries = flag.Int("entries", 4096, "entries appended per benchmark run")

func mustEntries(tb testing.TB) [][]byte {
	tb.Helper()
	entries, err := Entries(*flagEntries)
	if err != nil {
		tb.Fatal(err)
	}
	return entries
}

func TestEntries(t *testing.T) {
	a, err := Entries(10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Entries(10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			t.Fatalf("entry %d differs between calls", i)
		}
	}
}

// BenchmarkTesseraPOSIX appends the same entries to a fresh Tessera POSIX
// log in a t.TempDir, with Tessera batching them by the given size. The
// clock runs from the first Add until every entry's index future has
// resolved, that is until every entry is durably sequenced and integrated;
// it does not include publishing the final checkpoint.
func BenchmarkTesseraPOSIX(b *testing.B) {
	entries := mustEntries(b)
	skey, _, err := note.GenerateKey(rand.Reader, "bench.healthcode.local/tessera")
	if err != nil {
		b.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 16, 256, 4096} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Tessera's background loops run until ctx is done.
				ctx, cancel := context.WithCancel(context.Background())
				driver, err := posix.New(ctx, posix.Config{Path: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				opts := tessera.NewAppendOptions().
					WithCheckpointSigner(signer).
					WithBatching(uint(batch), 10*time.Millisecond).
					WithPushback(uint(2 * len(entries))).
					WithCheckpointInterval(100 * time.Millisecond)
				appender, shutdown, _, err := tessera.NewAppender(ctx, driver, opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				futures := make([]tessera.IndexFuture, len(entries))
				for j, e := range entries {
					futures[j] = appender.Add(ctx, tessera.NewEntry(e))
				}
				for j, f := range futures {
					if _, err := f(); err != nil {
						b.Fatalf("entry %d: %v", j, err)
					}
				}
				elapsed += time.Since(start)
				b.StopTimer()
				err = shutdown(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(entries)*b.N)/elapsed.Seconds(), "appends/s")
		})
	}
}
