package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// The proof benchmarks run on a log of proofLogSize entries, built once
// and kept between runs (SQLite: a file in os.TempDir; PostgreSQL: a
// database on the HEALTHCODE_TEST_POSTGRES server), both named by
// proofLogVersion: change it when what the builder writes changes.
const (
	proofLogSize    = 1_000_000
	proofLogVersion = "v1-1m"
)

// mustProofLog opens the benchmark log on engine, building (or finishing)
// it first: AppendEvents in batches of 4096.
func mustProofLog(b *testing.B, engine string) *store.DB {
	b.Helper()
	var dsn string
	switch engine {
	case store.SQLite:
		dsn = filepath.Join(os.TempDir(), "healthcode-proofbench-"+proofLogVersion+".db")
	case store.Postgres:
		dsn = mustProofPostgres(b, "hcbench_proofs_"+strings.ReplaceAll(proofLogVersion, "-", "_"))
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	size := mustLogSize(b, db)
	if size >= proofLogSize {
		return db
	}
	b.Logf("building a %d-entry log in %s (from %d; kept for later runs)", proofLogSize, dsn, size)
	start := time.Now()
	for size < proofLogSize {
		evs := make([]store.Event, min(4096, proofLogSize-size))
		for i := range evs {
			n := size + int64(i)
			evs[i] = store.Event{Kind: tlog.KindJobProgressed, Payload: map[string]any{
				"fact_id": fmt.Sprintf("f-%08d", n), "fact_kind": "test_result", "result": "negative", "evidence": fmt.Sprintf("lab-2022-0613-%08d", n)}}
		}
		if _, err := db.AppendEvents(system, evs); err != nil {
			b.Fatal(err)
		}
		size += int64(len(evs))
	}
	b.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	return db
}

// mustProofPostgres returns the URL of the named database on the test
// server, creating it if it does not exist. It is not dropped.
func mustProofPostgres(b *testing.B, name string) string {
	b.Helper()
	admin, base := mustPostgresAdmin(b)
	defer admin.Close()
	if !pgHas(b, admin, name) {
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			b.Fatal(err)
		}
	}
	return pgURL(base, name)
}

func mustLogSize(b *testing.B, db *store.DB) int64 {
	b.Helper()
	cp := mustOpenLatest(b, db)
	return cp.Size
}

func mustOpenLatest(b *testing.B, db *store.DB) tlog.Checkpoint {
	b.Helper()
	signed, err := db.LogCheckpoint(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	v, err := note.NewVerifier(db.LogVerifierKey())
	if err != nil {
		b.Fatal(err)
	}
	cp, err := tlog.OpenCheckpoint(signed, v, db.LogOrigin())
	if err != nil {
		b.Fatal(err)
	}
	return cp
}

// reportLatency reports the median and 99th percentile of ds.
func reportLatency(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkLogProofs measures inclusion and consistency proofs on a
// 1,000,000-entry log, over the stored hashes as the server reads them
// (db.ReadHashes, no cache), at random indices and tree sizes; and the
// whole HTTP path of GET /v1/log/entries/{index} (entry, inclusion proof,
// checkpoint, as JSON) through server.New and httptest. Every proof is
// checked against the signed checkpoint before timing starts.
//
// The first run builds the log (about 15 s on SQLite, 60 s on
// PostgreSQL); later runs reuse it.
func BenchmarkLogProofs(b *testing.B) {
	for _, engine := range []string{store.SQLite, store.Postgres} {
		b.Run(engine, func(b *testing.B) {
			db := mustProofLog(b, engine)
			ctx := context.Background()
			cp := mustOpenLatest(b, db)
			hashes := sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) { return db.ReadHashes(ctx, idx) })
			rnd := rand.New(rand.NewPCG(1, 2))

			// Proofs verify against the signed root before any is timed.
			for range 20 {
				i := rnd.Int64N(cp.Size)
				p, err := tlog.NewInclusionProof(hashes, cp.Size, i, cp.Size)
				if err != nil {
					b.Fatal(err)
				}
				leaf, err := db.ReadLeaves(ctx, i, i+1)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Verify(cp.Root, sumtlog.RecordHash(leaf[0])); err != nil {
					b.Fatalf("inclusion proof of %d: %v", i, err)
				}
				old := 1 + rnd.Int64N(cp.Size)
				oldRoot, err := sumtlog.TreeHash(old, hashes)
				if err != nil {
					b.Fatal(err)
				}
				cp2, err := tlog.NewConsistencyProof(hashes, cp.Size, old, cp.Size)
				if err != nil {
					b.Fatal(err)
				}
				if err := cp2.Verify(oldRoot, cp.Root); err != nil {
					b.Fatalf("consistency proof %d → %d: %v", old, cp.Size, err)
				}
			}

			b.Run("inclusion", func(b *testing.B) {
				ds := make([]time.Duration, 0, b.N)
				for b.Loop() {
					i := rnd.Int64N(cp.Size)
					start := time.Now()
					if _, err := tlog.NewInclusionProof(hashes, cp.Size, i, cp.Size); err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(start))
				}
				reportLatency(b, ds)
			})
			b.Run("consistency", func(b *testing.B) {
				ds := make([]time.Duration, 0, b.N)
				for b.Loop() {
					n := 2 + rnd.Int64N(cp.Size-1)
					old := 1 + rnd.Int64N(n-1)
					start := time.Now()
					if _, err := tlog.NewConsistencyProof(hashes, cp.Size, old, n); err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(start))
				}
				reportLatency(b, ds)
			})
			b.Run("http-entry", func(b *testing.B) {
				ts := httptest.NewServer(server.New(db, server.Config{Logger: slog.New(slog.DiscardHandler)}))
				defer ts.Close()
				client := ts.Client()
				ds := make([]time.Duration, 0, b.N)
				for b.Loop() {
					i := rnd.Int64N(cp.Size)
					start := time.Now()
					resp, err := client.Get(fmt.Sprintf("%s/v1/log/entries/%d", ts.URL, i))
					if err != nil {
						b.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("GET entry %d: %d %v %s", i, resp.StatusCode, err, body)
					}
					ds = append(ds, time.Since(start))
					var got struct {
						Index     int64 `json:"index"`
						Inclusion *tlog.InclusionProof
					}
					if err := json.Unmarshal(body, &got); err != nil || got.Index != i || got.Inclusion == nil {
						b.Fatalf("GET entry %d: %v %s", i, err, body)
					}
				}
				reportLatency(b, ds)
			})
		})
	}
}
