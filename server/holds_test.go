package server_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/scenario"
	"github.com/healthcode/healthcode/internal/testdb"
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
		official := func(id, post string) healthcode.Actor {
			return healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: healthcode.RoleCommand, Jurisdiction: post}
		}
		lab := healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"case_status"}, Jurisdiction: "410000"}
		if err := f.db.CreateSource(system, lab, "hck_labkeylabkeylabkeylabkey"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.RecordFacts(healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"}), []healthcode.Fact{{ID: "case-1", Kind: "case_status",
			Subject: "r_res2", ObservedAt: time.Now().UTC().Add(-24 * time.Hour), Evidence: "report", Payload: []byte(`{"status":"confirmed","case_id":"C-1"}`)}}); err != nil {
			t.Fatal(err)
		}
		held := scenario.Reraise{Resident: "r_res1", Community: "410105001001", Street: "410105001", Case: "C-1",
			Tracer: healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_tracer", Role: healthcode.RoleTracer, Jurisdiction: "410105"},
			County: official("o_cmdc1", "410105"), Colleague: official("o_cmdc2", "410105"), Granter: official("o_cmd1", "410000"),
		}.Run(t, f.db)
		key := held.Designation
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
		if h := holds[0].(map[string]any); h["resident"] != "r_res1" || h["designation"] != key || h["appeal"] != held.Appeal || h["hold"] != "held" {
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
