package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// designation is a risk_area fact of area from w.now-1h for length.
func (w *world) designation(id, area, level string, length time.Duration) healthcode.Fact {
	from := w.now.Add(-time.Hour)
	return w.fact(id, "risk_area", area, from, fmt.Sprintf(`{"level":%q,"from":%q,"until":%q,"case_ids":["C-1"]}`,
		level, from.Format(time.RFC3339), from.Add(length).Format(time.RFC3339)))
}

// mustDesignationWorld is mustAccWorld with a confirmed case C-1 to cite and
// resident 3's visit to 410105001002 half an hour ago.
func mustDesignationWorld(t *testing.T, dsn string, lim store.Limits) *world {
	t.Helper()
	w := mustAccWorld(t, dsn, lim, 6)
	mustCase(t, w, "r_test000004")
	itin := healthcode.Source{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"}
	if err := w.db.CreateSource(system, itin, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
		t.Fatal(err)
	}
	arrived := w.now.Add(-30 * time.Minute)
	visit := w.fact("v-1", "area_visit", "r_test000003", arrived, fmt.Sprintf(`{"area":"410105001002","arrived_at":%q,"departed_at":%q}`,
		arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339)))
	if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestDesignationBounded: a designation lasts at most Limits.MaxDesignation
// (default 14 days); a longer one is refused naming payload.until.
func TestDesignationBounded(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		lim     store.Limits
		ok, bad []time.Duration
	}{
		{store.Limits{}, []time.Duration{14 * day}, []time.Duration{14*day + time.Second, 400 * day}},
		{store.Limits{MaxDesignation: 3 * day}, []time.Duration{3 * day}, []time.Duration{4 * day}},
	} {
		testdb.Engines(t, func(t *testing.T, dsn string) {
			w := mustDesignationWorld(t, dsn, tc.lim)
			for i, length := range append(tc.ok, tc.bad...) {
				_, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.designation(fmt.Sprint("ra-", i), "410105001", "low", length)})
				var he *healthcode.Error
				switch {
				case i < len(tc.ok) && err != nil:
					t.Errorf("%v with %+v: %v, want it recorded", length, tc.lim.MaxDesignation, err)
				case i >= len(tc.ok) && (!errorsAs(err, &he) || len(he.Details) != 1 || he.Details[0].Field != "payload.until" || !strings.Contains(he.Details[0].Message, "at most")):
					t.Errorf("%v with %+v: %v, want payload.until refused", length, tc.lim.MaxDesignation, err)
				}
			}
		})
	}
}

// TestDesignationRaisingByRules: whether a designation raises is decided by
// the ruleset in force, not by its level. Under a ruleset where a low-risk
// stay is yellow, one officer's "low" designation waits for a second
// command officer, and the visitor stays green until it is approved; under
// the default ruleset "low" raises nobody and is in force at once, while
// "high" waits even for an area nobody has visited yet.
func TestDesignationRaisingByRules(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		record := func(f healthcode.Fact) string {
			t.Helper()
			res, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{f})
			if err != nil {
				t.Fatal(err)
			}
			return res.Facts[0].Status
		}
		if got := record(w.designation("ra-low", "410105001", "low", 72*time.Hour)); got != "active" {
			t.Errorf("low under the default ruleset: %s, want active", got)
		}
		if got := record(w.designation("ra-high", "410105001001", "high", 72*time.Hour)); got != "pending" {
			t.Errorf("high of an unvisited area: %s, want pending", got)
		}

		src := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
		src = strings.Replace(src, "a.level == 'medium'", "a.level in ['medium', 'low']", 1)
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		// The first low designation now turns the visitor yellow: it was
		// in force before the rule; this is the ruleset's doing, approved by two.
		mustColour(t, w, "r_test000003", healthcode.Yellow)
		if _, err := w.db.RetractFact(as(cmdCounty), healthcode.FactKey(cmdCounty.ID, "ra-low"), "test: start again"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, "r_test000003", healthcode.Green)
		if got := record(w.designation("ra-low-2", "410105001", "low", 72*time.Hour)); got != "pending" {
			t.Errorf("low under a ruleset where low is yellow: %s, want pending", got)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, "r_test000003", healthcode.Green)
	})
}

// TestDesignationCap: the designations that can cover one place at once are
// capped (rules' Max for risk_area, 20); the one beyond is refused when it
// is recorded, naming the area, not discovered when a visitor's code is
// evaluated.
func TestDesignationCap(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		var batch []healthcode.Fact
		for i := range 20 {
			area := "410105001"
			if i%2 == 1 {
				area = "410105" // an ancestor covers the same places
			}
			batch = append(batch, w.designation(fmt.Sprintf("ra-%02d", i), area, "low", 72*time.Hour))
		}
		if _, err := w.db.RecordFacts(as(cmdCounty), batch); err != nil {
			t.Fatal(err)
		}
		_, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.designation("ra-20", "410105001002", "low", 72*time.Hour)})
		var he *healthcode.Error
		if !errorsAs(err, &he) || len(he.Details) != 1 || he.Details[0].Field != "subject" || !strings.Contains(he.Details[0].Message, "410105001002") || !strings.Contains(he.Details[0].Message, "20") {
			t.Fatalf("the 21st designation: %v, want it refused naming the area and the cap", err)
		}
		// A designation elsewhere is not counted against this one.
		if err := w.db.CreateJurisdictions(system, []healthcode.Jurisdiction{{Code: "410105002", Name: "花园路街道", Level: healthcode.Street, Parent: "410105"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.designation("ra-21", "410105002", "low", 72*time.Hour)}); err != nil {
			t.Errorf("another street: %v", err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, "r_test000003", healthcode.Green)
	})
}

// TestDesignationManyVisitors: a designation of a place with more visiting
// residents than the store evaluates inside a write counts as raising and
// waits for a second command officer, even a "low" one under the default
// ruleset.
func TestDesignationManyVisitors(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		var rs []healthcode.Resident
		var visits []healthcode.Fact
		arrived := w.now.Add(-30 * time.Minute)
		for i := range 1001 {
			r := resident(1000+i, "410105001001")
			rs = append(rs, r)
			visits = append(visits, w.fact(fmt.Sprint("mv-", i), "area_visit", r.ID, arrived, fmt.Sprintf(`{"area":"410105001001","arrived_at":%q,"departed_at":%q}`,
				arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339))))
		}
		if err := w.db.CreateResidents(system, rs); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), visits); err != nil {
			t.Fatal(err)
		}
		res, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.designation("ra-1", "410105001001", "low", 72*time.Hour)})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("designation of a place with 1,001 visitors: %+v %v, want pending", res, err)
		}
		res, err = w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.designation("ra-2", "410105001002", "low", 72*time.Hour)})
		if err != nil || res.Facts[0].Status != "active" {
			t.Fatalf("designation of a place with one visitor: %+v %v, want active", res, err)
		}
	})
}
