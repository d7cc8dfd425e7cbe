package web_test

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// The strings check (issue 17, item 8): a zh-CN page shows no internal id
// (r_…, o_…, s_…, ap_…, a_…, j_…: the prefixes the store mints), no JSON
// object and no English error, outside the <code> blocks (and scripts,
// styles, text areas) meant for them.

var (
	// internalIDRE is an id as minted (healthcode.validID's alphabet)
	// standing alone, not the tail of a word such as case_status.
	internalIDRE = regexp.MustCompile(`(^|[^A-Za-z0-9_.-])((?:r|o|s|a|ap|j)_(?:[A-Za-z0-9][A-Za-z0-9_-]*|\.\.\.|…))`)
	jsonObjectRE = regexp.MustCompile(`\{\s*"[^"]*"\s*:`)
	// englishRE is an English sentence: four words or more.
	englishRE = regexp.MustCompile(`[A-Za-z]{2,}(?:[ ,:;]+[A-Za-z]{2,}){3,}`)
	// englishErrors are words English error messages are made of.
	englishErrors = regexp.MustCompile(`(?i)\b(required|must|cannot|invalid|not found|no such|already|unknown|too (?:long|many|large)|internal error|forbidden|not allowed|expected|missing|malformed|refused|denied)\b`)

	hiddenRE    = regexp.MustCompile(`(?is)<(script|style|code|textarea|pre)\b[^>]*>.*?</(?:script|style|code|textarea|pre)>`)
	commentRE   = regexp.MustCompile(`(?s)<!--.*?-->`)
	visibleAttr = regexp.MustCompile(`(?i)\s(?:placeholder|title|aria-label|alt)="([^"]*)"`)
	tagRE       = regexp.MustCompile(`(?s)<[^>]*>`)
)

// visibleText is what a page shows a person: its text and the attributes
// a person reads (placeholders, titles, labels), without scripts, styles
// and code blocks.
func visibleText(page string) string {
	page = hiddenRE.ReplaceAllString(commentRE.ReplaceAllString(page, " "), " ")
	var b strings.Builder
	for _, m := range visibleAttr.FindAllStringSubmatch(page, -1) {
		b.WriteString(m[1] + "\n")
	}
	b.WriteString(tagRE.ReplaceAllString(page, "\n"))
	return html.UnescapeString(b.String())
}

// stringProblems lists what a zh-CN page should not show.
func stringProblems(page string) []string {
	var out []string

	for _, line := range strings.Split(visibleText(page), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if m := internalIDRE.FindStringSubmatch(line); m != nil {
			out = append(out, "internal id "+m[2]+" in "+quoteShort(line))
		}
		if jsonObjectRE.MatchString(line) {
			out = append(out, "JSON object in "+quoteShort(line))
		}
		if m := englishRE.FindString(line); m != "" {
			out = append(out, "English "+quoteShort(m))
		} else if m := englishErrors.FindString(line); m != "" {
			out = append(out, "English error word "+m+" in "+quoteShort(line))
		}
	}
	return out
}

func quoteShort(s string) string {
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return `"` + s + `"`
}

func TestStringProblems(t *testing.T) {
	for page, want := range map[string]bool{
		`<p>居民 张三 的健康码</p>`:                                  false,
		`<p>类型 case_status</p>`:                              false, // a word with an underscore, not an id
		`<p>居民 r_uo5lrddhyeib4gzz</p>`:                       true,
		`<td>o_cmd1</td>`:                                    true,
		`<p>申诉 ap_12ab</p>`:                                  true,
		`<a href="/residents/r_res1">张三</a>`:                 false, // a link's target is not shown
		`<input placeholder="r_...">`:                        true,
		`<p>{"case_id":"ZY-1"}</p>`:                          true,
		`<code>{"case_id":"ZY-1"}</code>`:                    false,
		`<script type="application/json">{"a":"b"}</script>`: false,
		`<p class="bad">subject: no such resident</p>`:       true,
		`<p>reason: required</p>`:                            true,
		`<p>healthcode v1 · Asia/Shanghai</p>`:               false,
	} {
		if got := len(stringProblems(page)) > 0; got != want {
			t.Errorf("%s: problems %v, want %v", page, stringProblems(page), want)
		}
	}
}

// TestPageStrings walks every page as the public, a resident, a community
// worker, a flow tracer, a command officer and an auditor (each page its
// links lead to, and the pages a form's refusal ends on), in zh-CN, on
// both databases.
func TestPageStrings(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, true)
		f.mustOfficials(t,
			healthcode.Official{ID: "o_w", Name: "吴十", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"},
			healthcode.Official{ID: "o_tr", Name: "王五", Role: healthcode.RoleTracer, Jurisdiction: "410105"},
			healthcode.Official{ID: "o_aud", Name: "冯十二", Role: healthcode.RoleAuditor, Jurisdiction: "410000"},
		)
		// A fact held for approval, an appeal filed by the worker and
		// one by the resident, so the desks and inboxes have items.
		pending := f.mustPendingCase(t)
		worker := f.client(t)
		worker.login("login-o_w")
		_, page := worker.do("GET", "/residents/r_res2", nil)
		fact := regexp.MustCompile(`name="fact" value="([^"]+)"`).FindStringSubmatch(page)
		if fact == nil {
			t.Fatal("the worker's view of 李四 offers no fact to dispute")
		}
		resp, body := worker.do("POST", "/residents/r_res2/appeals", url.Values{"csrf": {worker.csrf("/")}, "fact": {fact[1]}, "statement": {"本人未去过该地区"}, "consent_ref": {"居民电话同意 2022-06-14"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("worker's appeal: %d %v", resp.StatusCode, regexp.MustCompile(`id="appeal-error"[^<]*`).FindString(body))
		}

		check := func(t *testing.T, who, where string, body string) {
			t.Helper()
			for _, p := range stringProblems(body) {
				t.Errorf("%s, %s: %s", who, where, p)
			}
		}
		later := time.Now().Add(time.Hour).In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04")
		earlier := time.Now().Add(-time.Hour).In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04")
		// Each role's refused forms (what a first-time user gets wrong),
		// each with what the page should say.
		bad := map[string][][3]string{
			"": {{"/login", "login=nobody&password=wrong", "账号或密码错误"}},
			"login-r_res2": {
				{"/residents/r_res2/appeals", "statement=", "申诉理由：请写明健康码为什么有误"},
			},
			"login-o_w": {
				{"/residents/r_res1/appeals", "statement=&consent_ref=", "申诉理由：请写明健康码为什么有误"},
				{"/residents/r_res1/appeals", "statement=x&consent_ref=", "有异议的事实：请至少勾选一条有异议的事实"},
			},
			"login-o_tr": {
				{"/record", "kind=contact&subject=r_nobody&level=close&case_id=ZY-1&exposed_at=" + earlier, "对象：找不到这位居民"},
				{"/record", "kind=contact&subject=r_res1&level=close&case_id=&exposed_at=" + earlier, "病例编号：不能为空"},
				{"/record", "kind=contact&subject=r_res1&level=close&case_id=ZY-1&exposed_at=" + later, "暴露时间：不能晚于现在"},
				{"/record", "kind=contact&subject=r_res1&level=close&case_id=ZY-1&exposed_at=yesterday", "不是有效的日期和时间"},
				{"/record", "kind=contact&subject=&level=close&case_id=ZY-1&exposed_at=" + earlier, "对象：请先查找并选择居民"},
			},
			"login-o_cmd2": {
				{"/record", "kind=case_status&subject=r_res1&status=unsure&case_id=ZY-1&observed_at=" + earlier, "病例状态：不是可选的值之一"},
				{"/record", "kind=risk_area&subject=999&level=high&case_ids=ZY-1&from=" + earlier + "&until=" + later, "对象：请填写地区的 6 位、9 位或 12 位行政区划代码"},
				{"/record", "kind=risk_area&subject=410105001&level=high&case_ids=ZY-1&from=" + later + "&until=" + earlier, "结束时间：必须晚于开始时间"},
				{"/rulesets/new", "name=x.yaml&source=rules%3A+%5B&action=check", "规则文件第 1 行有错误"},
				{"/rulesets/new", "name=x.yaml&action=submit&source=" + url.QueryEscape(string(mustDefault())), "规则集 henan-health-code 已有版本 1，新草案须使用更高的版本号"},
				{"/facts/nokey/decide", "decision=approve&confirm=yes", "找不到这条事实"},
				{"/facts/nokey/decide", "decision=refuse&confirm=yes", "理由：请写明理由"},
				{"/appeals/ap_nothing/decide", "decision=grant&reason=x&confirm=yes", "找不到这项申诉"},
			},
		}
		// Forms that succeed: the confirmation and the page saying
		// what happened.
		good := map[string][][3]string{
			"login-o_cmd2": {
				{"/facts/" + url.PathEscape(pending) + "/decide", "decision=approve", "page-confirm"},
				{"/facts/" + url.PathEscape(pending) + "/decide", "decision=approve&confirm=yes", "page-done"},
			},
		}
		// Every page template is rendered at least once.
		rendered := map[string]bool{}
		pageRE := regexp.MustCompile(`<body class="page-([a-z_]+)"`)
		for _, login := range []string{"", "login-r_res1", "login-r_res2", "login-o_w", "login-o_tr", "login-o_cmd1", "login-o_cmd2", "login-o_aud"} {
			c := f.client(t)
			if login != "" {
				c.login(login)
			}
			who := login
			if who == "" {
				who = "the public"
			}
			// Every page reachable by links from the start page, and
			// the pages no link leads to yet.
			seen := map[string]bool{}
			queue := []string{"/", "/no-such-page", "/residents/r_nobody", "/appeals/ap_nothing", "/explorer/entries/99999", "/rulesets/nothing/1",
				"/rulesets", "/alerts", "/inbox", "/people?q=" + url.QueryEscape("张"), "/record?q=" + url.QueryEscape("张"), "/record?resident=r_res1",
				"/residents/r_res1", "/explorer?kind=fact.recorded", "/explorer/consistency?old=2&new=5"}
			for len(queue) > 0 && len(seen) < 150 {
				path := queue[0]
				queue = queue[1:]
				if seen[path] {
					continue
				}
				seen[path] = true
				resp, body := c.do("GET", path, nil)
				if resp.StatusCode/100 == 3 {
					// A redirect's body is for no one; where it leads is.
					if l := resp.Header.Get("Location"); walkable(l) && strings.HasPrefix(l, "/") {
						queue = append(queue, l)
					}
					continue
				}
				check(t, who, "GET "+path, body)
				if m := pageRE.FindStringSubmatch(body); m != nil {
					rendered[m[1]] = true
				}
				for _, m := range linkRE.FindAllStringSubmatch(body, -1) {
					if l := html.UnescapeString(m[1]); walkable(l) && !seen[l] {
						queue = append(queue, l)
					}
				}
			}
			for _, b := range bad[login] {
				form, err := url.ParseQuery(b[1])
				if err != nil {
					t.Fatal(err)
				}
				form.Set("csrf", c.csrf("/"))
				resp, body := c.do("POST", b[0], form)
				where := "POST " + b[0] + " " + quoteShort(b[1])
				// The ruleset editor answers a check with its own page.
				if resp.StatusCode < 400 && b[0] != "/rulesets/new" {
					t.Errorf("%s, %s: %d, want a refusal", who, where, resp.StatusCode)
				}
				check(t, who, where, body)
				if m := pageRE.FindStringSubmatch(body); m != nil {
					rendered[m[1]] = true
				}
				if !strings.Contains(body, b[2]) {
					t.Errorf("%s, %s: the page does not say %q", who, where, b[2])
				}
			}
			for _, g := range good[login] {
				form, err := url.ParseQuery(g[1])
				if err != nil {
					t.Fatal(err)
				}
				form.Set("csrf", c.csrf("/"))
				_, body := c.do("POST", g[0], form)
				check(t, who, "POST "+g[0]+" "+g[1], body)
				if m := pageRE.FindStringSubmatch(body); m == nil || "page-"+m[1] != g[2] {
					t.Errorf("%s, POST %s %s: got %v, want %s", who, g[0], g[1], m, g[2])
				} else {
					rendered[m[1]] = true
				}
			}
			if testing.Verbose() {
				var pages []string
				for p := range seen {
					pages = append(pages, p)
				}
				sort.Strings(pages)
				t.Logf("%s walked %d pages: %v", who, len(pages), pages)
			}
		}
		templates, err := os.ReadDir("templates")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range templates {
			name := strings.TrimSuffix(e.Name(), ".html")
			if name != "layout" && !strings.HasPrefix(name, "partial_") && !rendered[name] {
				t.Errorf("no walk rendered the page %s", name)
			}
		}
	})
}

var linkRE = regexp.MustCompile(`href="(/[^"#]*)`)

// walkable: a page link, not an asset, the language switch, the log's
// tiles or the API.
func walkable(l string) bool {
	for _, p := range []string{"/static/", "/lang/", "/log/", "/v1/", "/verify-sw.js"} {
		if strings.HasPrefix(l, p) {
			return false
		}
	}
	return !strings.Contains(l, "/attachments/")
}
