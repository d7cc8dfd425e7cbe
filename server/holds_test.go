package server_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestDesignationHoldAPI: a designation held for a resident restored by a
// granted appeal is listed to the parent (city) command at GET
// /v1/facts/holds, not to the county office that recorded it; the county
// cannot release it (403); the city releases it (POST
// .../holds/{resident}/release) and the resident's code follows at once.
// The responses are checked against api/openapi.yaml.
func TestDesignationHoldAPI(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		f.mustDefaultPublished(t,
			healthcode.Official{ID: "o_tracer", Name: "流调", Role: healthcode.RoleTracer, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_cmdc1", Name: "区指挥一", Role: healthcode.RoleCommand, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_cmdc2", Name: "区指挥二", Role: healthcode.RoleCommand, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_city", Name: "市指挥", Role: healthcode.RoleCommand, Jurisdiction: "410100"})
		ctx := context.Background()
		as := func(id string, role healthcode.Role, post string) context.Context {
			return healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: role, Jurisdiction: post})
		}
		cmdc1, cmdc2 := as("o_cmdc1", healthcode.RoleCommand, "410105"), as("o_cmdc2", healthcode.RoleCommand, "410105")
		for _, s := range []healthcode.Source{
			{ID: "s_lab", Name: "实验室", Kinds: []string{"case_status"}, Jurisdiction: "410000"},
			{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"},
		} {
			if err := f.db.CreateSource(system, s, "hck_"+s.ID+"key"+s.ID+"key"+s.ID+"key"); err != nil {
				t.Fatal(err)
			}
		}
		record := func(ctx context.Context, fact healthcode.Fact) string {
			t.Helper()
			res, err := f.db.RecordFacts(ctx, []healthcode.Fact{fact})
			if err != nil {
				t.Fatal(err)
			}
			return res.Facts[0].Key
		}
		now := time.Now().UTC().Truncate(time.Second)
		record(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"}), healthcode.Fact{ID: "case-1", Kind: "case_status", Subject: "r_res2",
			ObservedAt: now.Add(-24 * time.Hour), Evidence: "report", Payload: []byte(`{"status":"confirmed","case_id":"C-1"}`)})
		arrived := now.Add(-30 * time.Minute)
		record(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), healthcode.Fact{ID: "v-1", Kind: "area_visit", Subject: "r_res1",
			ObservedAt: arrived, Evidence: "itinerary",
			Payload: fmt.Appendf(nil, `{"area":"410105001001","arrived_at":%q,"departed_at":%q}`, arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339))})
		exposed := now.Add(-24 * time.Hour)
		contact := record(as("o_tracer", healthcode.RoleTracer, "410105"), healthcode.Fact{ID: "c-1", Kind: "contact", Subject: "r_res1", ObservedAt: exposed, Evidence: "flow report 7",
			Payload: fmt.Appendf(nil, `{"level":"close","case_id":"C-1","exposed_at":%q}`, exposed.Format(time.RFC3339))})
		if _, err := f.db.DecideFact(cmdc1, contact, true, ""); err != nil {
			t.Fatal(err)
		}
		self := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_res1", Role: healthcode.RoleResident, Jurisdiction: "410105001001"})
		a, err := f.db.FileAppeal(self, store.AppealRequest{Resident: "r_res1", FactKeys: []string{contact}, Statement: "我不是密接"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.DecideAppeal(as("o_cmd1", healthcode.RoleCommand, "410000"), a.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		from := now.Add(-time.Hour)
		key := record(cmdc1, healthcode.Fact{ID: "ra-1", Kind: "risk_area", Subject: "410105001", ObservedAt: from, Evidence: "指挥部通告",
			Payload: fmt.Appendf(nil, `{"level":"high","from":%q,"until":%q,"case_ids":["C-1"]}`, from.Format(time.RFC3339), from.Add(72*time.Hour).Format(time.RFC3339))})
		if _, err := f.db.DecideFact(cmdc2, key, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.RunJobs(ctx, nil); err != nil {
			t.Fatal(err)
		}
		resident := f.login(t, "login-r_res1")
		if status, m := f.do(t, "GET", "/v1/residents/r_res1/code", resident, ""); status != 200 || m["colour"] != "green" {
			t.Fatalf("r_res1's code while the designation is held for them: %d %v", status, m)
		}

		county, city := f.login(t, "login-o_cmdc2"), f.login(t, "login-o_city")
		if status, m := f.do(t, "GET", "/v1/facts/holds", county, ""); status != 200 || len(m["holds"].([]any)) != 0 {
			t.Errorf("the county's holds: %d %v, want none", status, m)
		}
		status, m := f.do(t, "GET", "/v1/facts/holds", city, "")
		holds, _ := m["holds"].([]any)
		if status != 200 || len(holds) != 1 {
			t.Fatalf("the city's holds: %d %v, want one", status, m)
		}
		if h := holds[0].(map[string]any); h["resident"] != "r_res1" || h["designation"] != key || h["appeal"] != a.ID || h["hold"] != "held" {
			t.Errorf("the hold: %v", h)
		}
		release := "/v1/facts/" + url.PathEscape(key) + "/holds/r_res1/release"
		if status, m := f.do(t, "POST", release, county, ""); status != 403 {
			t.Errorf("the county releasing: %d %v, want 403", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/facts/"+url.PathEscape(key)+"/holds/r_res1/refuse", city, ""); status != 400 {
			t.Errorf("a refusal without a reason: %d %v, want 400", status, m)
		}
		if status, m := f.do(t, "POST", release, city, ""); status != 200 || m["hold"] != "released" || m["decided_by"] != "o_city" {
			t.Fatalf("the city releasing: %d %v", status, m)
		}
		if status, m := f.do(t, "GET", "/v1/residents/r_res1/code", resident, ""); status != 200 || m["colour"] != "red" {
			t.Errorf("r_res1's code once released: %d %v, want red", status, m)
		}
	})
}
