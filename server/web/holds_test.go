package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/scenario"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestDeskDesignationHold: the city command's desk lists a designation
// held for a resident restored by an appeal, in words; releasing it asks
// for confirmation, then ends on the page saying how the resident's code
// changed. The county command that recorded and approved the designation
// has no such line and cannot release it.
func TestDeskDesignationHold(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		f.mustOfficials(t,
			healthcode.Official{ID: "o_tracer", Name: "流调", Role: healthcode.RoleTracer, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_cc1", Name: "区指挥一", Role: healthcode.RoleCommand, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_cc2", Name: "区指挥二", Role: healthcode.RoleCommand, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_city", Name: "市指挥", Role: healthcode.RoleCommand, Jurisdiction: "410100"})
		official := func(id, post string) healthcode.Actor {
			return healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: healthcode.RoleCommand, Jurisdiction: post}
		}
		key := scenario.Reraise{Resident: "r_res1", Community: "410105001001", Street: "410105001", Case: "ZY-2022-0613-001",
			Tracer: healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_tracer", Role: healthcode.RoleTracer, Jurisdiction: "410105"},
			County: official("o_cc1", "410105"), Colleague: official("o_cc2", "410105"), Granter: official("o_cmd1", "410000"),
		}.Run(t, f.db).Designation

		city, county := f.client(t), f.client(t)
		city.login("login-o_city")
		county.login("login-o_cc2")
		get := func(c *client, path, want string, present bool) {
			t.Helper()
			resp, body := c.do("GET", path, nil)
			if resp.StatusCode != 200 || strings.Contains(body, want) != present {
				t.Errorf("GET %s: %d, want %q present %v\n%.600s", path, resp.StatusCode, want, present, body)
			}
		}
		line := "410105001 被划为高风险区，对 张三丰 暂缓生效"
		get(city, "/command", line, true)
		get(county, "/command", line, false)
		post := func(c *client, form url.Values, wantStatus int, want string) {
			t.Helper()
			form.Set("csrf", c.csrf("/"))
			resp, body := c.do("POST", "/facts/"+key+"/holds/r_res1/decide", form)
			if resp.StatusCode != wantStatus || !strings.Contains(body, want) {
				t.Errorf("POST %v: %d, want %d with %q\n%.600s", form, resp.StatusCode, wantStatus, want, body)
			}
		}
		post(county, url.Values{"decision": {"approve"}, "confirm": {"yes"}}, 403, "")
		post(city, url.Values{"decision": {"approve"}}, 200, "您将对申诉已获批准的 张三丰 放行 410105001 的风险区划定")
		post(city, url.Values{"decision": {"approve"}, "confirm": {"yes"}}, 200, "居民 张三丰 的健康码已由绿码转为红码")
		get(city, "/command", line, false)
	})
}
