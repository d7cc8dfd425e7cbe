package server_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/server"
)

// TestMetricMethodsBounded: 100 requests with made-up methods add at most
// a few series (method "other"), not one each.
func TestMetricMethodsBounded(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	series := func() int {
		t.Helper()
		resp, err := http.Get(f.ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Count(string(b), "\nhealthcode_http_requests_total{")
	}
	f.do(t, "GET", "/v1/stats", "", "")
	before := series()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		m := fmt.Sprintf("M%dX%d", i, rng.Uint32())
		for _, path := range []string{"/v1/stats", "/nowhere"} {
			req, _ := http.NewRequest(m, f.ts.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	if after := series(); after > before+4 {
		t.Errorf("100 made-up methods: %d request series, %d before", after, before)
	}
}

// TestPrivateResponsesNotStored: answers with personal data or a session
// token say no-store, and every answer nosniff.
func TestPrivateResponsesNotStored(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	res1 := f.login(t, "login-r_res1")
	for _, tc := range []struct {
		name, method, path, token, body string
		noStore                         bool
	}{
		{"login", "POST", "/v1/sessions", "", `{"login":"login-r_res1","password":"correct horse battery"}`, true},
		{"own code", "GET", "/v1/residents/r_res1/code", res1, "", true},
		{"own token (503: no signing key)", "GET", "/v1/residents/r_res1/token", res1, "", true},
		{"public statistics", "GET", "/v1/stats", "", "", false},
	} {
		req, _ := http.NewRequest(tc.method, f.ts.URL+tc.path, strings.NewReader(tc.body))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Cache-Control") == "no-store"; got != tc.noStore || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%d): Cache-Control %q, X-Content-Type-Options %q", tc.name, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"))
		}
	}
}

// TestHTTPSCookies: published at an https URL (Config.HTTPS, from
// --public-url), the session and CSRF cookies are Secure and __Host-
// prefixed, every response carries HSTS, and the page session works with
// the prefixed cookie only; over plain http none of that is set.
func TestHTTPSCookies(t *testing.T) {
	for _, https := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			f := mustFixture(t, testdb.SQLite(t))
			ts := apitest.Server(t, server.New(f.db, server.Config{Logger: quiet, HTTPS: https}))
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

			// The login page sets the CSRF cookie; the form posts it back.
			resp, err := client.Get(ts.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); (got != "") != https {
				t.Errorf("Strict-Transport-Security %q", got)
			}
			csrf := cookieNamed(resp.Cookies(), "hc_csrf")
			if csrf == nil {
				t.Fatalf("no CSRF cookie: %v", resp.Cookies())
			}
			if wantName := map[bool]string{false: "hc_csrf", true: "__Host-hc_csrf"}[https]; csrf.Name != wantName || csrf.Secure != https || csrf.Path != "/" {
				t.Errorf("CSRF cookie %s Secure=%v Path=%q, want %s Secure=%v Path=/", csrf.Name, csrf.Secure, csrf.Path, wantName, https)
			}
			form := url.Values{"login": {"login-o_op"}, "password": {password}, "csrf": {csrf.Value}}
			req, _ := http.NewRequest("POST", ts.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(csrf)
			resp, err = client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			sess := cookieNamed(resp.Cookies(), "hc_session")
			if resp.StatusCode != http.StatusSeeOther || sess == nil {
				t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
			}
			if wantName := map[bool]string{false: "hc_session", true: "__Host-hc_session"}[https]; sess.Name != wantName || sess.Secure != https || !sess.HttpOnly {
				t.Errorf("session cookie %s Secure=%v HttpOnly=%v, want %s Secure=%v HttpOnly", sess.Name, sess.Secure, sess.HttpOnly, wantName, https)
			}

			// The session works under its own name, and under no other.
			loggedIn := func(c *http.Cookie) bool {
				req, _ := http.NewRequest("GET", ts.URL+"/command", nil)
				req.AddCookie(c)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized
			}
			if !loggedIn(sess) {
				t.Errorf("the session cookie %s does not log in", sess.Name)
			}
			other := &http.Cookie{Name: "hc_session", Value: sess.Value}
			if https {
				if loggedIn(other) {
					t.Errorf("over https, an unprefixed hc_session cookie (which any subdomain or http page could set) logs in")
				}
			}
		})
	}
}

// cookieNamed finds a cookie by its name without the __Host- prefix.
func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if strings.TrimPrefix(c.Name, "__Host-") == name {
			return c
		}
	}
	return nil
}
