package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// rawExec runs one statement on the store's database behind its back, as
// an insider with write access to the database would.
func rawExec(t *testing.T, dsn, query string, args ...any) {
	t.Helper()
	engine, target, err := store.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	driver := "sqlite"
	if engine == store.Postgres {
		driver = "pgx"
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", "$"+string(rune('0'+i)), 1)
		}
	}
	raw, err := sql.Open(driver, target)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestRoutesRefuseEditedCode edits a red resident's codes row behind the
// store, its colour to green, and separately its entry pointer: the code
// route, the token route and the resident's page answer 503 with a clear
// error (JSON on the API, zh-CN or English on the page) and the integrity
// alert is raised once per edit, not once per request.
func TestRoutesRefuseEditedCode(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		for n, edit := range []struct {
			name, query string
			columns     string
		}{
			{"colour", "UPDATE codes SET colour = 'green' WHERE resident = 'r_res2'", "colour"},
			{"entry pointer", "UPDATE codes SET log_index = (SELECT log_index FROM residents WHERE id = 'r_res2') WHERE resident = 'r_res2'", "log_index"},
		} {
			if n > 0 { // a fresh database of the same engine
				if dsn = testdb.SQLite(t); strings.HasPrefix(t.Name(), "TestRoutesRefuseEditedCode/postgres") {
					dsn = testdb.Postgres(t)
				}
			}
			f := mustFixture(t, dsn, true)
			bearer := mustBearer(t, f, "login-r_res2")
			rawExec(t, dsn, edit.query)
			c := f.client(t)
			c.login("login-r_res2")
			for range 2 {
				for _, path := range []string{"/v1/residents/r_res2/code", "/v1/residents/r_res2/token", "/v1/residents/r_res2/token?format=png"} {
					req, _ := http.NewRequest("GET", f.ts.URL+path, nil)
					req.Header.Set("Authorization", "Bearer "+bearer)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					var m struct {
						Error struct{ Code, Message string }
					}
					_ = json.Unmarshal(body, &m) // a page's HTML leaves m empty: the status check below still applies
					if resp.StatusCode != http.StatusServiceUnavailable || m.Error.Code != healthcode.EUNAVAIL ||
						!strings.Contains(m.Error.Message, "differs from the log") || resp.Header.Get("Retry-After") == "" {
						t.Errorf("%s: %s: %d %.200q (Retry-After %q), want 503 saying the code differs from the log", edit.name, path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
					}
				}
				for _, lang := range []struct{ lang, want string }{{"zh-CN", "与日志不一致"}, {"en", "differs from the log"}} {
					c.do("GET", "/lang/"+lang.lang, nil)
					resp, body := c.do("GET", "/residents/r_res2", nil)
					if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, lang.want) {
						t.Errorf("%s: page (%s): %d, want 503 saying %q", edit.name, lang.lang, resp.StatusCode, lang.want)
					}
				}
			}
			auditor := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_aud", Role: healthcode.RoleAuditor, Jurisdiction: "410000"})
			alerts, _, err := f.db.Alerts(auditor, healthcode.AlertIntegrity, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(alerts) != 1 {
				t.Fatalf("%s: %d integrity alerts, want 1: %+v", edit.name, len(alerts), alerts)
			}
			if d := alerts[0].Detail; d["table"] != "codes" || d["key"] != "r_res2" || !strings.Contains(strings.Join(strings.Fields(jsonString(d["columns"])), ""), edit.columns) {
				t.Errorf("%s: alert detail %v, want codes r_res2 %s", edit.name, d, edit.columns)
			}
			if resp, body := c.do("GET", "/metrics", nil); resp.StatusCode != 200 || !strings.Contains(body, "\nhealthcode_integrity_alerts_total 1\n") {
				t.Errorf("%s: /metrics does not count the one integrity alert: %d", edit.name, resp.StatusCode)
			}
			// Another resident is served.
			c1 := f.client(t)
			c1.login("login-r_res1")
			if resp, body := c1.do("GET", "/v1/residents/r_res1/token", nil); resp.StatusCode != 200 {
				t.Errorf("%s: another resident's token: %d %s", edit.name, resp.StatusCode, body)
			}
		}
	})
}

// mustBearer logs in through the API and returns the session token.
func mustBearer(t *testing.T, f *fixture, login string) string {
	t.Helper()
	resp, err := http.Post(f.ts.URL+"/v1/sessions", "application/json", strings.NewReader(`{"login":"`+login+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Token == "" {
		t.Fatalf("login %s: %d %v", login, resp.StatusCode, err)
	}
	return m.Token
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
