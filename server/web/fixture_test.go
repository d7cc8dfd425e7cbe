package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
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
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/rules"
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
	return mustIssuerFixture(t, dsn, tokens, "")
}

// mustIssuerFixture is mustFixture for a deployment whose trust list is
// issuer's (store.DefaultIssuer if empty).
func mustIssuerFixture(t *testing.T, dsn string, tokens bool, issuer string) *fixture {
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
	officials := []healthcode.Official{
		{ID: "o_op", Name: "钱七", Role: healthcode.RoleOperator, Jurisdiction: "410000"},
		{ID: "o_cmd1", Name: "孙八", Role: healthcode.RoleCommand, Jurisdiction: "410000"},
		{ID: "o_cmd2", Name: "周九", Role: healthcode.RoleCommand, Jurisdiction: "410000"},
	}
	for _, o := range officials {
		if err := db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
			t.Fatal(err)
		}
	}
	mustRedCode(t, db, officials[1], officials[2], "r_res2")
	cfg := server.Config{Logger: quiet, Demo: true, DemoLogins: []server.DemoLogin{
		{Login: "login-r_res1", Password: password, Name: "张三丰", Role: string(healthcode.RoleResident)},
		{Login: "login-o_op", Password: password, Name: "钱七", Role: string(healthcode.RoleOperator)},
	}}
	if tokens {
		cfg.KeySecret, cfg.Issuer = keySecret, issuer
	}
	srv := server.New(db, cfg)
	if tokens {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := srv.StartTokens(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ts := apitest.Server(t, srv)
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

// mustRedCode publishes the default ruleset (drafted by one command
// officer, approved by another) and has the first enter a confirmed case
// for the resident and the second approve it, so the resident's code is
// red with a rule, a fact, who recorded and approved it, and a history.
func mustRedCode(t *testing.T, db *store.DB, cmd1, cmd2 healthcode.Official, resident string) {
	t.Helper()
	as := func(o healthcode.Official) context.Context {
		return healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: o.ID, Name: o.Name, Role: o.Role, Jurisdiction: o.Jurisdiction})
	}
	rs, err := db.DraftRuleset(as(cmd1), rules.DefaultName, rules.DefaultSource())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideRuleset(as(cmd2), rs.ID, rs.Version, true, ""); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"status": "confirmed", "case_id": "ZY-2022-0613-001"})
	res, err := db.RecordFacts(as(cmd1), []healthcode.Fact{{ID: "case-001", Kind: "case_status", Subject: resident,
		ObservedAt: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), Evidence: "流调报告 2022-0613-001", Payload: payload}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideFact(as(cmd2), res.Facts[0].Key, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RunJobs(system, nil); err != nil {
		t.Fatal(err)
	}
	// An official reads the resident's code: the resident sees it.
	if _, err := db.Explain(as(cmd1), resident); err != nil {
		t.Fatal(err)
	}
}

// mustOfficials creates officials, each with the login "login-"+ID.
func (f *fixture) mustOfficials(t *testing.T, os ...healthcode.Official) {
	t.Helper()
	for _, o := range os {
		if err := f.db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
			t.Fatal(err)
		}
	}
}

// mustPendingCase has 孙八 (o_cmd1) enter a confirmed case for 张三丰
// (r_res1) by hand, held for a second command officer; it returns the
// fact's key.
func (f *fixture) mustPendingCase(t *testing.T) string {
	t.Helper()
	cmd1 := healthcode.NewContext(system, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd1", Name: "孙八", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	payload, _ := json.Marshal(map[string]any{"status": "confirmed", "case_id": "ZY-2022-0614-002"})
	res, err := f.db.RecordFacts(cmd1, []healthcode.Fact{{ID: "case-002", Kind: "case_status", Subject: "r_res1",
		ObservedAt: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), Evidence: "流调报告 2022-0614-002", Payload: payload}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Facts[0].Status != "pending" {
		t.Fatalf("hand-entered case is %s, want pending", res.Facts[0].Status)
	}
	return res.Facts[0].Key
}
