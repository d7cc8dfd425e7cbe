// Package scenario builds, for the server's and the pages' tests, store
// states that take many steps to reach. It may import the domain and the
// store, never the server.
package scenario

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// Reraise is the insider's re-raise through a designation (issue 13, item
// 5): the officials and places it involves. The officials must exist and
// a ruleset be in force; Case must be an active confirmed case.
type Reraise struct {
	Resident  string // restored by the appeal, then designated again
	Community string // where the resident went (inside Street)
	Street    string // what the county designates
	Case      string // the case the contact and the designation cite
	Tracer    healthcode.Actor
	County    healthcode.Actor // records the contact's approval and the designation
	Colleague healthcode.Actor // of the same office: approves the designation
	Granter   healthcode.Actor // grants the appeal
}

// Held is what Reraise.Run made: the designation held for the resident
// and the appeal that restored them.
type Held struct {
	Designation, Appeal string
}

// Run has the itinerary source (s_itin, registered here) record the
// resident's visit to Community half an hour ago; the tracer a close
// contact approved by County (red); the resident's appeal against it
// granted by Granter (green); then County designates Street high-risk,
// Colleague approves it, and the job runs: the designation is in force
// for everyone but held for the resident.
func (s Reraise) Run(t testing.TB, db *store.DB) Held {
	t.Helper()
	ctx := context.Background()
	as := func(a healthcode.Actor) context.Context { return healthcode.NewContext(ctx, a) }
	record := func(ctx context.Context, f healthcode.Fact) string {
		t.Helper()
		res, err := db.RecordFacts(ctx, []healthcode.Fact{f})
		if err != nil {
			t.Fatal(err)
		}
		return res.Facts[0].Key
	}
	system := as(healthcode.Actor{Kind: healthcode.ActorSystem, ID: "scenario"})
	if err := db.CreateSource(system, healthcode.Source{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"}, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	arrived := now.Add(-30 * time.Minute)
	record(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), healthcode.Fact{ID: "v-" + s.Resident, Kind: "area_visit", Subject: s.Resident,
		ObservedAt: arrived, Evidence: "itinerary",
		Payload: fmt.Appendf(nil, `{"area":%q,"arrived_at":%q,"departed_at":%q}`, s.Community, arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339))})
	exposed := now.Add(-24 * time.Hour)
	contact := record(as(s.Tracer), healthcode.Fact{ID: "c-" + s.Resident, Kind: "contact", Subject: s.Resident, ObservedAt: exposed, Evidence: "flow report 7",
		Payload: fmt.Appendf(nil, `{"level":"close","case_id":%q,"exposed_at":%q}`, s.Case, exposed.Format(time.RFC3339))})
	if _, err := db.DecideFact(as(s.County), contact, true, ""); err != nil {
		t.Fatal(err)
	}
	self := as(healthcode.Actor{Kind: healthcode.ActorResident, ID: s.Resident, Role: healthcode.RoleResident})
	a, err := db.FileAppeal(self, healthcode.AppealRequest{Resident: s.Resident, FactKeys: []string{contact}, Statement: "我不是密接"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideAppeal(as(s.Granter), a.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	from := now.Add(-time.Hour)
	key := record(as(s.County), healthcode.Fact{ID: "ra-" + s.Street, Kind: "risk_area", Subject: s.Street, ObservedAt: from, Evidence: "指挥部通告",
		Payload: fmt.Appendf(nil, `{"level":"high","from":%q,"until":%q,"case_ids":[%q]}`, from.Format(time.RFC3339), from.Add(72*time.Hour).Format(time.RFC3339), s.Case)})
	if _, err := db.DecideFact(as(s.Colleague), key, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RunJobs(system, nil); err != nil {
		t.Fatal(err)
	}
	return Held{Designation: key, Appeal: a.ID}
}
