package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// BenchmarkAppendWitnessing measures durable log appends per second with
// witnessing off and on (two in-process healthcode witnesses on loopback,
// policy 2 of 2, their state in memory, the cosigner at its defaults), in
// the same run, on SQLite and (with HEALTHCODE_TEST_POSTGRES) PostgreSQL.
// Run:
//
//	go test -run '^$' -bench AppendWitnessing -benchtime 3s ./server
func BenchmarkAppendWitnessing(b *testing.B) {
	sys := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "bench"})
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, batch := range []int{1, 16} {
			for _, witnessing := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/batch=%d/witnessing=%v", engine, batch, witnessing), func(b *testing.B) {
					dsn := testdb.SQLite(b)
					if engine == "postgres" {
						dsn = testdb.Postgres(b)
					}
					db, err := store.Open(sys, dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					if witnessing {
						mustWitnessing(b, db)
					}
					evs := make([]store.Event, batch)
					for i := range evs {
						evs[i] = store.Event{Kind: tlog.KindJobProgressed, Payload: map[string]any{"fact_id": fmt.Sprintf("f-%08d", i), "result": "negative"}}
					}
					b.ResetTimer()
					for b.Loop() {
						if _, err := db.AppendEvents(sys, evs); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "appends/s")
				})
			}
		}
	}
}

// mustWitnessing starts two witnesses and the cosigner for db's log.
func mustWitnessing(b *testing.B, db *store.DB) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	if err := server.New(db, server.Config{Logger: slog.New(slog.DiscardHandler)}).StartWitnessing(ctx, server.WitnessConfig{Policy: mustWitnessPolicy(b, db)}); err != nil {
		b.Fatal(err)
	}
}
