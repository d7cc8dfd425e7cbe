package web_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// logIn logs a tab in through the login form and waits for the page it
// lands on to show sel.
func (tb *tab) logIn(t *testing.T, f *fixture, login, sel string) {
	t.Helper()
	tb.do(t, chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.SetValue(chromedp.CSS("#login"), login),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(sel)))
}

// logInFromStart is a first-time visitor's way in (issue 17, "Done
// when"): the start page, its login link and the form, with no id from
// anywhere; it waits for the role's own page to show sel.
func (tb *tab) logInFromStart(t *testing.T, f *fixture, login, sel string) {
	t.Helper()
	tb.do(t, chromedp.Navigate(f.ts.URL+"/"),
		chromedp.Click(chromedp.CSS(`main a[href="/login"]`)), chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SetValue(chromedp.CSS("#login"), login),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(sel)))
}

// TestBrowserDesk is the officials' side in a real browser: a command
// officer approves a pending fact and the resident's code turns red; a
// community worker files an appeal for the resident, another command
// officer grants it and the code is green again; the statistics page
// draws its charts; the record, ruleset and alerts pages render. The
// resident, the worker and the command officers start from the start
// page; the officer records a case for a resident found by name.
func TestBrowserDesk(t *testing.T) {
	browser := mustBrowser(t)
	f := mustFixture(t, testdb.SQLite(t), false)
	for _, o := range []healthcode.Official{
		{ID: "o_cmd3", Name: "郑十一", Role: healthcode.RoleCommand, Jurisdiction: "410105"},
		{ID: "o_w", Name: "吴十", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"},
		{ID: "o_aud", Name: "冯十二", Role: healthcode.RoleAuditor, Jurisdiction: "410000"},
	} {
		if err := f.db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
			t.Fatal(err)
		}
	}
	mustBusyCommunity(t, f)
	// 孙八 enters a confirmed case for 张三丰 by hand: it waits for a
	// second command officer.
	key := f.mustPendingCase(t)

	// A first-time resident lands on their own code.
	resident := newTab(t, browser)
	resident.logInFromStart(t, f, "login-r_res1", "#code-h")
	if got := resident.text(t, "#code-h"); got != "绿码" {
		t.Fatalf("before approval: %q, want 绿码", got)
	}
	code := func(want string) {
		t.Helper()
		resident.do(t, chromedp.Navigate(f.ts.URL+"/residents/r_res1"), chromedp.WaitVisible(chromedp.CSS("#code-h")))
		if got := resident.text(t, "#code-h"); got != want {
			t.Errorf("resident's code %q, want %q", got, want)
		}
	}

	t.Run("command officer approves a pending fact", func(t *testing.T) {
		tb := newTab(t, browser)
		// A first-time command officer lands on the desk, the pending
		// fact on it.
		tb.logInFromStart(t, f, "login-o_cmd2", `li[data-key="`+key+`"]`)
		tb.screenshot(t, "command")
		// The pending fact in words, not JSON (issue 17 item 4).
		if got := tb.text(t, `li[data-key="`+key+`"] dl.fact-words`); !strings.Contains(got, "病例状态") || !strings.Contains(got, "确诊") ||
			!strings.Contains(got, "ZY-2022-0614-002") || !strings.Contains(got, "流调报告 2022-0614-002") || strings.Contains(got, "{") {
			t.Errorf("pending fact in words: %q", got)
		}
		tb.do(t, chromedp.Click(chromedp.CSS(`li[data-key="`+key+`"] button.approve`)), chromedp.WaitVisible(chromedp.CSS("#confirm-yes")))
		tb.screenshot(t, "fact-confirm")
		tb.do(t, chromedp.Click(chromedp.CSS("#confirm-yes")), chromedp.WaitVisible(chromedp.CSS("#done")))
		if got := tb.text(t, ".done-line"); got != "居民 张三丰 的健康码已由绿码转为红码。" {
			t.Errorf("after approval: %q", got)
		}
		tb.screenshot(t, "fact-approved")
		code("红码")
	})

	t.Run("community worker appeals, command officer grants", func(t *testing.T) {
		w := newTab(t, browser)
		// A first-time worker lands on their roster and finds the
		// resident by name, with no id from anywhere.
		w.logInFromStart(t, f, "login-o_w", "#people-q")
		w.screenshot(t, "people-roster")
		// The results are those of the search section: the worker's
		// roster below lists people already before the search, and a
		// click on one of its rows would race the search's navigation.
		found := `section[aria-labelledby="search-h"] tr.person a`
		w.do(t, chromedp.SetValue(chromedp.CSS("#people-q"), "张三丰"),
			chromedp.Click(chromedp.CSS(`form[action="/people"] button`)), chromedp.WaitVisible(chromedp.CSS(found)))
		w.screenshot(t, "people-search")
		w.do(t, chromedp.Click(chromedp.CSS(found)),
			chromedp.WaitVisible(chromedp.CSS("#appeal-form")),
			chromedp.Click(chromedp.CSS(`input[name=fact][value="`+key+`"]`)),
			chromedp.SetValue(chromedp.CSS("#statement"), "居民当日在外地出差，病例信息登记错误。"),
			chromedp.SetValue(chromedp.CSS("#consent_ref"), "同意书 2022-0614-07"))
		w.screenshot(t, "resident-worker")
		w.do(t, chromedp.Click(chromedp.CSS("#appeal-submit")), chromedp.WaitVisible(chromedp.CSS("#appeal-status")))
		if got := w.text(t, "#appeal-status"); got != "待指挥部决定" {
			t.Errorf("appeal status after filing %q", got)
		}

		c := newTab(t, browser)
		c.logInFromStart(t, f, "login-o_cmd3", ".appeal-queue a")
		c.do(t, chromedp.Click(chromedp.CSS(".appeal-queue a")), chromedp.WaitVisible(chromedp.CSS("button.grant")))
		c.screenshot(t, "appeal")
		c.do(t, chromedp.Click(chromedp.CSS("button.grant")), chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
			chromedp.Click(chromedp.CSS("#confirm-yes")), chromedp.WaitVisible(chromedp.CSS("#done")))
		if got := c.text(t, ".done-line"); got != "居民 张三丰 的健康码已由红码转为绿码。" {
			t.Errorf("after granting: %q", got)
		}
		c.screenshot(t, "appeal-granted")
		c.do(t, chromedp.Click(chromedp.CSS(`#done a[href^="/appeals/"]`)), chromedp.WaitVisible(chromedp.CSS("#appeal-status")))
		if got := c.text(t, "#appeal-status"); got != "申诉成立" {
			t.Errorf("appeal status after granting %q", got)
		}
		code("绿码")
		// The worker follows the appeal: granted, every step shown.
		w.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#appeal-status")))
		if got := w.text(t, "#appeal-status"); got != "申诉成立" {
			t.Errorf("worker sees %q", got)
		}
		if n := eval[int](t, w, `document.querySelectorAll('ol.steps > li').length`); n < 2 {
			t.Errorf("appeal shows %d steps", n)
		}
		resident.do(t, chromedp.WaitVisible(chromedp.CSS("#appeals")))
		resident.screenshot(t, "resident-appeal")
		// The resident's inbox says the appeal was decided.
		resident.do(t, chromedp.Navigate(f.ts.URL+"/inbox"), chromedp.WaitVisible(chromedp.CSS(`.inbox-item[data-kind="appeal_decided"]`)))
		resident.screenshot(t, "inbox")
	})

	t.Run("command officer records a case for a resident found by name", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.logInFromStart(t, f, "login-o_cmd3", "#glance-h")
		at := time.Now().Add(-2 * time.Hour).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04")
		tb.do(t, chromedp.Click(chromedp.CSS(`main a[href="/record"]`)), chromedp.WaitVisible(chromedp.CSS("#record-q")),
			chromedp.SetValue(chromedp.CSS("#record-q"), "李四"),
			chromedp.Click(chromedp.CSS(`form[action="/record"][method="get"] button`)),
			chromedp.WaitVisible(chromedp.CSS("a.choose-resident")), chromedp.Click(chromedp.CSS("a.choose-resident")),
			chromedp.WaitVisible(chromedp.CSS("#record-chosen")),
			chromedp.SetValue(chromedp.CSS("#case_status-status"), "suspected"),
			chromedp.SetValue(chromedp.CSS("#case_status-at"), at),
			chromedp.SetValue(chromedp.CSS("#case_status-case"), "ZY-2022-0615-003"),
			chromedp.SetValue(chromedp.CSS("#case_status-evidence"), "流调报告 2022-0615-003"),
			chromedp.Click(chromedp.CSS("#form-case_status button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#done")))
		// A suspected case does not raise 李四's red code: in force at once,
		// and the result page says so, naming her.
		if got := tb.text(t, "#done"); !strings.HasPrefix(got, "事实已记录") || !strings.Contains(got, "已记录，已生效") || !strings.Contains(got, "李四") {
			t.Errorf("the result page says %q", got)
		}
	})

	t.Run("statistics draw SVG charts", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.do(t, chromedp.Navigate(f.ts.URL+"/stats"), chromedp.WaitVisible(chromedp.CSS("#codes-chart")))
		if n := eval[int](t, tb, `document.querySelectorAll('#codes-chart rect').length`); n < 1 {
			t.Errorf("codes chart has %d bars", n)
		}
		if got := eval[string](t, tb, `document.querySelector('#codes-chart').textContent`); !strings.Contains(got, "<10") {
			t.Errorf("codes chart does not mark suppressed counts: %q", got)
		}
		tb.screenshot(t, "stats")
	})

	t.Run("ruleset draft shows errors at their lines", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.logIn(t, f, "login-o_cmd3", "#glance-h")
		tb.do(t, chromedp.Navigate(f.ts.URL+"/rulesets/new"), chromedp.WaitVisible(chromedp.CSS("#rs-source")))
		eval[bool](t, tb, `(() => { const s = document.getElementById('rs-source'); s.value = s.value.replace(/colour: red/, 'colour: crimson'); return true })()`)
		tb.do(t, chromedp.Click(chromedp.CSS("#rs-check")), chromedp.WaitVisible(chromedp.CSS("#check-result")))
		if n := eval[int](t, tb, `document.querySelectorAll('.source-lines .line-error').length`); n < 1 {
			t.Errorf("no error shown at a line: %s", tb.text(t, "#check"))
		}
		tb.screenshot(t, "ruleset-draft")
		tb.do(t, chromedp.Navigate(f.ts.URL+"/record"), chromedp.WaitVisible(chromedp.CSS("#form-case_status")))
		tb.screenshot(t, "record")
		a := newTab(t, browser)
		a.logIn(t, f, "login-o_aud", "#alert-kind") // an auditor's home is the alerts
	})
}

// mustBusyCommunity adds 30 residents to the community and has a
// disease-control source report 12 of them as confirmed cases, so the
// public statistics have counts above the suppression threshold.
func mustBusyCommunity(t *testing.T, f *fixture) {
	t.Helper()
	var rs []healthcode.Resident
	for i := range 30 {
		h := sha256.Sum256([]byte(fmt.Sprint("busy", i)))
		rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_busy%02d", i), IDHash: h[:], Name: "居民", Phone: "13900000000", Jurisdiction: "410105001001"})
	}
	if err := f.db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	src := healthcode.Source{ID: "s_cdc", Name: "省疾控中心", Kinds: []string{"case_status"}, Jurisdiction: "410000"}
	if err := f.db.CreateSource(system, src, "cdc-key-0123456789abcdef0123456789"); err != nil {
		t.Fatal(err)
	}
	as := healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorSource, ID: src.ID, Name: src.Name, Jurisdiction: src.Jurisdiction})
	var facts []healthcode.Fact
	for i := range 12 {
		payload, _ := json.Marshal(map[string]any{"status": "confirmed", "case_id": fmt.Sprintf("ZY-2022-0612-%03d", i)})
		facts = append(facts, healthcode.Fact{ID: fmt.Sprint("cdc-", i), Kind: "case_status", Subject: rs[i].ID,
			ObservedAt: time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second), Evidence: "网络直报", Payload: payload})
	}
	if _, err := f.db.RecordFacts(as, facts); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.RunJobs(system, nil); err != nil {
		t.Fatal(err)
	}
}
