package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// pcrOnly is a next version of the default ruleset that keeps only its
// positive-PCR rule: approving it would turn the fixture's confirmed case
// (李四, red) green.
const pcrOnly = `id: henan-health-code
version: %s
scope: "410000"
legal_basis:
  number: 联防联控机制综发〔2022〕71号
  title: 新型冠状病毒肺炎防控方案(第九版)
effective_at: 2022-06-28T00:00:00+08:00
rules:
  - id: positive-pcr
    colour: red
    reason:
      zh-CN: 14天内核酸检测结果阳性
      en: Positive PCR test within the last 14 days
    condition: |
      facts.test_results.exists(t, t.method == 'pcr' && t.result == 'positive' &&
        now - t.sampled_at < duration('336h'))
examples:
  - name: no facts is green
    now: 2022-07-01T12:00:00+08:00
    want: {colour: green}
  - name: a positive PCR test is red
    now: 2022-07-01T12:00:00+08:00
    facts:
      - {id: t1, kind: test_result, payload: {method: pcr, result: positive, sampled_at: 2022-06-30T09:00:00+08:00, lab: 郑州金域医学检验所}}
    want: {colour: red, rule: positive-pcr, facts: [t1]}
`

// TestRulesetApprovalPages: the second officer sees the dry run of a draft
// above the approve button, is asked to confirm in words, and ends on a
// page saying which version is in force and what changed; a refusal is
// confirmed the same way. The drafter sees no decision and no dry run.
func TestRulesetApprovalPages(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		cmd1 := f.client(t)
		cmd1.login("login-o_cmd1")
		cmd2 := f.client(t)
		cmd2.login("login-o_cmd2")
		post := func(c *client, path string, form url.Values, want ...string) string {
			t.Helper()
			form.Set("csrf", c.csrf("/"))
			resp, body := c.do("POST", path, form)
			if resp.StatusCode != 200 {
				t.Errorf("POST %s: %d\n%.600s", path, resp.StatusCode, body)
			}
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("POST %s %v: no %q in\n%s", path, form, w, body)
				}
			}
			return body
		}
		status := func(v int) string {
			t.Helper()
			info, err := f.db.Ruleset(system, "henan-health-code", v)
			if err != nil {
				t.Fatal(err)
			}
			return info.Status
		}
		for _, v := range []string{"2", "3"} {
			post(cmd1, "/rulesets/new", url.Values{"name": {"henan.yaml"}, "source": {strings.Replace(pcrOnly, "%s", v, 1)}, "action": {"submit"}}, `href="/rulesets/henan-health-code/`+v+`"`)
		}
		page := "/rulesets/henan-health-code/2"
		if _, body := cmd1.do("GET", page, nil); strings.Contains(body, `id="impact"`) || strings.Contains(body, `id="ruleset-approve"`) {
			t.Errorf("the drafter is shown the decision or the dry run:\n%s", body)
		}
		_, body := cmd2.do("GET", page, nil)
		impact, approve := strings.Index(body, `id="impact"`), strings.Index(body, `id="ruleset-approve"`)
		if impact < 0 || approve < impact {
			t.Fatalf("the approver's page has no dry run above the approve button:\n%s", body)
		}
		for _, w := range []string{"在适用地区的 2 名居民中，有 1 名的健康码会改变", "<td>金水区</td>", `<span class="tl-red">红码</span> → <span class="tl-green">绿码</span></td><td>1</td>`} {
			if !strings.Contains(body[impact:approve], w) {
				t.Errorf("the dry run does not say %q:\n%s", w, body[impact:approve])
			}
		}

		// Approve: first a confirmation, which decides nothing.
		post(cmd2, page+"/decide", url.Values{"decision": {"approve"}}, "请确认", "您将批准发布规则 henan-health-code 第 2 版（起草人 孙八）", "取代现行的 henan-health-code 第 1 版", `id="confirm-yes"`)
		if s := status(2); s != healthcode.RulesetDraft {
			t.Fatalf("asking for confirmation decided the draft: %s", s)
		}
		post(cmd2, page+"/decide", url.Values{"decision": {"approve"}, "confirm": {"yes"}}, "规则已发布", "henan-health-code 第 2 版现已施行", "金水区：1 名居民由红码转为绿码", "健康码正在后台按新规则重新计算")
		if s := status(2); s != healthcode.RulesetPublished {
			t.Errorf("confirmed approval: %s", s)
		}

		// Refuse: confirmed too, with the reason in words.
		page = "/rulesets/henan-health-code/3"
		post(cmd2, page+"/decide", url.Values{"decision": {"refuse"}, "reason": {"删去了确诊规则"}}, "您将驳回规则 henan-health-code 第 3 版，理由：删去了确诊规则")
		if s := status(3); s != healthcode.RulesetDraft {
			t.Fatalf("asking for confirmation refused the draft: %s", s)
		}
		post(cmd2, page+"/decide", url.Values{"decision": {"refuse"}, "reason": {"删去了确诊规则"}, "confirm": {"yes"}}, "规则草案已驳回", "henan-health-code 第 3 版已驳回，理由：删去了确诊规则")
		if s := status(3); s != healthcode.RulesetRefused {
			t.Errorf("confirmed refusal: %s", s)
		}
	})
}

// TestRecordResultPage: after recording a fact the page says what it did
// to the resident's code: held for approval (and still green), or changed
// (李四's recovery turns their red code green), and the visit is one
// logged read of the resident.
func TestRecordResultPage(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		cmd := f.client(t)
		cmd.login("login-o_cmd1")
		at := time.Now().In(time.FixedZone("", 8*3600)).Add(-time.Minute).Format("2006-01-02T15:04")
		record := func(form url.Values, want ...string) {
			t.Helper()
			form.Set("csrf", cmd.csrf("/record"))
			resp, body := cmd.do("POST", "/record", form)
			if resp.StatusCode != 200 || !strings.Contains(body, `id="done"`) {
				t.Fatalf("record %v: %d\n%.1500s", form, resp.StatusCode, body)
			}
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("record %v: no %q in\n%s", form, w, body[strings.Index(body, `id="done"`):])
				}
			}
		}
		record(url.Values{"kind": {"case_status"}, "subject": {"r_res1"}, "status": {"confirmed"}, "case_id": {"ZY-9"}, "observed_at": {at}},
			"事实已记录，等待批准", "这条事实须另一位指挥部人员批准后才生效：居民 张三丰 的健康码目前仍为绿码。", `href="/residents/r_res1"`)
		own := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_res1", Role: healthcode.RoleResident})
		if reads, _, err := f.db.AccessLog(own, "r_res1", 1); err != nil || len(reads) != 1 || reads[0].What != "file" {
			t.Errorf("张三丰's access log after one recording: %+v, %v; want one read of the file", reads, err)
		}
		record(url.Values{"kind": {"case_status"}, "subject": {"r_res2"}, "status": {"recovered"}, "case_id": {"ZY-2022-0613-001"}, "observed_at": {at}},
			"已记录，已生效。", "居民 李四 的健康码已由红码转为绿码。")
		code, err := f.db.Code(system, "r_res2")
		if err != nil || code.Colour != healthcode.Green {
			t.Errorf("李四's code after the recovery: %v, %v", code, err)
		}
	})
}

// TestResidentPagePaged: a resident whose data was read many times sees
// "who looked at my data" 20 at a time, with a link to the next page, and
// the next page shows the rest.
func TestResidentPagePaged(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t), false)
	cmd := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd1", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	for i := 0; i < 25; i++ {
		if _, _, err := f.db.ReadResidentFile(cmd, "r_res1"); err != nil {
			t.Fatal(err)
		}
	}
	res := f.client(t)
	res.login("login-r_res1")
	reads := func(path string) (int, string) {
		t.Helper()
		_, body := res.do("GET", path, nil)
		i := strings.Index(body, `class="plain access-list"`)
		if i < 0 {
			t.Fatalf("%s: no access list\n%s", path, body)
		}
		section := body[i:]
		section = section[:strings.Index(section, "</section>")]
		return strings.Count(section[:strings.Index(section, "</ul>")], "<li>"), section
	}
	n, section := reads("/residents/r_res1")
	if n != 20 || !strings.Contains(section, `href="/residents/r_res1?history=1&amp;access=2"`) {
		t.Errorf("page 1 of the access log: %d reads, want 20 and a next link:\n%s", n, section)
	}
	if n, section = reads("/residents/r_res1?history=1&access=2"); n != 5 || strings.Contains(section, `rel="next"`) || !strings.Contains(section, `rel="prev"`) {
		t.Errorf("page 2 of the access log: %d reads, want 5 and no next link:\n%s", n, section)
	}
	if resp, _ := res.do("GET", "/residents/r_res1?access=0", nil); resp.StatusCode != 400 {
		t.Errorf("page 0: %d, want 400", resp.StatusCode)
	}
}
