package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestRecordByName: a flow tracer records a contact for a resident found
// by name, never typing an internal id; each search result and the choice
// are logged reads the resident sees; a resident outside the tracer's
// jurisdiction cannot be chosen.
func TestRecordByName(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		if err := f.db.CreateJurisdictions(system, []healthcode.Jurisdiction{{Code: "410200", Name: "开封市", Level: healthcode.City, Parent: "410000"}}); err != nil {
			t.Fatal(err)
		}
		f.mustOfficials(t,
			healthcode.Official{ID: "o_tr", Name: "王五", Role: healthcode.RoleTracer, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_tr2", Name: "赵六", Role: healthcode.RoleTracer, Jurisdiction: "410200"},
		)
		reads := func() int {
			t.Helper()
			as := healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_res1"})
			log, more, err := f.db.AccessLog(as, "r_res1", 1)
			if err != nil || more {
				t.Fatal(err, more)
			}
			return len(log)
		}
		tr := f.client(t)
		tr.login("login-o_tr")
		_, body := tr.do("GET", "/record", nil)
		if !strings.Contains(body, `id="record-q"`) || strings.Contains(body, `id="contact-subject"`) {
			t.Fatalf("the record form asks for an id, not a name:\n%s", body)
		}
		before := reads()
		_, body = tr.do("GET", "/record?q="+url.QueryEscape("张"), nil)
		if !strings.Contains(body, `href="/record?resident=r_res1"`) || !strings.Contains(body, "张三丰") {
			t.Fatalf("the search lists no 张三丰:\n%s", body)
		}
		if got := reads(); got != before+1 {
			t.Errorf("a search result is %d logged reads, want 1", got-before)
		}
		_, body = tr.do("GET", "/record?resident=r_res1", nil)
		if !strings.Contains(body, "已选择居民 张三丰") || !strings.Contains(body, `name="subject" value="r_res1"`) {
			t.Fatalf("the chosen resident is not on the form:\n%s", body)
		}
		if got := reads(); got != before+2 {
			t.Errorf("choosing a resident is %d logged reads, want 1", got-before-1)
		}
		// The contact form as the page filled it.
		form := url.Values{"csrf": {tr.csrf("/record?resident=r_res1")}}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="(subject[a-z_]*)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
			form.Set(m[1], m[2])
		}
		form.Set("kind", "contact")
		form.Set("level", "secondary")
		form.Set("case_id", "ZY-2022-0613-001")
		form.Set("exposed_at", time.Now().Add(-time.Hour).In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04"))
		resp, body := tr.do("POST", "/record", form)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="done"`) || !strings.Contains(body, "查看居民 张三丰 的健康码") {
			t.Errorf("recording the contact: %d\n%s", resp.StatusCode, body)
		}
		// A risk area is offered by name too.
		cmd := f.client(t)
		cmd.login("login-o_cmd1")
		if _, body := cmd.do("GET", "/record", nil); !strings.Contains(body, `<option value="410105001">金水区 经八路街道</option>`) {
			t.Errorf("the risk area form offers no street by name:\n%s", body)
		}
		// Outside the jurisdiction: not found by the search, refused
		// when chosen by a forged link.
		other := f.client(t)
		other.login("login-o_tr2")
		if _, body := other.do("GET", "/record?q="+url.QueryEscape("张"), nil); strings.Contains(body, "r_res1") {
			t.Errorf("a tracer of another city finds 张三丰")
		}
		if resp, _ := other.do("GET", "/record?resident=r_res1", nil); resp.StatusCode < 400 {
			t.Errorf("a tracer of another city chose 张三丰: %d", resp.StatusCode)
		}
	})
}
