package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// formOf returns the fields a page's form (by its id) renders with a
// value: its hidden fields (csrf, form_key) and its textareas, as a
// browser would send them.
func formOf(t *testing.T, body, id string) url.Values {
	t.Helper()
	start := strings.Index(body, `id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no form %q in\n%.600s", id, body)
	}
	end := strings.Index(body[start:], "</form>")
	form := body[start : start+end]
	v := url.Values{}
	for _, m := range hiddenFieldRE.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range textareaRE.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if len(v["form_key"]) != 1 || len(v["form_key"][0]) != 32 {
		t.Fatalf("form %q has no form key: %v", id, v)
	}
	return v
}

var (
	hiddenFieldRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	textareaRE    = regexp.MustCompile(`(?s)<textarea[^>]* name="([a-z_]+)"[^>]*>(.*?)</textarea>`)
)

// TestIdempotentPageForms submits each page form that creates twice, as
// a double click or a reload of the result does, on both databases: the
// same rendered form (its form key) files one appeal, drafts one ruleset
// and records one fact, and the second submit gets the first's page; two
// submits at once likewise; the same form sent again with other values is
// a page that says so, and creates nothing.
func TestIdempotentPageForms(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		res := f.client(t)
		res.login("login-r_res2")
		cmd1 := f.client(t)
		cmd1.login("login-o_cmd1")
		asRes := healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_res2"})
		appeals := func() int {
			t.Helper()
			as, _, err := f.db.ResidentAppeals(asRes, "r_res2")
			if err != nil {
				t.Fatal(err)
			}
			return len(as)
		}
		post := func(c *client, path string, form url.Values) (*http.Response, string) {
			t.Helper()
			return c.do("POST", path, form)
		}

		// The resident's appeal form, submitted twice, then twice at once.
		_, page := res.do("GET", "/residents/r_res2", nil)
		form := formOf(t, page, "appeal-form")
		facts, _, err := f.db.ResidentAppeals(asRes, "r_res2")
		if err != nil || len(facts) != 0 {
			t.Fatalf("appeals before: %v, %v", facts, err)
		}
		m := regexp.MustCompile(`name="fact" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the appeal form offers no fact\n%.600s", page)
		}
		form.Set("fact", html.UnescapeString(m[1]))
		form.Set("statement", "我当天不在郑州")
		r1, _ := post(res, "/residents/r_res2/appeals", form)
		r2, body2 := post(res, "/residents/r_res2/appeals", form)
		loc := r1.Header.Get("Location")
		if r1.StatusCode != 303 || r2.StatusCode != 303 || !strings.HasPrefix(loc, "/appeals/") || r2.Header.Get("Location") != loc {
			t.Errorf("appeal form sent twice: %d %q, then %d %q\n%.600s", r1.StatusCode, loc, r2.StatusCode, r2.Header.Get("Location"), body2)
		}
		if n := appeals(); n != 1 {
			t.Errorf("appeal form sent twice filed %d appeals, want 1", n)
		}
		var wg sync.WaitGroup
		locs := make([]string, 2)
		for i := range locs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := post(res, "/residents/r_res2/appeals", form)
				locs[i] = resp.Header.Get("Location")
			}()
		}
		wg.Wait()
		if locs[0] != loc || locs[1] != loc {
			t.Errorf("appeal form sent twice at once: %q %q, want %q", locs[0], locs[1], loc)
		}
		changed := url.Values{}
		for k, v := range form {
			changed[k] = v
		}
		changed.Set("statement", "另一份陈述")
		resp, body := post(res, "/residents/r_res2/appeals", changed)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "这份表单已经提交过") {
			t.Errorf("appeal form sent again with other values: %d\n%.600s", resp.StatusCode, body)
		}
		if p := stringProblems(body); len(p) > 0 {
			t.Errorf("appeal form sent again with other values: the page shows %q", p)
		}
		if n := appeals(); n != 1 {
			t.Errorf("after every resubmit: %d appeals, want 1", n)
		}

		// The ruleset editor's draft, submitted twice.
		_, page = cmd1.do("GET", "/rulesets/new", nil)
		form = formOf(t, page, "ruleset-form")
		form.Set("name", "default.yaml")
		form.Set("action", "submit")
		drafts := func() int {
			t.Helper()
			rs, err := f.db.Rulesets(system)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range rs {
				if r.Status == healthcode.RulesetDraft {
					n++
				}
			}
			return n
		}
		for i := range 2 {
			resp, body := post(cmd1, "/rulesets/new", form)
			if resp.StatusCode != 200 || !strings.Contains(body, `id="draft-stored"`) || strings.Contains(body, "已有版本") {
				t.Errorf("ruleset form sent %d times: %d\n%.800s", i+1, resp.StatusCode, body)
			}
		}
		if n := drafts(); n != 1 {
			t.Errorf("ruleset form sent twice drafted %d rulesets, want 1", n)
		}

		// The record form, submitted twice: one fact, the second page
		// says it was recorded already; with other values, refused.
		_, page = cmd1.do("GET", "/record?resident=r_res1", nil)
		form = formOf(t, page, "form-case_status")
		for k, v := range map[string]string{"kind": "case_status", "subject": "r_res1", "status": "confirmed", "case_id": "ZY-9",
			"observed_at": time.Now().In(time.FixedZone("", 8*3600)).Add(-time.Hour).Format("2006-01-02T15:04"), "evidence": "报告 9"} {
			form.Set(k, v)
		}
		for i, want := range []string{"等待另一位指挥部人员批准", "相同的事实已经记录过"} {
			resp, body := post(cmd1, "/record", form)
			if resp.StatusCode != 200 || !strings.Contains(body, want) {
				t.Errorf("record form sent %d times: %d, want %q\n%.600s", i+1, resp.StatusCode, want, body)
			}
		}
		form.Set("evidence", "报告 10")
		resp, body = post(cmd1, "/record", form)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "这份表单已经提交过") {
			t.Errorf("record form sent again with other values: %d\n%.600s", resp.StatusCode, body)
		}
		if p := stringProblems(body); len(p) > 0 {
			t.Errorf("record form sent again with other values: the page shows %q", p)
		}
		cmd2 := healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd2", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
		if pend, _, err := f.db.PendingFacts(cmd2, 1); err != nil || len(pend) != 1 {
			t.Errorf("record form sent three times: %d pending facts (%v), want 1", len(pend), err)
		}
	})
}
