package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// BenchmarkHealthcodeLog appends the same number of entries as
// BenchmarkTesseraPOSIX, with payloads of the same size, to healthcode's
// log on SQLite in a t.TempDir (the same disk) and, when
// HEALTHCODE_TEST_POSTGRES names a server, on PostgreSQL. Each commit
// carries `batch` entries and is durable (fsync) before the next starts.
func BenchmarkHealthcodeLog(b *testing.B) {
	entries := mustEntries(b)
	payloads := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		pe, err := tlog.ParseEntry(e)
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = pe.Payload
	}
	engines := []struct{ name, dsn string }{{"sqlite", ""}}
	if pg := os.Getenv("HEALTHCODE_TEST_POSTGRES"); pg != "" {
		engines = append(engines, struct{ name, dsn string }{"postgres", pg})
	}
	sys := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "bench"})
	for _, eng := range engines {
		for _, batch := range []int{1, 16, 256, 4096} {
			b.Run(fmt.Sprintf("%s/batch=%d", eng.name, batch), func(b *testing.B) {
				var elapsed time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dsn := eng.dsn
					if dsn == "" {
						dsn = filepath.Join(b.TempDir(), "bench.db")
					}
					db, err := store.Open(context.Background(), dsn, store.Options{})
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					for j := 0; j < len(payloads); j += batch {
						evs := make([]store.Event, 0, batch)
						for _, p := range payloads[j:min(j+batch, len(payloads))] {
							evs = append(evs, store.Event{Kind: tlog.KindJobProgressed, Subject: "", Payload: p})
						}
						if _, err := db.AppendEvents(sys, evs); err != nil {
							b.Fatal(err)
						}
					}
					elapsed += time.Since(start)
					b.StopTimer()
					db.Close()
				}
				b.ReportMetric(float64(len(entries)*b.N)/elapsed.Seconds(), "appends/s")
			})
		}
	}
}
