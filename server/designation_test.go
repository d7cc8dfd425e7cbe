package server_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
)

// TestPendingDesignationImpact: GET on a pending designation gives a
// command officer who may approve it the dry run of its approval
// (`impact`, as documented in api/openapi.yaml); its recorder, who cannot
// approve it, reads the fact without it.
func TestPendingDesignationImpact(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		cmd1 := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd1", Role: healthcode.RoleCommand, Jurisdiction: "410000"}
		cmd2 := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd2", Role: healthcode.RoleCommand, Jurisdiction: "410000"}
		for _, a := range []healthcode.Actor{cmd1, cmd2} {
			if err := f.db.CreateOfficial(system, healthcode.Official{ID: a.ID, Name: "官员" + a.ID, Role: a.Role, Jurisdiction: a.Jurisdiction}, "login-"+a.ID, password); err != nil {
				t.Fatal(err)
			}
		}
		ctx := context.Background()
		if _, err := f.db.DraftRuleset(healthcode.NewContext(ctx, cmd1), "default.yaml", rules.DefaultSource()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.DecideRuleset(healthcode.NewContext(ctx, cmd2), "henan-health-code", 1, true, ""); err != nil {
			t.Fatal(err)
		}
		lab := healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"case_status"}, Jurisdiction: "410000"}
		if err := f.db.CreateSource(system, lab, "hck_labkeylabkeylabkeylabkey"); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		caseFact := healthcode.Fact{ID: "case-1", Kind: "case_status", Subject: "r_res2", ObservedAt: now.Add(-24 * time.Hour), Evidence: "report",
			Payload: []byte(`{"status":"confirmed","case_id":"C-1"}`)}
		if _, err := f.db.RecordFacts(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"}), []healthcode.Fact{caseFact}); err != nil {
			t.Fatal(err)
		}
		itin := healthcode.Source{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"}
		if err := f.db.CreateSource(system, itin, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
			t.Fatal(err)
		}
		arrived := now.Add(-30 * time.Minute)
		visit := healthcode.Fact{ID: "v-1", Kind: "area_visit", Subject: "r_res1", ObservedAt: arrived, Evidence: "itinerary",
			Payload: fmt.Appendf(nil, `{"area":"410105001001","arrived_at":%q,"departed_at":%q}`, arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339))}
		if _, err := f.db.RecordFacts(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
			t.Fatal(err)
		}
		from := now.Add(-time.Hour)
		ra := healthcode.Fact{ID: "ra-1", Kind: "risk_area", Subject: "410105001", ObservedAt: from, Evidence: "指挥部通告",
			Payload: fmt.Appendf(nil, `{"level":"high","from":%q,"until":%q,"case_ids":["C-1"]}`, from.Format(time.RFC3339), from.Add(72*time.Hour).Format(time.RFC3339))}
		res, err := f.db.RecordFacts(healthcode.NewContext(ctx, cmd1), []healthcode.Fact{ra})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("designation: %+v, %v; want pending", res, err)
		}
		path := "/v1/facts/" + url.PathEscape(res.Facts[0].Key)
		status, m := f.do(t, "GET", path, f.login(t, "login-o_cmd2"), "")
		imp, _ := m["impact"].(map[string]any)
		if status != 200 || imp == nil || imp["changed"] != 1.0 || fmt.Sprint(imp["colours"]) != "map[410105:map[green→red:1]]" {
			t.Errorf("the approver's GET: %d %v, want impact with one green→red in 410105", status, m)
		}
		if status, m := f.do(t, "GET", path, f.login(t, "login-o_cmd1"), ""); status != 200 || m["impact"] != nil {
			t.Errorf("the recorder's GET: %d %v, want the fact without impact", status, m)
		}
	})
}
