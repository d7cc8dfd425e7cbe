package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

// BenchmarkIngestFacts posts batches of 1,000 PCR results (NDJSON) through
// POST /v1/facts, each for a different resident, including validation,
// evaluation under the default ruleset and the log entries; it reports
// facts/s, with four clients posting at once. Run:
//
//	go test -run '^$' -bench IngestFacts -benchtime 30x ./server
func BenchmarkIngestFacts(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, testdb.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchIngest(b, testdb.Postgres(b)) })
}

func benchIngest(b *testing.B, dsn string) {
	const batch = 1000
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tree := []healthcode.Jurisdiction{
		{Code: "410000", Name: "中原省", Level: healthcode.Province},
		{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
	}
	if err := db.CreateJurisdictions(system, tree); err != nil {
		b.Fatal(err)
	}
	n := b.N * batch
	for start := 0; start < n; start += 5000 {
		var rs []healthcode.Resident
		for i := start; i < min(start+5000, n); i++ {
			h := sha256.Sum256([]byte(fmt.Sprint(i)))
			rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_%08d", i), IDHash: h[:], Name: "张三", Jurisdiction: "410100"})
		}
		if err := db.CreateResidents(system, rs); err != nil {
			b.Fatal(err)
		}
	}
	for _, id := range []string{"o_1", "o_2"} {
		if err := db.CreateOfficial(system, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "l"+id, password); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.DraftRuleset(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_1", Role: healthcode.RoleCommand, Jurisdiction: "410000"}), "d.yaml", rules.DefaultSource()); err != nil {
		b.Fatal(err)
	}
	if _, err := db.DecideRuleset(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_2", Role: healthcode.RoleCommand, Jurisdiction: "410000"}), "henan-health-code", 1, true, ""); err != nil {
		b.Fatal(err)
	}
	const key = "hck_benchbenchbenchbenchbenchbench"
	if err := db.CreateSource(system, healthcode.Source{ID: "s_lab", Name: "lab", Kinds: []string{"test_result"}, Jurisdiction: "410000"}, key); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(server.New(db, server.Config{Logger: quiet}))
	defer ts.Close()
	day := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		var buf bytes.Buffer
		for j := 0; j < batch; j++ {
			r := i*batch + j
			result := "negative"
			if r%50 == 0 {
				result = "positive"
			}
			fmt.Fprintf(&buf, `{"id":"pcr-%d","kind":"test_result","subject":"r_%08d","observed_at":%q,"evidence":"report %d","payload":{"method":"pcr","result":%q,"sampled_at":%q,"lab":"lab"}}`+"\n",
				r, r, day, r, result, day)
		}
		bodies[i] = buf.Bytes()
	}
	// Four sources post at once, as a province's labs would; the store
	// batches their concurrent requests into shared commits.
	const clients = 4
	b.ResetTimer()
	cpu0, busy0 := cpuTime(), db.CommitStats().Busy
	start := time.Now()
	next := make(chan []byte, len(bodies))
	for _, body := range bodies {
		next <- body
	}
	close(next)
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		go func() {
			for body := range next {
				req, _ := http.NewRequest("POST", ts.URL+"/v1/facts", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("%d: %s", resp.StatusCode, out)
					return
				}
			}
			errs <- nil
		}()
	}
	for c := 0; c < clients; c++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "facts/s")
	// CPU per fact (the whole process: server, store and the clients) is
	// steadier than the rate on a shared machine, and says how far two
	// cores are from the rate.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*batch), "cpu-µs/fact")
	// The single committer's busy time per fact bounds the rate from above
	// (1e6 / it), whatever the other core does.
	b.ReportMetric(float64((db.CommitStats().Busy-busy0).Microseconds())/float64(b.N*batch), "commit-µs/fact")
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
