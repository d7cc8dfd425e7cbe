package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// TestErasureKeepsStatistics (issue 15): with counts large enough to be
// published, erasing residents that cover every way of counting (one
// with a red code from a lab's result, one whose code rests on a fact an
// official entered by hand and whose appeal went overdue, one never
// evaluated) leaves every figure of /v1/stats as it was: codes by
// community and above, changes by day, cause and rule, the changes
// resting on hand-entered facts, appeals with the overdue ones, alerts;
// and the counts an auditor makes from the public leaves. The resident's
// rows go; log verify (which rebuilds the projection from the log, where
// the erased entries open to no one) agrees with the live state, and a
// database rebuilt from the log publishes the same statistics.
func TestErasureKeepsStatistics(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustErasureStatsWorld(t, dsn)
		ctx := context.Background()
		before := mustPublished(t, w.db)
		publicBefore := publicCounts(t, w.db)
		// What each log.erased entry keeps in its personal part: where and
		// how the resident counted, nothing of theirs.
		raw, rebind := rawDB(t, w.db, dsn)
		for r, want := range map[string]string{
			"r_test000003": `{"jurisdiction":"410105001001","colour":"red"}`,
			"r_test000014": `{"jurisdiction":"410105001001","colour":"red","hand_entered":{"2026-11-01":1},"overdue":1}`,
			"r_test000040": `{"jurisdiction":"410105001001","colour":"green"}`,
		} {
			idx := mustErased(t, w, r)
			if _, err := w.db.Code(as(cmdCounty), r); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
				t.Errorf("the erased %s's code is still served: %v", r, err)
			}
			var stored []byte
			if err := raw.QueryRow(rebind("SELECT data FROM log_personal WHERE idx = ?"), idx).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			pp, err := tlog.ParsePersonalPart(stored)
			if err != nil {
				t.Fatal(err)
			}
			if string(pp.Data) != want {
				t.Errorf("%s: the log.erased entry's record is %s, want %s", r, pp.Data, want)
			}
		}
		if diff := cmp.Diff(before, mustStats(t, w.db)); diff != "" {
			t.Errorf("the statistics changed with the erasure (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(publicBefore, publicCounts(t, w.db)); diff != "" {
			t.Errorf("the counts from the public leaves changed with the erasure (-before +after):\n%s", diff)
		}
		mustVerified(t, w.db)
		if p, err := w.db.CheckErasures(ctx); err != nil || len(p) > 0 {
			t.Errorf("CheckErasures: %v %v", p, err)
		}
		mustRebuiltStats(t, w.db, before)
	})
}

// TestErasureOfEditedRow (issue 15): an insider edited the code row of a
// red resident to green (verify would report it, the auditor raise an
// alert) and the resident is then erased. What the erasure keeps of them
// in the statistics is what the log says (red), not what the edited row
// said, so the statistics are those before the edit, log verify passes
// (the live erased counts are the rebuilt ones) and a rebuild publishes
// the same.
func TestErasureOfEditedRow(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustErasureStatsWorld(t, dsn)
		before := mustPublished(t, w.db)
		raw, rebind := rawDB(t, w.db, dsn)
		r := "r_test000005"
		if _, err := raw.Exec(rebind("UPDATE codes SET colour = 'green' WHERE resident = ?"), r); err != nil {
			t.Fatal(err)
		}
		if c := mustStats(t, w.db).Codes["410105001001"]["red"]; c == nil || *c != 23 {
			t.Fatalf("red codes in 410105001001 after the edit: %v, want 23", c)
		}
		mustErased(t, w, r)
		if diff := cmp.Diff(before, mustStats(t, w.db)); diff != "" {
			t.Errorf("the statistics after the erasure are not the log's (-log +after):\n%s", diff)
		}
		mustVerified(t, w.db)
		mustRebuiltStats(t, w.db, before)
	})
}

// mustErasureStatsWorld is an accountability world of 50 residents of
// 410105001001 (appeals due in 2 hours) where every statistic is
// published: 12 red codes from a lab's positive PCR results (r0-r11), r0
// a confirmed case; 12 red codes raised by close contacts a tracer
// entered by hand citing it and the county approved (r12-r23), whose
// appeals went overdue; 12 yellow codes from the lab's positive antigen
// tests (r24-r35); the rest (14) never evaluated.
func mustErasureStatsWorld(t *testing.T, dsn string) *world {
	t.Helper()
	w := mustAccWorld(t, dsn, store.Limits{AppealDeadline: 2 * time.Hour}, 50)
	mustOperator2(t, w)
	day := w.now.Add(-2 * time.Hour)
	batch := []healthcode.Fact{w.fact("case-1", "case_status", "r_test000000", day, `{"status":"confirmed","case_id":"C-1"}`)}
	for i := range 12 {
		batch = append(batch, w.pcr(fmt.Sprintf("p%02d", i), fmt.Sprintf("r_test%06d", i), "positive", day))
		batch = append(batch, w.fact(fmt.Sprintf("a%02d", i), "test_result", fmt.Sprintf("r_test%06d", 24+i), day,
			fmt.Sprintf(`{"method":"antigen","result":"positive","sampled_at":%q,"lab":"郑州市疾控中心"}`, day.Format(time.RFC3339))))
	}
	if _, err := w.db.RecordFacts(as(lab), batch); err != nil {
		t.Fatal(err)
	}
	for i := 12; i < 24; i++ {
		r := fmt.Sprintf("r_test%06d", i)
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact(fmt.Sprintf("c-%d", i), r, "C-1", day, "flow report 7")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideFact(as(cmdCounty), res.Facts[0].Key, true, ""); err != nil {
			t.Fatal(err)
		}
		ex := mustColour(t, w, r, healthcode.Red)
		if _, err := w.db.FileAppeal(self(r), healthcode.AppealRequest{Resident: r, FactKeys: []string{ex.Facts[0].Key}, Statement: "我没有接触过"}); err != nil {
			t.Fatal(err)
		}
	}
	w.now = w.now.Add(2 * time.Hour)
	if n, err := w.db.EscalateOverdue(context.Background()); n != 12 || err != nil {
		t.Fatalf("escalated %d appeals (%v), want 12", n, err)
	}
	return w
}

// mustPublished returns the statistics of w's world, checking that the
// figures the erasures touch are published.
func mustPublished(t *testing.T, db *store.DB) *store.Stats {
	t.Helper()
	st := mustStats(t, db)
	day := "2026-11-01"
	for what, c := range map[string]store.Count{
		"red codes in 410105001001":    st.Codes["410105001001"]["red"],
		"red codes in 410105":          st.Codes["410105"]["red"],
		"green codes in 410105001001":  st.Codes["410105001001"]["green"],
		"yellow codes in 410105001001": st.Codes["410105001001"]["yellow"],
		"hand-entered changes":         st.HandEntered[day],
		"overdue appeals":              st.Appeals["overdue"],
		"appeals filed":                st.Appeals["filed"],
	} {
		if c == nil || *c < store.MinPublishedCount {
			t.Fatalf("%s: %v, want published", what, c)
		}
	}
	return st
}

func mustStats(t *testing.T, db *store.DB) *store.Stats {
	t.Helper()
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// mustErased erases resident r (operator asks, operator2 approves) and
// returns the index of the log.erased entry.
func mustErased(t *testing.T, w *world, r string) int64 {
	t.Helper()
	if _, err := w.db.EraseResident(as(operator), r, "the resident asked"); err != nil {
		t.Fatal(err)
	}
	res, err := w.db.EraseResident(as(operator2), r, "approved: in order")
	if err != nil {
		t.Fatal(err)
	}
	return res.LogIndex
}

// mustRebuiltStats rebuilds db from its log into a fresh SQLite database,
// which must verify and publish the statistics want.
func mustRebuiltStats(t *testing.T, db *store.DB, want *store.Stats) {
	t.Helper()
	into := testdb.SQLite(t)
	if err := db.RebuildInto(context.Background(), into, nil); err != nil {
		t.Fatal(err)
	}
	rb := mustOpen(t, into)
	mustVerified(t, rb)
	if diff := cmp.Diff(want, mustStats(t, rb)); diff != "" {
		t.Errorf("the rebuilt database's statistics differ (-want +rebuilt):\n%s", diff)
	}
}

// mustOperator2 creates the second data operator, who approves erasures.
func mustOperator2(t *testing.T, w *world) {
	t.Helper()
	if err := w.db.CreateOfficial(system, healthcode.Official{ID: operator2.ID, Name: "第二操作员", Role: operator2.Role, Jurisdiction: operator2.Jurisdiction}, "login-o_operator2", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

// TestErasedIDNotReused: an erased resident's id cannot be registered
// again. Its chain and its log.erased entry stay in the log; a new
// resident under it would continue that chain, and a second erasure of
// the id would delete the first erasure's record, so that verify, which
// rebuilds the statistics from it, would fail.
func TestErasedIDNotReused(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustErasureStatsWorld(t, dsn)
		r := "r_test000005"
		mustErased(t, w, r)
		again := resident(900001, "410105001002")
		again.ID = r // another person (another ID number) under the erased id
		fresh := resident(900002, "410105001001")
		err := w.db.CreateResidents(system, []healthcode.Resident{fresh, again})
		if healthcode.ErrorCode(err) != healthcode.ECONFLICT || !strings.Contains(err.Error(), r) {
			t.Fatalf("registering the erased id %s again: %v, want a conflict naming it", r, err)
		}
		if _, err := w.db.Resident(as(cmdProvince1), fresh.ID); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
			t.Errorf("the refused batch registered its other resident: %v", err)
		}
		mustVerified(t, w.db)
	})
}
