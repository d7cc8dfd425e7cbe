package store_test

import (
	"fmt"
	"testing"

	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// BenchmarkAppendEvents measures durable log appends per second at several
// entries per commit (see also bench/peers, which runs the same beside
// Tessera).
func BenchmarkAppendEvents(b *testing.B) {
	for _, batch := range []int{1, 16, 256, 4096} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchEngines(b, func(b *testing.B, dsn string) {
				db := mustOpen(b, dsn)
				evs := make([]store.Event, batch)
				for i := range evs {
					evs[i] = store.Event{Kind: tlog.KindJobProgressed, Payload: map[string]any{
						"fact_id": fmt.Sprintf("f-%08d", i), "fact_kind": "test_result", "result": "negative", "evidence": fmt.Sprintf("lab-2022-0613-%06d", i)}}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := db.AppendEvents(system, evs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "appends/s")
			})
		})
	}
}
