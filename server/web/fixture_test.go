package web_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

var (
	system    = healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	quiet     = slog.New(slog.NewTextHandler(io.Discard, nil))
	keySecret = []byte("correct horse battery staple")
)

const password = "correct horse battery"

// fixture is a server over a small seeded province, with token issuing
// when tokens is set.
type fixture struct {
	db  *store.DB
	srv *server.Server
	ts  *httptest.Server
}

func mustFixture(t *testing.T, dsn string, tokens bool) *fixture {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tree := []healthcode.Jurisdiction{
		{Code: "410000", Name: "中原省", Level: healthcode.Province},
		{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
		{Code: "410105", Name: "金水区", Level: healthcode.County, Parent: "410100"},
		{Code: "410105001", Name: "经八路街道", Level: healthcode.Street, Parent: "410105"},
		{Code: "410105001001", Name: "农科路社区", Level: healthcode.Community, Parent: "410105001"},
	}
	if err := db.CreateJurisdictions(system, tree); err != nil {
		t.Fatal(err)
	}
	var rs []healthcode.Resident
	for i, name := range []string{"张三丰", "李四"} {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_res%d", i+1), IDHash: h[:], Name: name, Phone: "13900000000", Jurisdiction: "410105001001"})
	}
	if err := db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := db.CreateResidentAccount(system, r.ID, "login-"+r.ID, password); err != nil {
			t.Fatal(err)
		}
	}
	o := healthcode.Official{ID: "o_op", Name: "钱七", Role: healthcode.RoleOperator, Jurisdiction: "410000"}
	if err := db.CreateOfficial(system, o, "login-o_op", password); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Logger: quiet, Demo: true, DemoLogins: []server.DemoLogin{
		{Login: "login-r_res1", Password: password, Name: "张三丰", Role: string(healthcode.RoleResident)},
		{Login: "login-o_op", Password: password, Name: "钱七", Role: string(healthcode.RoleOperator)},
	}}
	if tokens {
		cfg.KeySecret = keySecret
	}
	srv := server.New(db, cfg)
	if tokens {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := srv.StartTokens(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{db: db, srv: srv, ts: ts}
}

// client is a browser-like HTTP client: a cookie jar, no redirects
// followed, and Accept: text/html.
type client struct {
	t   *testing.T
	f   *fixture
	hc  *http.Client
	jar http.CookieJar
}

func (f *fixture) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, f: f, jar: jar, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.f.ts.URL+path, body)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads path and returns the CSRF token of its first form.
func (c *client) csrf(path string) string {
	c.t.Helper()
	_, body := c.do("GET", path, nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("%s has no CSRF field", path)
	}
	return m[1]
}

func (c *client) login(login string) {
	c.t.Helper()
	resp, body := c.do("POST", "/login", url.Values{"csrf": {c.csrf("/login")}, "login": {login}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d %s", login, resp.StatusCode, body)
	}
}
