package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
)

// TestDeskPages posts the officials' forms over HTTP on both databases:
// refusals and denials need reasons, the record form builds a fact the
// store holds for approval, the ruleset editor shows rules.Check's errors,
// and each page is refused to those the store refuses.
func TestDeskPages(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		for _, o := range []healthcode.Official{
			{ID: "o_w", Name: "吴十", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"},
			{ID: "o_cmd3", Name: "郑十一", Role: healthcode.RoleCommand, Jurisdiction: "410105"},
		} {
			if err := f.db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
				t.Fatal(err)
			}
		}
		anon := f.client(t)
		res := f.client(t)
		res.login("login-r_res1")
		cmd1 := f.client(t)
		cmd1.login("login-o_cmd1")
		cmd2 := f.client(t)
		cmd2.login("login-o_cmd2")
		cmd3 := f.client(t)
		cmd3.login("login-o_cmd3")
		worker := f.client(t)
		worker.login("login-o_w")

		post := func(c *client, path string, form url.Values, wantStatus int, want string) string {
			t.Helper()
			form.Set("csrf", c.csrf("/"))
			resp, body := c.do("POST", path, form)
			if resp.StatusCode != wantStatus || !strings.Contains(body, want) {
				t.Errorf("POST %s %v: %d, want %d with %q\n%.600s", path, form, resp.StatusCode, wantStatus, want, body)
			}
			return resp.Header.Get("Location")
		}
		get := func(c *client, path string, wantStatus int, want string) {
			t.Helper()
			resp, body := c.do("GET", path, nil)
			if resp.StatusCode != wantStatus || !strings.Contains(body, want) {
				t.Errorf("GET %s: %d, want %d with %q\n%.600s", path, resp.StatusCode, wantStatus, want, body)
			}
		}

		// Record a confirmed case for 张三丰 by hand: held for approval.
		post(cmd1, "/record", url.Values{"kind": {"case_status"}, "subject": {"r_res1"}, "status": {"confirmed"},
			"case_id": {"ZY-1"}, "observed_at": {time.Now().In(time.FixedZone("", 8*3600)).Add(-time.Hour).Format("2006-01-02T15:04")}, "evidence": {"报告 1"}},
			200, "等待另一位指挥部人员批准")
		pend, _, err := f.db.PendingFacts(healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd2", Role: healthcode.RoleCommand, Jurisdiction: "410000"}), 1)
		if err != nil || len(pend) != 1 {
			t.Fatalf("pending facts %v, %v", pend, err)
		}
		key := pend[0].Key
		if got := string(pend[0].Payload); !strings.Contains(got, `"status":"confirmed"`) {
			t.Errorf("payload %s", got)
		}
		get(cmd2, "/command", 200, `data-key="`+key+`"`)
		get(cmd2, "/command", 200, "录入人 孙八")
		get(cmd1, "/command", 200, "没有等待您批准的事实") // not their own
		post(cmd2, "/facts/"+key+"/decide", url.Values{"decision": {"refuse"}}, 400, "理由：请写明理由")
		post(cmd2, "/facts/"+key+"/decide", url.Values{"decision": {"approve"}}, 200, "请确认")
		post(cmd2, "/facts/"+key+"/decide", url.Values{"decision": {"approve"}, "confirm": {"yes"}}, 200, "居民 张三丰 的健康码已由绿码转为红码")
		get(res, "/residents/r_res1", 200, "红码")

		// The worker appeals for 张三丰 with a consent reference.
		form := url.Values{"fact": {key}, "statement": {"登记错误"}, "consent_ref": {"同意书 7"}}
		loc := post(worker, "/residents/r_res1/appeals", form, 303, "")
		if !strings.HasPrefix(loc, "/appeals/") {
			t.Fatalf("appeal filed to %q", loc)
		}
		get(worker, loc, 200, "待指挥部决定")
		get(res, "/residents/r_res1", 200, `href="`+loc+`"`)
		post(cmd2, loc+"/decide", url.Values{"decision": {"deny"}}, 400, "理由：请写明理由")
		get(cmd2, loc, 200, `id="involved"`)
		post(cmd2, loc+"/decide", url.Values{"decision": {"grant"}, "confirm": {"yes"}}, 403, "") // 周九 approved the fact
		post(cmd1, loc+"/decide", url.Values{"decision": {"grant"}, "confirm": {"yes"}}, 403, "") // 孙八 recorded it
		get(cmd3, "/command", 200, `href="`+loc+`"`)
		get(cmd3, loc, 200, `class="grant"`)
		post(cmd3, loc+"/decide", url.Values{"decision": {"deny"}, "reason": {"核查属实，维持原状"}}, 200, "请确认")
		post(cmd3, loc+"/decide", url.Values{"decision": {"deny"}, "reason": {"核查属实，维持原状"}, "confirm": {"yes"}}, 200, "居民 张三丰 的健康码仍为红码")
		get(res, loc, 200, "核查属实，维持原状")
		post(worker, "/residents/r_res1/appeals", url.Values{"statement": {"我的理由"}, "consent_ref": {"同意书 8"}}, 400, "有异议的事实：请至少勾选一条有异议的事实")
		post(worker, "/residents/r_res1/appeals", url.Values{"statement": {"我的理由"}, "consent_ref": {"同意书 8"}}, 400, `value="同意书 8"`)
		post(worker, "/residents/r_res1/appeals", url.Values{"statement": {"我的理由"}, "consent_ref": {"同意书 8"}}, 400, `required>我的理由</textarea>`)

		// The resident appeals with an attachment, which downloads with
		// its bytes, never rendered inline.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if err := mw.WriteField("csrf", res.csrf("/residents/r_res1")); err != nil {
			t.Fatal(err)
		}
		if err := mw.WriteField("fact", key); err != nil {
			t.Fatal(err)
		}
		if err := mw.WriteField("statement", "我当天不在郑州"); err != nil {
			t.Fatal(err)
		}
		fw, _ := mw.CreateFormFile("attachment", "车票.txt")
		if _, err := fw.Write([]byte("G1234 2022-06-13")); err != nil {
			t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", f.ts.URL+"/residents/r_res1/appeals", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := res.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		own := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(own, "/appeals/") {
			t.Fatalf("resident's appeal with attachment: %d %q", resp.StatusCode, own)
		}
		get(res, own, 200, "车票.txt")
		resp, body := res.do("GET", own+"/attachments/0", nil)
		if resp.StatusCode != 200 || body != "G1234 2022-06-13" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("attachment: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		get(anon, own+"/attachments/0", 303, "")

		// Ruleset editor: errors at their lines; the published version
		// cannot be drafted again.
		post(cmd1, "/rulesets/new", url.Values{"name": {"x.yaml"}, "source": {"id: x\nversion: one\n"}, "action": {"check"}}, 200, "x.yaml:2")
		post(cmd1, "/rulesets/new", url.Values{"name": {"default.yaml"}, "source": {string(mustDefault())}, "action": {"check"}}, 200, "所有示例的结果都符合预期")
		post(cmd1, "/rulesets/new", url.Values{"name": {"default.yaml"}, "source": {string(mustDefault())}, "action": {"submit"}}, 200, "version")

		// Who may see what.
		get(anon, "/stats", 200, `<svg id="codes-chart"`)
		get(anon, "/command", 303, "")
		get(res, "/command", 403, "")
		get(cmd1, "/alerts", 403, "")
		get(worker, "/record", 403, "")
		get(cmd1, "/record", 200, `id="form-risk_area"`)
		post(cmd1, "/record", url.Values{"kind": {"risk_area"}, "subject": {"410105"}, "level": {"high"}, "from": {"2022-06-14T08:00"},
			"until": {"2022-06-13T08:00"}, "case_ids": {"ZY-1, ZY-2"}}, 400, `value="ZY-1, ZY-2"`)
		post(res, "/record", url.Values{"kind": {"case_status"}, "subject": {"r_res1"}, "status": {"confirmed"}, "case_id": {"x"}, "observed_at": {"2022-06-14T08:00"}}, 403, "")
		resp, _ = cmd1.do("POST", "/facts/"+key+"/decide", url.Values{"decision": {"approve"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("decision without CSRF token: %d", resp.StatusCode)
		}
	})
}

func mustDefault() []byte { return rules.DefaultSource() }

// TestDeskChangesByJurisdiction: the command desk counts the code changes
// of the officer's own jurisdiction, not the province's, exactly; the
// public statistics stay suppressed.
func TestDeskChangesByJurisdiction(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t), false)
	if err := f.db.CreateJurisdictions(system, []healthcode.Jurisdiction{
		{Code: "410200", Name: "开封市", Level: healthcode.City, Parent: "410000"},
		{Code: "410202", Name: "龙亭区", Level: healthcode.County, Parent: "410200"},
		{Code: "410202001", Name: "北书店街道", Level: healthcode.Street, Parent: "410202"},
		{Code: "410202001001", Name: "北书店社区", Level: healthcode.Community, Parent: "410202001"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateOfficial(system, healthcode.Official{ID: "o_zz", Name: "郑州指挥", Role: healthcode.RoleCommand, Jurisdiction: "410100"}, "login-o_zz", password); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateSource(system, healthcode.Source{ID: "s_lab", Name: "lab", Kinds: []string{"test_result"}, Jurisdiction: "410000"}, "hck_labkeylabkeylabkeylabkey"); err != nil {
		t.Fatal(err)
	}
	var rs []healthcode.Resident
	var fs []healthcode.Fact
	sampled := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i := 0; i < 10; i++ {
		h := sha256.Sum256([]byte(fmt.Sprint("kf", i)))
		rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_kf%02d", i), IDHash: h[:], Name: "开封居民", Jurisdiction: "410202001001"})
		payload, _ := json.Marshal(map[string]any{"method": "pcr", "result": "positive", "sampled_at": sampled.Format(time.RFC3339), "lab": "lab"})
		fs = append(fs, healthcode.Fact{ID: fmt.Sprint("pcr-", i), Kind: "test_result", Subject: rs[i].ID, ObservedAt: sampled, Payload: payload})
	}
	if err := f.db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	lab := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab", Jurisdiction: "410000"})
	if _, err := f.db.RecordFacts(lab, fs); err != nil {
		t.Fatal(err)
	}
	// Kaifeng's ten and the fixture's red code in Zhengzhou.
	eleven := "记录或批准了一项事实 11"
	province := f.client(t)
	province.login("login-o_cmd1")
	if _, body := province.do("GET", "/command", nil); !strings.Contains(body, eleven) || !strings.Contains(body, "本辖区近期赋码变更") {
		t.Errorf("the province's desk does not count every change:\n%s", body[strings.Index(body, "glance-h"):])
	}
	// Zhengzhou's desk: its one red code and one change, exactly (the
	// officer may read those residents), not "<10".
	city := f.client(t)
	city.login("login-o_zz")
	if _, body := city.do("GET", "/command", nil); strings.Contains(body, eleven) || !strings.Contains(body, "记录或批准了一项事实 1<") ||
		!strings.Contains(body, "<strong>红码</strong> 1<") || strings.Contains(body[strings.Index(body, "glance-h"):strings.Index(body, `id="desk-exact"`)], "&lt;10") {
		t.Errorf("Zhengzhou's desk counts Kaifeng's changes, or not its own exactly:\n%s", body[strings.Index(body, "glance-h"):])
	}
	// The public statistics keep suppressing them.
	if _, body := f.client(t).do("GET", "/stats", nil); !strings.Contains(body, "&lt;10") {
		t.Errorf("the public statistics show counts below 10")
	}
}
