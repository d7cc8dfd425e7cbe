package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
)

func TestPages(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		anon := f.client(t)
		res := f.client(t)
		res.login("login-r_res1")
		red := f.client(t)
		red.login("login-r_res2")
		cmd := f.client(t)
		cmd.login("login-o_cmd1")

		tests := []struct {
			name   string
			c      *client
			path   string
			status int
			want   string
		}{
			{"home", anon, "/", 200, "可问责的健康码"},
			{"home lists demo logins", anon, "/", 200, `data-login="login-o_op"`},
			{"login form", anon, "/login", 200, `autocomplete="current-password"`},
			{"resident page", res, "/residents/r_res1", 200, "绿码"},
			{"resident page without QR", res, "/residents/r_res1", 200, "二维码将在签发服务启用后显示在这里"},
			{"other resident", res, "/residents/r_res2", 403, "您无权执行此操作"},
			{"red code", red, "/residents/r_res2", 200, "红码"},
			{"red code's fact", red, "/residents/r_res2", 200, "录入：孙八（指挥部"},
			{"red code's approval", red, "/residents/r_res2", 200, "批准：周九（指挥部"},
			{"red code's history", red, "/residents/r_res2", 200, `class="tl-red"`},
			{"who looked", red, "/residents/r_res2", 200, "孙八（指挥部"},
			{"nobody looked", res, "/residents/r_res1", 200, "没有工作人员查看过您的数据"},
			{"unknown resident", res, "/residents/r_nobody", 404, "找不到"},
			{"public to login", anon, "/residents/r_res1", 303, ""},
			{"official's start page", cmd, "/", 200, `action="/people"`},
			{"official finds a resident by name", cmd, "/people?q=" + url.QueryEscape("李"), 200, `href="/residents/r_res2"`},
			{"official's view of a resident", cmd, "/residents/r_res2", 200, "居民 李四 的健康码"},
			{"resident's inbox", red, "/inbox", 200, "您的健康码已由绿码转为红码"},
			{"official has no inbox", cmd, "/inbox", 403, ""},
			{"official finds a resident", cmd, "/residents/find?id=r_res2", 303, ""},
			{"official reads a resident", cmd, "/residents/r_res2", 200, "红码"},
			{"official sees no access log", cmd, "/residents/r_res2", 200, "为什么是这个颜色"},
			{"explorer", anon, "/explorer", 200, "最新检查点"},
			{"explorer bad page", anon, "/explorer?before=x", 400, "before"},
			{"explorer by kind", anon, "/explorer?kind=resident.registered", 200, `<td>登记居民 <code>resident.registered</code></td>`},
			{"explorer by kind lists no other", anon, "/explorer?kind=resident.registered", 200, "只列出 登记居民 类记录"},
			{"explorer by unknown kind", anon, "/explorer?kind=nope", 400, "类型：没有这种类型"},
			{"entry", anon, "/explorer/entries/0", 200, `id="hc-log-proof"`},
			{"entry beyond", anon, "/explorer/entries/99999", 404, "日志目前只有"},
			{"entry bad", anon, "/explorer/entries/x", 400, "日志序号：必须是一个正整数"},
			{"goto", anon, "/explorer/goto?index=2", 303, ""},
			{"consistency form", anon, "/explorer/consistency", 200, "一致性证明"},
			{"consistency", anon, "/explorer/consistency?old=2&new=5", 200, `"kind":"consistency"`},
			{"consistency old > new", anon, "/explorer/consistency?old=5&new=2", 400, "old"},
			{"verify", anon, "/verify", 200, `"verify.reason.bad_signature":`},
			{"unknown page", anon, "/nothing", 404, "找不到该页面"},
			{"static", anon, "/static/app.css", 200, ":root"},
			{"service worker", anon, "/verify-sw.js", 200, "hc-verify-v1"},
			{"static missing", anon, "/static/nope.css", 404, ""},
			{"unknown language", anon, "/lang/fr", 404, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := tt.c.do("GET", tt.path, nil)
				if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
					t.Errorf("GET %s: %d, want %d with %q in:\n%.1500s", tt.path, resp.StatusCode, tt.status, tt.want, body)
				}
				if resp.StatusCode != http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && resp.Header.Get("Content-Security-Policy") == "" {
					t.Errorf("GET %s: no Content-Security-Policy", tt.path)
				}
			})
		}

		t.Run("session cookie flags", func(t *testing.T) {
			c := f.client(t)
			resp, _ := c.do("POST", "/login", url.Values{"csrf": {c.csrf("/login")}, "login": {"login-r_res1"}, "password": {password}})
			if loc := resp.Header.Get("Location"); loc != "/residents/r_res1" {
				t.Errorf("resident lands on %q", loc)
			}
			var found bool
			for _, ck := range resp.Cookies() {
				if ck.Name == "hc_session" {
					found = true
					if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
						t.Errorf("session cookie: HttpOnly %v SameSite %v Secure %v (plain HTTP)", ck.HttpOnly, ck.SameSite, ck.Secure)
					}
				}
			}
			if !found {
				t.Error("no session cookie")
			}
		})
		t.Run("wrong password", func(t *testing.T) {
			c := f.client(t)
			resp, body := c.do("POST", "/login", url.Values{"csrf": {c.csrf("/login")}, "login": {"login-r_res1"}, "password": {"wrong wrong wrong"}})
			if resp.StatusCode != 401 || !strings.Contains(body, "账号或密码错误") {
				t.Errorf("wrong password: %d %.500s", resp.StatusCode, body)
			}
		})
		t.Run("CSRF", func(t *testing.T) {
			c := f.client(t)
			c.csrf("/login")
			for _, tok := range []string{"", "forged"} {
				resp, _ := c.do("POST", "/login", url.Values{"csrf": {tok}, "login": {"login-r_res1"}, "password": {password}})
				if resp.StatusCode != 403 {
					t.Errorf("login with csrf %q: %d, want 403", tok, resp.StatusCode)
				}
			}
			// A logged-in form's token is bound to the session: the
			// pre-login token no longer logs out.
			pre := c.csrf("/login")
			c.login("login-r_res1")
			if resp, _ := c.do("POST", "/logout", url.Values{"csrf": {pre}}); resp.StatusCode != 403 {
				t.Errorf("logout with the pre-login token: %d, want 403", resp.StatusCode)
			}
		})
		t.Run("logout", func(t *testing.T) {
			c := f.client(t)
			c.login("login-r_res1")
			tok := c.csrf("/residents/r_res1")
			if resp, _ := c.do("POST", "/logout", url.Values{"csrf": {tok}}); resp.StatusCode != 303 {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
			if resp, _ := c.do("GET", "/residents/r_res1", nil); resp.StatusCode != 303 {
				t.Errorf("after logout: %d, want a redirect to login", resp.StatusCode)
			}
		})
		t.Run("language switch", func(t *testing.T) {
			c := f.client(t)
			resp, _ := c.do("GET", "/lang/en?next=/explorer", nil)
			if resp.StatusCode != 303 || resp.Header.Get("Location") != "/explorer" {
				t.Fatalf("switch: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			_, body := c.do("GET", "/", nil)
			if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Accountable health codes") {
				t.Errorf("after switching to en: %.400s", body)
			}
			if resp, _ := c.do("GET", "/lang/en?next=//evil.example", nil); resp.Header.Get("Location") != "/" {
				t.Errorf("open redirect: %q", resp.Header.Get("Location"))
			}
		})
		t.Run("static caching", func(t *testing.T) {
			_, home := anon.do("GET", "/", nil)
			i := strings.Index(home, "/static/app.css?v=")
			if i < 0 {
				t.Fatal("no versioned stylesheet link")
			}
			link := home[i : i+strings.IndexByte(home[i:], '"')]
			resp, _ := anon.do("GET", link, nil)
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("versioned asset Cache-Control %q", cc)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
				t.Errorf("Content-Type %q", ct)
			}
		})
		t.Run("API ignores the page cookie", func(t *testing.T) {
			// Only the QR route takes the session cookie; every other API
			// route still needs the bearer header.
			c := f.client(t)
			c.login("login-r_res1")
			req, _ := http.NewRequest("GET", f.ts.URL+"/v1/residents/r_res1", nil)
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /v1/residents/r_res1 with only the cookie: %d, want 401", resp.StatusCode)
			}
			req, _ = http.NewRequest("GET", f.ts.URL+"/v1/residents/r_res1/token", nil)
			resp, err = c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("GET /v1/residents/r_res1/token with the cookie: 401") // 503 here: no key secret
			}
		})
		t.Run("API unchanged", func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.ts.URL+"/v1/nothing", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("unknown API route: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	})
}
