package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// TestAPIStatuses makes every documented error status happen that the
// other tests do not, through the validating server (mustFixture), so the
// description lists only what the server says and says it as documented.
// The rows run in order: some change the state later rows see.
func TestAPIStatuses(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		tokens := mustAuthzWorld(t, f)
		tokens["command-p1"] = f.login(t, "login-o_cmdp1")
		tokens["command-p2"] = f.login(t, "login-o_cmdp2")
		tokens["forged"] = "hcs_forged"
		fact, appeal := tokens["fact"], tokens["appeal"]
		v2 := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
		another := `{"resident":"r_res1","fact_keys":["` + fact + `"],"statement":"again"}`
		rows := []struct {
			method, path, role, body string
			want                     int // a body not in braces or brackets is sent as YAML
		}{
			{"GET", "/v1/jurisdictions", "forged", "", 401},
			{"GET", "/v1/residents/r_nobody/code", "self", "", 404},
			{"GET", "/v1/residents/r_nobody/history", "self", "", 404},
			{"GET", "/v1/residents/r_nobody/appeals", "self", "", 404},

			{"POST", "/v1/facts/s_lab:nothing/approve", "command-in", "", 404},
			{"POST", "/v1/facts/" + fact + "/approve", "command-in", `{"why":"x"}`, 400},
			{"POST", "/v1/facts/s_lab:case/approve", "command-p1", "", 409},
			{"POST", "/v1/facts/s_lab:nothing/reject", "command-in", `{"reason":"no evidence"}`, 404},
			{"POST", "/v1/facts/" + fact + "/reject", "command-in", `{"reason":""}`, 400},
			{"POST", "/v1/facts/s_lab:nothing/retract", "command-in", `{"reason":"entered in error"}`, 404},
			{"POST", "/v1/facts/" + fact + "/retract", "tracer", `{"reason":""}`, 400},

			{"POST", "/v1/rulesets", "command-p1", `{"name":"bad.yaml","source":"id: [unclosed"}`, 400},
			{"POST", "/v1/rulesets", "command-p1", v2, 409},
			{"GET", "/v1/rulesets/henan-health-code/one", "", "", 400},
			{"GET", "/v1/rulesets/nothing/1", "", "", 404},
			{"POST", "/v1/rulesets/henan-health-code/2/approve", "command-p2", `{"why":"x"}`, 400},
			{"POST", "/v1/rulesets/nothing/1/approve", "command-p2", "", 404},
			{"POST", "/v1/rulesets/henan-health-code/1/refuse", "command-p2", `{"reason":"not needed"}`, 409},
			{"POST", "/v1/rulesets/henan-health-code/2/refuse", "command-p2", `{"reason":""}`, 400},
			{"POST", "/v1/rulesets/nothing/1/refuse", "command-p2", `{"reason":"not needed"}`, 404},
			{"POST", "/v1/rulesets/henan-health-code/1/refuse", "command-p2", `{"reason":"not needed"}`, 409},
			{"POST", "/v1/rulesets/henan-health-code/2/refuse", "command-p2", `{"reason":"not needed"}`, 200},

			// No one learns who is not a resident.
			{"POST", "/v1/appeals", "worker-in", `{"resident":"r_nobody","fact_keys":["s_lab:case"],"statement":"x"}`, 403},
			// Up to 5 undecided appeals at a time.
			{"POST", "/v1/appeals", "self", another, 201},
			{"POST", "/v1/appeals", "self", another, 201},
			{"POST", "/v1/appeals", "self", another, 201},
			{"POST", "/v1/appeals", "self", another, 201},
			{"POST", "/v1/appeals", "self", another, 409},
			{"GET", "/v1/appeals?status=lost", "command-in", "", 400},
			{"GET", "/v1/appeals/ap_nothing", "self", "", 404},
			{"GET", "/v1/appeals/" + appeal + "/attachments/7", "self", "", 404},
			{"POST", "/v1/appeals/ap_nothing/consent", "self", "", 404},
			{"POST", "/v1/appeals/" + appeal + "/grant", "command-in", `{"why":"x"}`, 400},
			{"POST", "/v1/appeals/ap_nothing/grant", "command-in", "", 404},
			{"POST", "/v1/appeals/ap_nothing/deny", "command-in", `{"reason":"the evidence holds"}`, 404},
			{"POST", "/v1/appeals/" + appeal + "/deny", "command-in", `{"reason":"the evidence holds"}`, 200},
			{"POST", "/v1/appeals/" + appeal + "/deny", "command-in", `{"reason":"the evidence holds"}`, 200}, // a retry: the same answer
			{"POST", "/v1/appeals/" + appeal + "/grant", "command-in", "", 409},

			{"POST", "/v1/facts/" + fact + "/reject", "command-in", `{"reason":"no evidence"}`, 200},
			{"POST", "/v1/officials/o_spare/disable", "operator", `{"reason":""}`, 400},
			{"POST", "/v1/officials/o_nobody/disable", "operator", `{"reason":"left the post"}`, 404},
			{"GET", "/v1/logins?official=o_cmdout", "auditor", "", 200},
			{"GET", "/v1/logins?limit=0", "auditor", "", 400},
			{"GET", "/v1/logins?limit=many", "auditor", "", 400},
			{"GET", "/v1/logins", "operator", "", 403},
			// A command officer's account takes a second operator: 202 until then.
			{"POST", "/v1/officials/o_cmdout/disable", "operator", `{"reason":"compromised account"}`, 202},
			{"POST", "/v1/officials/o_cmdout/disable", "operator", `{"reason":"compromised account"}`, 409},
			{"POST", "/v1/officials/o_cmdout/enable", "operator", `{"reason":""}`, 400},
			{"POST", "/v1/officials/o_nobody/enable", "operator", `{"reason":"cleared"}`, 404},
			{"POST", "/v1/officials/o_cmdout/enable", "operator", `{"reason":"request withdrawn"}`, 204},
			{"POST", "/v1/officials/o_cmdout/enable", "operator", `{"reason":"request withdrawn"}`, 409},
		}
		for _, row := range rows {
			ctype := ""
			switch {
			case strings.HasPrefix(row.body, "{"), strings.HasPrefix(row.body, "["):
				ctype = "application/json"
			case row.body != "":
				ctype = "application/yaml"
			}
			status, body := doTyped(t, f.ts.URL, row.method, row.path, tokens[row.role], ctype, row.body)
			if status != row.want {
				t.Errorf("%s %s as %s: %d, want %d: %s", row.method, row.path, row.role, status, row.want, body)
			}
		}
	})
}

// TestAPIReadLimit: an official past their hourly limit of personal-data
// reads is answered 429 with Retry-After on every route that reads.
func TestAPIReadLimit(t *testing.T) {
	f := mustFixtureWith(t, testdb.SQLite(t), store.Limits{ReadsPerHour: 1})
	tokens := mustAuthzWorld(t, f)
	worker := tokens["worker-in"]
	if status, body := doRaw(t, f.ts.URL, "GET", "/v1/residents/r_res1", worker, ""); status != http.StatusOK {
		t.Fatalf("first read: %d %s", status, body)
	}
	for _, path := range []string{
		"/v1/residents/r_res1", "/v1/residents/r_res1/code", "/v1/residents/r_res1/history", "/v1/residents/r_res1/appeals",
		"/v1/facts/" + tokens["fact"], "/v1/appeals/" + tokens["appeal"], "/v1/appeals/" + tokens["appeal"] + "/attachments/0",
	} {
		if status, body := doRaw(t, f.ts.URL, "GET", path, worker, ""); status != http.StatusTooManyRequests {
			t.Errorf("GET %s past the limit: %d, want 429: %s", path, status, body)
		}
	}
}
