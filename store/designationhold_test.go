package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// mustRestored gives r a contact approved by the county command (red),
// then grants r's appeal against it (green again): r is in the cooling
// period after a granted appeal.
func mustRestored(t *testing.T, w *world, r string) {
	t.Helper()
	res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-"+r, r, "C-1", w.now.Add(-24*time.Hour), "flow report 7")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.DecideFact(as(cmdCounty), res.Facts[0].Key, true, ""); err != nil {
		t.Fatal(err)
	}
	mustColour(t, w, r, healthcode.Red)
	a, err := w.db.FileAppeal(self(r), healthcode.AppealRequest{Resident: r, FactKeys: []string{res.Facts[0].Key}, Statement: "我没有接触过病例"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.DecideAppeal(as(cmdProvince1), a.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	mustColour(t, w, r, healthcode.Green)
}

// mustVisit records, by the itinerary source, r's visit to area half an
// hour ago.
func mustVisit(t *testing.T, w *world, id, r, area string) {
	t.Helper()
	arrived := w.now.Add(-30 * time.Minute)
	visit := w.fact(id, "area_visit", r, arrived, fmt.Sprintf(`{"area":%q,"arrived_at":%q,"departed_at":%q}`,
		area, arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339)))
	if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
		t.Fatal(err)
	}
}

func mustOfficial(t *testing.T, w *world, a healthcode.Actor) {
	t.Helper()
	if err := w.db.CreateOfficial(system, healthcode.Official{ID: a.ID, Name: "官员" + a.ID, Role: a.Role, Jurisdiction: a.Jurisdiction}, "login-"+a.ID, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

// secondary is a tracer's secondary contact about subject.
func (w *world) secondary(id, subject string, exposed time.Time, evidence string) healthcode.Fact {
	f := w.fact(id, "contact", subject, exposed, fmt.Sprintf(`{"level":"secondary","case_id":"C-1","exposed_at":%q}`, exposed.Format(time.RFC3339)))
	f.Evidence = evidence
	return f
}

// highDesignation is a high-risk designation of area covering the last
// hours (the visits of mustVisit).
func (w *world) highDesignation(id, area string) healthcode.Fact {
	from := w.now.Add(-3 * time.Hour)
	return w.fact(id, "risk_area", area, from, fmt.Sprintf(`{"level":"high","from":%q,"until":%q,"case_ids":["C-1"]}`,
		from.Format(time.RFC3339), from.Add(72*time.Hour).Format(time.RFC3339)))
}

// TestReraiseByDesignation is the insider's attack on the re-raise guard:
// the county office whose resident's appeal was granted re-reddens them
// an hour later through a designation of the street they visited, approved
// by a colleague of the same office. The designation goes through for the
// street's other visitors, but is held for the restored resident alone
// (fact.held_for), for the city command, with a reraise_after_appeal
// alert: they stay green. Neither county officer can release it for them;
// a city command officer who neither recorded nor approved it does, and
// the resident is re-evaluated at once, their change citing the
// designation. log verify (the replay and the rebuilt projection) agrees
// at every step.
func TestReraiseByDesignation(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		cmdCountyB := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdc_b", Role: healthcode.RoleCommand, Jurisdiction: "410105"}
		cmdCountyC := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdc_c", Role: healthcode.RoleCommand, Jurisdiction: "410105"}
		mustOfficial(t, w, cmdCountyB)
		mustOfficial(t, w, cmdCountyC)
		r3, r5 := "r_test000003", "r_test000005" // r3 visited 410105001002 (mustDesignationWorld)
		mustRestored(t, w, r3)
		mustVisit(t, w, "v-5", r5, "410105001001")

		// An hour later the county designates the street both visited.
		w.now = w.now.Add(time.Hour)
		res, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.highDesignation("ra-1", "410105001")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("designation: %+v %v", res, err)
		}
		key := res.Facts[0].Key
		alerts := alertsOf(t, w.db, healthcode.AlertReraise)
		if len(alerts) != 1 || alerts[0].Detail["resident"] != r3 || alerts[0].Detail["approval_scope"] != "410100" ||
			alerts[0].Detail["designation"] != key || alerts[0].Detail["appeal"] == nil {
			t.Fatalf("re-raise alerts: %+v", alerts)
		}
		// The dry run its approver sees leaves the restored resident out.
		imp, err := w.db.DesignationImpact(as(cmdCountyB), key)
		if err != nil || imp.Changed != 1 {
			t.Fatalf("dry run: %+v %v, want one code changed (r5's)", imp, err)
		}

		// A colleague of the same office approves: for everyone else the
		// designation is in force; for r3 it is held.
		if _, err := w.db.DecideFact(as(cmdCountyB), key, true, ""); err != nil {
			t.Fatalf("a colleague approving the designation: %v", err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r5, healthcode.Red)
		mustColour(t, w, r3, healthcode.Green)
		mustVerified(t, w.db)

		// The county sees no hold to decide; the city sees r3's.
		if held, _, err := w.db.HeldDesignations(as(cmdCountyB), 1); err != nil || len(held) != 0 {
			t.Fatalf("the county's held designations: %+v %v, want none", held, err)
		}
		held, _, err := w.db.HeldDesignations(as(cmdCity2), 1)
		if err != nil || len(held) != 1 || held[0].Resident != r3 || held[0].Designation != key || held[0].Hold != store.HoldHeld ||
			held[0].ApprovalScope != "410100" || held[0].Status != "active" || held[0].ApprovedBy != cmdCountyB.ID {
			t.Fatalf("the city's held designations: %+v %v", held, err)
		}
		// Neither its recorder nor its approver, nor a third officer of
		// the same office, may release it for r3.
		for _, a := range []healthcode.Actor{cmdCounty, cmdCountyB, cmdCountyC} {
			_, err := w.db.DecideDesignationHold(as(a), key, r3, true, "")
			mustCode(t, err, healthcode.EFORBIDDEN, a.ID+" releasing the designation for r3")
		}
		// While it is held, r3's evaluation leaves it out everywhere: a
		// new secondary contact would raise r3 (green to yellow), so it
		// waits for approval (held for the city: the cooling period).
		res, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.secondary("c2-3", r3, w.now.Add(-2*time.Hour), "flow report 9")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("a secondary contact about r3 while the designation is held for them: %+v %v, want pending", res, err)
		}
		_, err = w.db.DecideDesignationHold(as(cmdCity2), key, r5, true, "")
		mustCode(t, err, healthcode.ENOTFOUND, "releasing a designation not held for r5")
		mustColour(t, w, r3, healthcode.Green)

		// The city command releases it for r3: re-evaluated at once.
		h, err := w.db.DecideDesignationHold(as(cmdCity2), key, r3, true, "")
		if err != nil || h.Hold != store.HoldReleased || h.DecidedBy != cmdCity2.ID {
			t.Fatalf("the city releasing: %+v %v", h, err)
		}
		ex := mustColour(t, w, r3, healthcode.Red)
		if ex.Designation != key || ex.Cause != store.CauseRiskArea {
			t.Errorf("r3's change: designation %q cause %q, want %s, %s", ex.Designation, ex.Cause, key, store.CauseRiskArea)
		}
		if _, err := w.db.DecideDesignationHold(as(cmdCity2), key, r3, true, ""); err != nil {
			t.Errorf("a retried release: %v", err)
		}
		_, err = w.db.DecideDesignationHold(as(cmdCity1), key, r3, false, "not an epidemiological reason")
		mustCode(t, err, healthcode.ECONFLICT, "refusing a released hold")
		mustVerified(t, w.db)
	})
}

// TestDesignationHoldRefused: a designation held for a resident is
// decided by a command officer of the hold's scope who neither recorded
// nor approved it; a release waits for the designation's approval;
// refused, it never counts for the resident, through any later
// re-evaluation, and log verify agrees.
func TestDesignationHoldRefused(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		cmdProvince3 := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdp3", Role: healthcode.RoleCommand, Jurisdiction: "410000"}
		mustOfficial(t, w, cmdProvince3)
		r3 := "r_test000003"
		mustRestored(t, w, r3)
		w.now = w.now.Add(time.Hour)
		// The province's own command records it: the hold is for the
		// province's command (a province post has no parent).
		res, err := w.db.RecordFacts(as(cmdProvince1), []healthcode.Fact{w.highDesignation("ra-1", "410105001")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("designation: %+v %v", res, err)
		}
		key := res.Facts[0].Key
		_, err = w.db.DecideDesignationHold(as(cmdProvince2), key, r3, true, "")
		mustCode(t, err, healthcode.ECONFLICT, "releasing for r3 before the designation is approved")
		if _, err := w.db.DecideFact(as(cmdProvince2), key, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r3, healthcode.Green)
		for _, a := range []healthcode.Actor{cmdProvince1, cmdProvince2} {
			_, err := w.db.DecideDesignationHold(as(a), key, r3, true, "")
			mustCode(t, err, healthcode.EFORBIDDEN, a.ID+" (its recorder or approver) releasing it for r3")
		}
		_, err = w.db.DecideDesignationHold(as(cmdProvince3), key, r3, false, "")
		mustCode(t, err, healthcode.EINVALID, "a refusal without a reason")
		h, err := w.db.DecideDesignationHold(as(cmdProvince3), key, r3, false, "the same office again")
		if err != nil || h.Hold != store.HoldRefused {
			t.Fatalf("refusing: %+v %v", h, err)
		}
		// Later facts about r3 re-evaluate them: the designation still
		// does not count (a positive antigen test makes them yellow, not
		// red), in the live evaluation, in the raises of the test's entry
		// and in the replay.
		mustVisit(t, w, "v-3b", r3, "410105001001")
		mustColour(t, w, r3, healthcode.Green)
		sampled := w.now.Add(-time.Hour)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.fact("ag-3", "test_result", r3, sampled,
			fmt.Sprintf(`{"method":"antigen","result":"positive","sampled_at":%q,"lab":"郑州市疾控中心"}`, sampled.Format(time.RFC3339)))}); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r3, healthcode.Yellow)
		// In public too the test raises r3's code (green to yellow): the
		// refused designation counts no more there than in the code.
		if got := store.SourceRaises(t, w.db)["s_lab:ag-3"]; got != "true" {
			t.Errorf("raises of the antigen test in public: %s, want true", got)
		}
		if held, _, err := w.db.HeldDesignations(as(cmdProvince3), 1); err != nil || len(held) != 0 {
			t.Fatalf("held designations after the refusal: %+v %v", held, err)
		}
		mustVerified(t, w.db)
	})
}

// TestDesignationHoldErased: a hold is an entry about its resident;
// erasing the resident removes its row with their other rows, and the
// rebuilt projection (log verify) agrees.
func TestDesignationHoldErased(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		mustOfficial(t, w, operator2)
		r3 := "r_test000003"
		mustRestored(t, w, r3)
		w.now = w.now.Add(time.Hour)
		if _, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.highDesignation("ra-1", "410105001")}); err != nil {
			t.Fatal(err)
		}
		if held, _, err := w.db.HeldDesignations(as(cmdCity1), 1); err != nil || len(held) != 1 {
			t.Fatalf("held designations: %+v %v, want r3's", held, err)
		}
		if _, err := w.db.EraseResident(as(operator), r3, "the resident asked"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.EraseResident(as(operator2), r3, "approved: the request is in order"); err != nil {
			t.Fatal(err)
		}
		if held, _, err := w.db.HeldDesignations(as(cmdCity1), 1); err != nil || len(held) != 0 {
			t.Fatalf("held designations after the erasure: %+v %v, want none", held, err)
		}
		mustVerified(t, w.db)
	})
}
