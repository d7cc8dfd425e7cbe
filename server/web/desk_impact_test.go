package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestDeskDesignationImpact: on the command desk, a pending designation
// shows its approver what approving it would do (the dry run of
// store.DesignationImpact, by county and colour), before the decision
// forms; its recorder, who may not approve it, sees none.
func TestDeskDesignationImpact(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		itin := healthcode.Source{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"}
		if err := f.db.CreateSource(system, itin, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		arrived := now.Add(-30 * time.Minute)
		visit := healthcode.Fact{ID: "v-1", Kind: "area_visit", Subject: "r_res1", ObservedAt: arrived, Evidence: "itinerary",
			Payload: fmt.Appendf(nil, `{"area":"410105001001","arrived_at":%q,"departed_at":%q}`, arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339))}
		if _, err := f.db.RecordFacts(healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
			t.Fatal(err)
		}
		from := now.Add(-time.Hour)
		cmd1 := healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd1", Name: "孙八", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
		ra := healthcode.Fact{ID: "ra-1", Kind: "risk_area", Subject: "410105001", ObservedAt: from, Evidence: "指挥部通告",
			Payload: fmt.Appendf(nil, `{"level":"high","from":%q,"until":%q,"case_ids":["ZY-2022-0613-001"]}`, from.Format(time.RFC3339), from.Add(72*time.Hour).Format(time.RFC3339))}
		res, err := f.db.RecordFacts(cmd1, []healthcode.Fact{ra})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("designation: %+v, %v; want pending", res, err)
		}
		key := res.Facts[0].Key

		approver := f.client(t)
		approver.login("login-o_cmd2")
		_, body := approver.do("GET", "/command", nil)
		section, _, _ := strings.Cut(body[max(strings.Index(body, `id="impact-`+key+`"`), 0):], "</section>")
		if !strings.Contains(section, `id="impact-`+key+`-summary"`) || !strings.Contains(section, "金水区") || !strings.Contains(section, "绿码") || !strings.Contains(section, "红码") {
			t.Errorf("the approver's desk shows no dry run of the designation %s (green to red in 金水区):\n%s", key, section)
		}
		recorder := f.client(t)
		recorder.login("login-o_cmd1")
		if _, body := recorder.do("GET", "/command", nil); strings.Contains(body, `id="impact-`) {
			t.Errorf("the recorder's desk shows a dry run of a designation they may not approve")
		}
	})
}
