package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

func benchEngines(b *testing.B, f func(b *testing.B, dsn string)) {
	b.Run("sqlite", func(b *testing.B) { f(b, testdb.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { f(b, testdb.Postgres(b)) })
}

func benchResident(i int) healthcode.Resident {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	h := sha256.Sum256(n[:])
	return healthcode.Resident{ID: fmt.Sprintf("r_b%010d", i), IDHash: h[:], Name: "张三丰", Phone: "13800138000", Jurisdiction: "410105001001"}
}

// BenchmarkCreateResidents measures resident registrations per second, in
// batches of 1,000 (each resident also a log entry with a personal part).
func BenchmarkCreateResidents(b *testing.B) {
	benchEngines(b, func(b *testing.B, dsn string) {
		db := mustOpen(b, dsn)
		mustSeedTree(b, db)
		const batch = 1000
		b.ResetTimer()
		next := 0
		for i := 0; i < b.N; i++ {
			rs := make([]healthcode.Resident, batch)
			for j := range rs {
				rs[j] = benchResident(next)
				next++
			}
			if err := db.CreateResidents(system, rs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "residents/s")
	})
}

// BenchmarkReadResident measures point reads of a resident by id (the
// resident reading their own record), from parallel goroutines.
func BenchmarkReadResident(b *testing.B) {
	benchEngines(b, func(b *testing.B, dsn string) {
		db := mustOpen(b, dsn)
		mustSeedTree(b, db)
		const n = 10000
		rs := make([]healthcode.Resident, n)
		for i := range rs {
			rs[i] = benchResident(i)
		}
		if err := db.CreateResidents(system, rs); err != nil {
			b.Fatal(err)
		}
		// Each resident reads their own record (an official's read would
		// also write a data.accessed entry: that is a write, measured apart).
		ctxs := make([]context.Context, n)
		for i := range ctxs {
			ctxs[i] = healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorResident, ID: rs[i].ID})
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := db.Resident(ctxs[i%n], rs[i%n].ID); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	})
}

var _ = store.SQLite
