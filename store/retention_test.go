package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestRetention: on the store's clock, the evidence of test results and
// contacts goes when their retention ends, each kind with one log.erased
// entry, and the log still verifies.
func TestRetention(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		day := 24 * time.Hour
		mustCase(t, w, "r_test000000")
		pcr := w.pcr("p-ret", "r_test000002", "negative", w.now.Add(-time.Hour))
		pcr.Evidence = "lab report R-ret"
		res, err := w.db.RecordFacts(as(lab), []healthcode.Fact{pcr})
		if err != nil {
			t.Fatal(err)
		}
		pcrKey := res.Facts[0].Key
		res, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-ret", "r_test000001", "C-1", w.now.Add(-time.Hour), "flow report ret")})
		if err != nil {
			t.Fatal(err)
		}
		contactKey := res.Facts[0].Key
		itin := healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin", Jurisdiction: "410100"}
		if err := w.db.CreateSource(system, healthcode.Source{ID: "s_itin", Name: "通信行程", Kinds: []string{"area_visit"}, Jurisdiction: "410100"}, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
			t.Fatal(err)
		}
		// Arrived 20 days before, departed 1 hour before: kept 14 days
		// from the departure, not the arrival.
		arrived, departed := w.now.Add(-20*day), w.now.Add(-time.Hour)
		visit := w.fact("v-ret", "area_visit", "r_test000003", arrived,
			`{"area":"410105","arrived_at":"`+arrived.Format(time.RFC3339)+`","departed_at":"`+departed.Format(time.RFC3339)+`"}`)
		visit.Evidence = "itinerary record V-ret"
		res, err = w.db.RecordFacts(as(itin), []healthcode.Fact{visit})
		if err != nil {
			t.Fatal(err)
		}
		visitKey := res.Facts[0].Key
		evidence := func(key string) string {
			f, err := w.db.Fact(as(cmdProvince1), key)
			if err != nil {
				t.Fatal(err)
			}
			return f.Evidence
		}
		policy := store.Retention{Visits: 14 * day, Results: 28 * day, Contacts: 10 * day}
		retain := func(want int64) {
			t.Helper()
			n, err := w.db.Retain(system, policy)
			if err != nil || n != want {
				t.Fatalf("Retain at %s: %d %v, want %d", w.now.Format(time.DateOnly), n, err, want)
			}
		}
		if _, err := w.db.Retain(as(operator), policy); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("an operator applying retention: %v", err)
		}
		retain(0)
		w.now = w.now.Add(9 * day)
		retain(0)
		w.now = w.now.Add(2 * day)
		retain(1)
		if evidence(contactKey) != "" || evidence(pcrKey) == "" || evidence(visitKey) == "" {
			t.Errorf("after 11 days: contact %q, test result %q, visit %q", evidence(contactKey), evidence(pcrKey), evidence(visitKey))
		}
		w.now = w.now.Add(4 * day)
		retain(1)
		if evidence(visitKey) != "" {
			t.Errorf("15 days after departure: visit %q", evidence(visitKey))
		}
		w.now = w.now.Add(14 * day)
		retain(1)
		if evidence(pcrKey) != "" {
			t.Errorf("after 29 days: test result %q", evidence(pcrKey))
		}
		retain(0)
		mustVerified(t, w.db)
		if p, err := w.db.CheckErasures(context.Background()); err != nil || len(p) > 0 {
			t.Errorf("CheckErasures: %v %v", p, err)
		}
	})
}
