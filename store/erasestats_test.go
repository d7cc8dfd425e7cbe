package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestErasureKeepsStatistics (issue 15): with counts large enough to be
// published, erasing residents (one with a red code and its change, one
// never evaluated) leaves /v1/stats (Stats: codes by county and above,
// changes by day, cause and rule) and the counts an auditor
// makes from the public leaves as they were, while the resident's rows
// go; log verify (which rebuilds the projection from the log, where the
// erased entries open to no one) agrees with the live state.
func TestErasureKeepsStatistics(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 24)
		ctx := context.Background()
		mustOperator2(t, w)
		var batch []healthcode.Fact
		for i := range 12 {
			batch = append(batch, w.pcr(fmt.Sprintf("p%02d", i), fmt.Sprintf("r_test%06d", i), "positive", w.now.Add(-2*60*60*1e9)))
		}
		if _, err := w.db.RecordFacts(as(lab), batch); err != nil {
			t.Fatal(err)
		}
		before, err := w.db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := before.Codes["410105"]["red"]; c == nil || *c != 12 {
			t.Fatalf("red codes in 410105 before: %v, want 12 published", c)
		}
		publicBefore := publicCounts(t, w.db)
		for _, r := range []string{"r_test000003", "r_test000020"} {
			if _, err := w.db.EraseResident(as(operator), r, "the resident asked"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.db.EraseResident(as(operator2), r, "approved: in order"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.db.Code(as(cmdCounty), r); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
				t.Errorf("the erased %s's code is still served: %v", r, err)
			}
		}
		after, err := w.db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Below the county the erased no longer count: their community is
		// in their registration's personal part, which is gone (the public
		// leaves name the county only).
		countyStats(before, after)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("the statistics changed with the erasure (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(publicBefore, publicCounts(t, w.db)); diff != "" {
			t.Errorf("the counts from the public leaves changed with the erasure (-before +after):\n%s", diff)
		}
		mustVerified(t, w.db)
	})
}

// countyStats drops the codes counts finer than a county from each of
// sts: an erased resident no longer counts there (their community was in
// their registration's personal part; the public leaves name the county).
func countyStats(sts ...*store.Stats) {
	for _, st := range sts {
		for j := range st.Codes {
			if len(j) > 6 {
				delete(st.Codes, j)
			}
		}
	}
}

// mustOperator2 creates the second data operator, who approves erasures.
func mustOperator2(t *testing.T, w *world) {
	t.Helper()
	if err := w.db.CreateOfficial(system, healthcode.Official{ID: operator2.ID, Name: "第二操作员", Role: operator2.Role, Jurisdiction: operator2.Jurisdiction}, "login-o_operator2", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}
