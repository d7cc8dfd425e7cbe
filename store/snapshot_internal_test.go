package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
)

// labPCR is a PCR test result by the lab of newLabProvince.
func labPCR(id, subject, result string, at time.Time) healthcode.Fact {
	return healthcode.Fact{ID: id, Kind: rules.KindTestResult, Subject: subject, ObservedAt: at,
		Payload: []byte(fmt.Sprintf(`{"method":"pcr","result":%q,"sampled_at":%q,"lab":"lab"}`, result, at.Format(time.RFC3339)))}
}

// newLabProvince is newProvince with the clock *now and a lab source
// (test results and case statuses, the whole province); record records a
// batch as the lab. The snapshot hook is reset at the end.
func newLabProvince(t *testing.T, dsn string, now *time.Time, residents ...string) (db *DB, sys context.Context, record func(...healthcode.Fact)) {
	t.Helper()
	ctx := context.Background()
	db = newProvince(t, dsn, Options{Now: func() time.Time { return *now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, residents...)
	t.Cleanup(func() { db.Close(); testHookAfterSnapshot = nil })
	sys = healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	if err := db.CreateSource(sys, healthcode.Source{ID: "s_lab", Name: "lab", Kinds: []string{"test_result", "case_status"}, Jurisdiction: "410000"}, "hck_labkeylabkeylabkeylabkeylabkey"); err != nil {
		t.Fatal(err)
	}
	lab := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"})
	record = func(facts ...healthcode.Fact) {
		t.Helper()
		if _, err := db.RecordFacts(lab, facts); err != nil {
			t.Fatal(err)
		}
	}
	return db, sys, record
}

// TestStaleSnapshot records a source's batch while something the batch's
// snapshot read changes between the snapshot and the write (see
// factSnapshot): another batch about the same resident, a write that is
// not local, and the clock passing the moment a fact ages out. In every
// case the stored codes must be what evaluating afresh gives, which
// replaying the log checks entry by entry.
func TestStaleSnapshot(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		db, sys, record := newLabProvince(t, dsn, &now, "r_00", "r_01", "r_02", "r_03")
		code := func(id string) healthcode.CodeState {
			t.Helper()
			c, err := db.Code(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: id}), id)
			if err != nil {
				t.Fatal(err)
			}
			return *c
		}
		day := now.Add(-24 * time.Hour)

		// The resident's chain moves in between: a second positive test for
		// r_00 lands first, so the batch's snapshot (which saw neither) must
		// not decide r_00's code.
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			record(labPCR("p-2", "r_00", "positive", day.Add(time.Hour)))
		}
		record(labPCR("p-1", "r_00", "positive", day))
		if c := code("r_00"); c.Colour != healthcode.Red || !slices.Equal(c.FactIDs, []string{"s_lab:p-1", "s_lab:p-2"}) {
			t.Errorf("r_00 after a concurrent batch: %s citing %v, want red citing both tests", c.Colour, c.FactIDs)
		}

		// The same, with so many local commits in between that the committer
		// no longer remembers the first (see maxMoved).
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			record(labPCR("q-0", "r_03", "positive", day.Add(time.Hour)))
			for i := 1; i <= maxMoved; i++ {
				record(labPCR(fmt.Sprintf("q-%d", i), "r_02", "negative", day))
			}
		}
		record(labPCR("q-x", "r_03", "positive", day))
		if c := code("r_03"); !slices.Equal(c.FactIDs, []string{"s_lab:q-0", "s_lab:q-x"}) {
			t.Errorf("r_03 after %d concurrent batches: %s citing %v, want red citing both tests", maxMoved+1, c.Colour, c.FactIDs)
		}

		// A write that is not local (a registration) lands in between.
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			if err := db.CreateResidents(sys, []healthcode.Resident{{ID: "r_09", IDHash: append([]byte{9}, make([]byte, 31)...), Name: "居民", Jurisdiction: "410100"}}); err != nil {
				t.Fatal(err)
			}
		}
		record(labPCR("p-3", "r_09", "positive", day)) // r_09 did not exist at the snapshot
		if c := code("r_09"); c.Colour != healthcode.Red {
			t.Errorf("r_09, registered after the snapshot: %s, want red", c.Colour)
		}

		// The clock passes the moment the snapshot's evaluation expires: a
		// positive test sampled 14 days ago, less a minute, lapses before
		// the write.
		old := now.Add(-14*24*time.Hour + time.Minute)
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			now = now.Add(2 * time.Minute)
		}
		record(labPCR("p-4", "r_01", "positive", old))
		if c := code("r_01"); c.Colour != healthcode.Green {
			t.Errorf("r_01 with a test that lapsed before the write: %s, want green", c.Colour)
		}

		// A fresh snapshot is used as is.
		record(labPCR("p-5", "r_02", "positive", now.Add(-time.Hour)))
		if c := code("r_02"); c.Colour != healthcode.Red {
			t.Errorf("r_02: %s, want red", c.Colour)
		}

		rep, err := db.verifyLog(ctx)
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("verify: %v %v", rep.Problems, err)
		}
	})
}

// TestCheckpointer: with SQLite's automatic checkpoints off, the
// checkpointer copies committed pages from the WAL into the database file
// while the store runs.
func TestCheckpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := newProvince(t, path, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer db.Close()
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	var ids []string
	for i := range 2000 {
		ids = append(ids, fmt.Sprintf("r_%05d", i))
	}
	before := size()
	sys := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	var rs []healthcode.Resident
	for i, id := range ids {
		h := make([]byte, 32)
		h[0], h[1], h[2] = byte(i), byte(i>>8), 0xee
		rs = append(rs, healthcode.Resident{ID: id, IDHash: h, Name: "居民", Jurisdiction: "410100"})
	}
	if err := db.CreateResidents(sys, rs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes 5 s after a commit: nothing checkpointed", size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScheduleOnlyChanges: recording facts schedules a resident's next
// evaluation only for when their code will change (a positive test
// lapsing), not for a negative test leaving its window.
func TestScheduleOnlyChanges(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		db := newProvince(t, dsn, Options{Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, "r_neg", "r_pos")
		defer db.Close()
		sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
		if err := db.CreateSource(sys, healthcode.Source{ID: "s_lab", Name: "lab", Kinds: []string{"test_result"}, Jurisdiction: "410000"}, "hck_labkeylabkeylabkeylabkeylabkey"); err != nil {
			t.Fatal(err)
		}
		day := now.Add(-24 * time.Hour)
		var facts []healthcode.Fact
		for r, result := range map[string]string{"r_neg": "negative", "r_pos": "positive"} {
			facts = append(facts, healthcode.Fact{ID: "pcr-" + r, Kind: rules.KindTestResult, Subject: r, ObservedAt: day,
				Payload: []byte(fmt.Sprintf(`{"method":"pcr","result":%q,"sampled_at":%q,"lab":"lab"}`, result, day.Format(time.RFC3339)))})
		}
		if _, err := db.RecordFacts(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"}), facts); err != nil {
			t.Fatal(err)
		}
		rows, err := db.db.QueryContext(ctx, "SELECT resident FROM code_schedule ORDER BY resident")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if !slices.Equal(got, []string{"r_pos"}) {
			t.Errorf("scheduled %v, want [r_pos]", got)
		}
	})
}

// TestStaleSnapshotDuplicates: a fact with the batch's id stored between
// the batch's snapshot and its write, by another batch of the same
// source. About the same resident, the batch's fact is a duplicate if it
// is the same and refused on its line if it is not (the committer reads
// the keys of moved residents again: existingFacts); about another
// resident, the batch is refused as a conflict. Nothing is stored twice.
func TestStaleSnapshotDuplicates(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		db, _, record := newLabProvince(t, dsn, &now, "r_00", "r_01", "r_02")
		lab := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"})
		day := now.Add(-24 * time.Hour)
		between := func(f healthcode.Fact) {
			testHookAfterSnapshot = func() {
				testHookAfterSnapshot = nil
				record(f)
			}
		}

		between(labPCR("d-1", "r_00", "negative", day))
		res, err := db.RecordFacts(lab, []healthcode.Fact{labPCR("d-1", "r_00", "negative", day)})
		if err != nil || len(res.Facts) != 1 || res.Facts[0].Status != "duplicate" {
			t.Errorf("the same fact stored in between: %+v %v, want a duplicate", res, err)
		}

		between(labPCR("d-2", "r_01", "negative", day))
		_, err = db.RecordFacts(lab, []healthcode.Fact{labPCR("d-2", "r_01", "positive", day)})
		if err == nil || !strings.Contains(err.Error(), `id "d-2" was already used for a different fact`) {
			t.Errorf("another fact under the id, stored in between: %v, want the line's error", err)
		}

		between(labPCR("d-3", "r_01", "negative", day))
		_, err = db.RecordFacts(lab, []healthcode.Fact{labPCR("d-3", "r_02", "negative", day)})
		if err == nil || !strings.Contains(err.Error(), "a fact with this id is already stored") {
			t.Errorf("the id about another resident, stored in between: %v, want a conflict", err)
		}

		var n int
		if err := db.db.QueryRowContext(ctx, "SELECT count(*) FROM facts WHERE id IN ('d-1', 'd-2', 'd-3')").Scan(&n); err != nil || n != 3 {
			t.Errorf("facts stored: %d %v, want 3", n, err)
		}
		rep, err := db.verifyLog(ctx)
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("verify: %v %v", rep.Problems, err)
		}
	})
}

// TestStaleSnapshotChainLink: when another entry about the resident lands
// between a batch's snapshot and its write, with the batch's entry
// unchanged (a negative test does not change whether a positive one
// raises, so the entry encoded outside the committer is used), the entry's
// chain link is the new head, not the one the snapshot read, and the log
// verifies.
func TestStaleSnapshotChainLink(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		db, _, record := newLabProvince(t, dsn, &now, "r_00")
		day := now.Add(-24 * time.Hour)
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			record(labPCR("n-1", "r_00", "negative", day))
		}
		record(labPCR("p-1", "r_00", "positive", day.Add(time.Hour)))
		rep, err := db.verifyLog(ctx)
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("verify: %v %v", rep.Problems, err)
		}
	})
}
