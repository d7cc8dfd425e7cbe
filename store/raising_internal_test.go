package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// TestSourceFactRaises: a source's facts say in public whether each
// raises a code, as a hand-entered fact's do, so that an auditor counts
// raising facts per source and hour from the public leaves. Each fact is
// judged alone against the resident's stored facts (a negative test
// beside a positive one in the same batch raises nothing), by the
// batch's snapshot where it still holds and afresh where it does not
// (another batch moved the resident's chain in between, or the clock
// passed the moment an earlier fact left its window), and for a
// batch that is not local (with a case status), in the transaction.
func TestSourceFactRaises(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		db, _, record := newLabProvince(t, dsn, &now, "r_00", "r_01", "r_02", "r_03", "r_04")
		day := now.Add(-24 * time.Hour)
		pcr := func(id, subject, result string) healthcode.Fact { return labPCR(id, subject, result, day) }

		// Local batches, decided from their snapshots.
		record(pcr("p-1", "r_00", "positive"), pcr("n-1", "r_00", "negative"), pcr("n-2", "r_01", "negative"))
		record(pcr("p-2", "r_00", "positive")) // r_00 is red already
		// r_02's chain moves between the snapshot (r_02 green: the test
		// would raise) and the write (r_02 red: it does not).
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			record(pcr("p-3", "r_02", "positive"))
		}
		record(pcr("p-4", "r_02", "positive"))
		// The clock passes the moment r_01's earlier positive test lapses
		// between the snapshot (r_01 red: the new test would not raise)
		// and the write (r_01 green: it does).
		record(labPCR("p-6", "r_01", "positive", now.Add(-14*24*time.Hour+time.Minute)))
		testHookAfterSnapshot = func() {
			testHookAfterSnapshot = nil
			now = now.Add(2 * time.Minute)
		}
		record(pcr("p-7", "r_01", "positive"))
		// A batch with a case status is not local: no snapshot.
		record(pcr("p-5", "r_03", "positive"), healthcode.Fact{ID: "c-1", Kind: rules.KindCaseStatus, Subject: "r_04", ObservedAt: day,
			Payload: []byte(`{"status":"confirmed","case_id":"C-1"}`)})

		want := map[string]string{"s_lab:p-1": "true", "s_lab:n-1": "false", "s_lab:n-2": "false", "s_lab:p-2": "false",
			"s_lab:p-3": "true", "s_lab:p-4": "false", "s_lab:p-5": "true", "s_lab:c-1": "true",
			"s_lab:p-6": "true", "s_lab:p-7": "true"}
		got := SourceRaises(t, db)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("raises in the public leaves of the source's facts (-want +got):\n%s", diff)
		}
		rep, err := db.verifyLog(ctx)
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("verify: %v %v", rep.Problems, err)
		}
	})
}

// SourceRaises reads the raises of every source's fact.recorded leaf, by
// fact key ("unknown" where the leaf has none). Exported for the tests of
// package store_test.
func SourceRaises(t *testing.T, db *DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	head, err := db.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := db.ReadLeaves(ctx, 0, head.Size)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, leaf := range leaves {
		pub, err := tlog.ParseEntry(leaf)
		if err != nil {
			t.Fatal(err)
		}
		if pub.Kind != tlog.KindFactRecorded || pub.Actor.Kind != tlog.ActorSource {
			continue
		}
		var view struct {
			Raises *bool `json:"raises"`
		}
		if err := json.Unmarshal(pub.Payload, &view); err != nil {
			t.Fatal(err)
		}
		e, _, err := db.OpenedEntry(ctx, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		got[ev.Key] = "unknown"
		if view.Raises != nil {
			got[ev.Key] = fmt.Sprint(*view.Raises)
		}
	}
	return got
}
