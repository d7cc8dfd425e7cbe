package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

var system = healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const password = "correct horse battery"

// fixture is a server over a small seeded province.
type fixture struct {
	db  *store.DB
	srv *server.Server
	ts  *httptest.Server
}

func mustFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	return mustFixtureWith(t, dsn, store.Limits{})
}

// mustDefaultPublished creates two command officers of the province,
// 孙八 (o_cmd1) and 周九 (o_cmd2), and the other officials given, each
// with the login "login-"+ID, and has the first draft the default
// ruleset and the second publish it.
func (f *fixture) mustDefaultPublished(t *testing.T, others ...healthcode.Official) {
	t.Helper()
	os := append([]healthcode.Official{
		{ID: "o_cmd1", Name: "孙八", Role: healthcode.RoleCommand, Jurisdiction: "410000"},
		{ID: "o_cmd2", Name: "周九", Role: healthcode.RoleCommand, Jurisdiction: "410000"},
	}, others...)
	for _, o := range os {
		if err := f.db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
			t.Fatal(err)
		}
	}
	cmd1 := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd1", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	cmd2 := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmd2", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	if _, err := f.db.DraftRuleset(cmd1, "default.yaml", rules.DefaultSource()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.DecideRuleset(cmd2, "henan-health-code", 1, true, ""); err != nil {
		t.Fatal(err)
	}
}

// mustFixtureWith is mustFixture with the store's limits (zero fields
// take the defaults).
func mustFixtureWith(t *testing.T, dsn string, limits store.Limits) *fixture {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, Limits: limits})
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
		{Code: "410105001002", Name: "文化路社区", Level: healthcode.Community, Parent: "410105001"},
	}
	if err := db.CreateJurisdictions(system, tree); err != nil {
		t.Fatal(err)
	}
	var rs []healthcode.Resident
	for i, c := range []string{"410105001001", "410105001002"} {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_res%d", i+1), IDHash: h[:], Name: "王五", Phone: "13900000000", Jurisdiction: c})
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
		{ID: "o_worker1", Name: "赵六", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"},
		{ID: "o_op", Name: "钱七", Role: healthcode.RoleOperator, Jurisdiction: "410000"},
	}
	for _, o := range officials {
		if err := db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
			t.Fatal(err)
		}
	}
	srv := server.New(db, server.Config{MaxBodyBytes: 4096, Logger: quiet})
	ts := apitest.Server(t, srv)
	return &fixture{db: db, srv: srv, ts: ts}
}

func (f *fixture) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.ts.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: response is not JSON: %q", method, path, b)
		}
	}
	return resp.StatusCode, m
}

func (f *fixture) login(t *testing.T, login string) string {
	t.Helper()
	status, m := f.do(t, "POST", "/v1/sessions", "", fmt.Sprintf(`{"login":%q,"password":%q}`, login, password))
	if status != http.StatusCreated {
		t.Fatalf("login %s: %d %v", login, status, m)
	}
	return m["token"].(string)
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestAPI(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		res1 := f.login(t, "login-r_res1")
		worker := f.login(t, "login-o_worker1")
		op := f.login(t, "login-o_op")

		tests := []struct {
			name, method, path, token, body string
			status                          int
			code                            string
		}{
			{"healthz", "GET", "/healthz", "", "", 200, ""},
			{"readyz", "GET", "/readyz", "", "", 200, ""},
			{"jurisdictions", "GET", "/v1/jurisdictions", "", "", 200, ""},
			{"unknown route", "GET", "/v1/nothing", "", "", 404, healthcode.ENOTFOUND},
			{"wrong method", "PUT", "/v1/jurisdictions", "", "", 405, healthcode.EINVALID},
			{"wrong password", "POST", "/v1/sessions", "", `{"login":"login-r_res1","password":"nope nope nope"}`, 401, healthcode.EUNAUTH},
			{"unknown login", "POST", "/v1/sessions", "", `{"login":"nobody","password":"nope nope nope"}`, 401, healthcode.EUNAUTH},
			{"malformed JSON", "POST", "/v1/sessions", "", `{"login":`, 400, healthcode.EINVALID},
			{"unknown field", "POST", "/v1/sessions", "", `{"login":"a","password":"b","admin":true}`, 400, healthcode.EINVALID},
			{"wrong type", "POST", "/v1/sessions", "", `{"login":1,"password":"b"}`, 400, healthcode.EINVALID},
			{"trailing data", "POST", "/v1/sessions", "", `{"login":"a","password":"b"} {}`, 400, healthcode.EINVALID},
			{"empty body", "POST", "/v1/sessions", "", ``, 400, healthcode.EINVALID},
			{"missing password", "POST", "/v1/sessions", "", `{"login":"a"}`, 400, healthcode.EINVALID},
			{"over-long body", "POST", "/v1/sessions", "", `{"login":"` + strings.Repeat("a", 5000) + `","password":"b"}`, 400, healthcode.EINVALID},
			{"bad bearer", "GET", "/v1/residents/r_res1", "hcs_forged", "", 401, healthcode.EUNAUTH},
			{"resident reads self", "GET", "/v1/residents/r_res1", res1, "", 200, ""},
			{"resident reads other", "GET", "/v1/residents/r_res2", res1, "", 403, healthcode.EFORBIDDEN},
			{"public reads resident", "GET", "/v1/residents/r_res1", "", "", 401, healthcode.EUNAUTH},
			{"worker reads own community", "GET", "/v1/residents/r_res1", worker, "", 200, ""},
			{"worker reads other community", "GET", "/v1/residents/r_res2", worker, "", 403, healthcode.EFORBIDDEN},
			{"operator reads resident", "GET", "/v1/residents/r_res1", op, "", 403, healthcode.EFORBIDDEN},
			{"unknown resident", "GET", "/v1/residents/r_nobody", res1, "", 404, healthcode.ENOTFOUND},
			{"log entry", "GET", "/v1/log/entries/0", "", "", 200, ""},
			{"log entry beyond size", "GET", "/v1/log/entries/100000", "", "", 404, healthcode.ENOTFOUND},
			{"log entry bad index", "GET", "/v1/log/entries/-1", "", "", 400, healthcode.EINVALID},
			{"consistency", "GET", "/v1/log/consistency?old=1&new=5", "", "", 200, ""},
			{"consistency old > new", "GET", "/v1/log/consistency?old=5&new=1", "", "", 400, healthcode.EINVALID},
			{"consistency beyond tree", "GET", "/v1/log/consistency?old=1&new=99999", "", "", 400, healthcode.EINVALID},
			{"consistency missing", "GET", "/v1/log/consistency?old=1", "", "", 400, healthcode.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, m := f.do(t, tt.method, tt.path, tt.token, tt.body)
				if status != tt.status || errCode(m) != tt.code {
					t.Errorf("%s %s: %d %q (%v), want %d %q", tt.method, tt.path, status, errCode(m), m, tt.status, tt.code)
				}
				if status == 403 && len(m) != 1 {
					t.Errorf("403 body carries data: %v", m)
				}
			})
		}

		// The resident sees their own data.
		_, m := f.do(t, "GET", "/v1/residents/r_res1", res1, "")
		if m["name"] != "王五" || m["jurisdiction"] != "410105001001" {
			t.Errorf("resident body: %v", m)
		}
		// Logging out ends the session.
		if status, _ := f.do(t, "DELETE", "/v1/sessions", res1, ""); status != 204 {
			t.Errorf("logout: %d", status)
		}
		if status, _ := f.do(t, "GET", "/v1/residents/r_res1", res1, ""); status != 401 {
			t.Errorf("after logout: %d, want 401", status)
		}
		// Metrics count requests by route.
		resp, err := http.Get(f.ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `healthcode_http_requests_total{method="GET",route="/v1/residents/{id}",status="403"}`) ||
			!strings.Contains(string(b), "healthcode_http_request_duration_seconds_bucket") {
			t.Errorf("metrics lack request counts or latency:\n%.2000s", b)
		}
		if !regexp.MustCompile(`(?m)^healthcode_log_entries_total [1-9]`).Match(b) || !strings.Contains(string(b), "healthcode_log_committer_busy_seconds_total ") {
			t.Errorf("metrics lack the committer's counters:\n%s", b)
		}
		// Tiles are served in the C2SP layout.
		resp, err = http.Get(f.ts.URL + "/log/checkpoint")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("checkpoint: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	})
}

// TestOpenAPICoversRoutes fails when a registered /v1 route is missing from
// api/openapi.yaml, or the document lists a route that does not exist.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), testdb.SQLite(t), store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	registered := map[string]bool{}
	for _, r := range server.New(db, server.Config{Logger: quiet}).Routes() {
		registered[r.Method+" "+r.Path] = true
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		if item := doc.Paths.Value(r.Path); item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in api/openapi.yaml", r.Method, r.Path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("api/openapi.yaml lists %s %s, which is not a route", method, path)
			}
		}
	}
}

// TestAPIDuplicateKeys: a body that gives a field twice is refused with the
// field named, on every kind of body: a plain one (login), one decoded by
// its handler (an appeal) and a ruleset sent as JSON.
func TestAPIDuplicateKeys(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		if err := f.db.CreateOfficial(system, healthcode.Official{ID: "o_cmd", Name: "孙八", Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-o_cmd", password); err != nil {
			t.Fatal(err)
		}
		res1, cmd := f.login(t, "login-r_res1"), f.login(t, "login-o_cmd")
		for _, tc := range []struct {
			name, path, token, ctype, body, field string
		}{
			{"login", "/v1/sessions", "", "", fmt.Sprintf(`{"login":"nobody","login":"login-r_res1","password":%q}`, password), "login"},
			{"appeal", "/v1/appeals", res1, "", `{"resident":"r_res1","fact_keys":["k"],"statement":"a","statement":"b"}`, "statement"},
			{"ruleset", "/v1/rulesets", cmd, "application/json", `{"name":"a.yaml","source":"x: 1","source":"x: 2"}`, "source"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", f.ts.URL+tc.path, strings.NewReader(tc.body))
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				if tc.ctype != "" {
					req.Header.Set("Content-Type", tc.ctype)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m struct {
					Error struct{ Code, Message string }
				}
				if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
					t.Fatalf("error answer: %v", err)
				}
				if resp.StatusCode != 400 || !strings.HasPrefix(m.Error.Message, tc.field+": ") || !strings.Contains(m.Error.Message, "more than once") {
					t.Errorf("%d %+v, want 400 naming %s given more than once", resp.StatusCode, m.Error, tc.field)
				}
			})
		}
	})
}
