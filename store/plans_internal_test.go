package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestPlansFollowGrowth checks that on PostgreSQL a statement a connection
// ran while a table was empty reads the table by index once the store has
// filled it: the generic plan PostgreSQL keeps for such a statement would
// scan the whole table, until new statistics replace it. The server's
// autovacuum may be off (on the CI machine it is): the store's
// analyzer takes the statistics.
func TestPlansFollowGrowth(t *testing.T) {
	ctx := context.Background()
	db := newProvince(t, testdb.Postgres(t), Options{})
	defer db.Close()
	conn, err := db.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The store looks rows up by lists of up to 500 keys (inChunks).
	lookup := "SELECT id FROM residents WHERE id IN (" + (postgresDialect{}).rebind(placeholders(500)) + ")"
	keys := func(prefix string) []any {
		out := make([]any, 500)
		for i := range out {
			out[i] = fmt.Sprintf("%s%05d", prefix, i)
		}
		return out
	}
	for i := 0; i < 10; i++ {
		rows, err := conn.QueryContext(ctx, lookup, keys("x_")...)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	var rs []healthcode.Resident
	for i := 0; i < 20000; i++ {
		h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_%05d", i), IDHash: h[:], Name: "居民", Jurisdiction: "410100"})
	}
	if err := db.CreateResidents(sys, rs); err != nil {
		t.Fatal(err)
	}
	// The backend's own counters (not yet flushed, so earlier statements'
	// are in them too): a lookup's scans are the difference.
	scans := func() (seq, idx int64) {
		t.Helper()
		if err := conn.QueryRowContext(ctx, "SELECT seq_scan, COALESCE(idx_scan, 0) FROM pg_stat_xact_user_tables WHERE relname = 'residents'").Scan(&seq, &idx); err != nil {
			t.Fatal(err)
		}
		return seq, idx
	}
	// The statistics are taken in the background and their effect on the
	// connection's cached plan is not instantaneous (statistics views are
	// flushed asynchronously; a busy machine delays the analyzer's tick):
	// within 20 s the lookup must read by index. Without the analyzer it
	// never does (autovacuum is off on the test server).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var analyzed int
		if err := db.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = 'residents' AND COALESCE(last_analyze, last_autoanalyze) IS NOT NULL").Scan(&analyzed); err != nil {
			t.Fatal(err)
		}
		seq0, idx0 := scans()
		rows, err := conn.QueryContext(ctx, lookup, keys("r_")...)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		seq1, idx1 := scans()
		if analyzed == 1 && n == 500 && seq1 == seq0 && idx1 != idx0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookup 20 s after growth: analyzed %d, %d rows, %d sequential scans, %d index scans; want 500 rows by index", analyzed, n, seq1-seq0, idx1-idx0)
		}
	}
}

// TestJobsAnalyze checks that on PostgreSQL a re-evaluation job first
// takes planner statistics of the tables it scans when they have none, and
// takes them again only once a table has changed.
func TestJobsAnalyze(t *testing.T) {
	ctx := context.Background()
	db := newProvince(t, testdb.Postgres(t), Options{}, "r_1", "r_2", "r_3")
	defer db.Close()
	analyzed := func() map[string]string {
		t.Helper()
		rows, err := db.db.QueryContext(ctx, "SELECT relname, COALESCE(COALESCE(last_analyze, last_autoanalyze)::text, '') FROM pg_stat_user_tables WHERE relname IN ('residents', 'facts', 'codes', 'code_schedule')")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var rel, at string
			if err := rows.Scan(&rel, &at); err != nil {
				t.Fatal(err)
			}
			out[rel] = at
		}
		return out
	}
	for rel, at := range analyzed() {
		if at != "" {
			t.Fatalf("%s analyzed before any job: %s", rel, at)
		}
	}
	if n, err := db.RunJobs(ctx, nil); err != nil || n != 1 {
		t.Fatalf("RunJobs = %d, %v; want the ruleset's job", n, err)
	}
	first := analyzed()
	if len(first) != 4 {
		t.Fatalf("statistics of %v; want four tables", first)
	}
	for rel, at := range first {
		if at == "" {
			t.Errorf("%s not analyzed before the job", rel)
		}
	}
	if err := db.dialect.analyze(ctx, db.db, "residents", "facts"); err != nil {
		t.Fatal(err)
	}
	if again := analyzed(); again["residents"] != first["residents"] || again["facts"] != first["facts"] {
		t.Errorf("unchanged tables analyzed again: %v, then %v", first, again)
	}
}
