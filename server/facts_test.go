package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
)

func TestFactsAPI(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		for _, o := range []healthcode.Official{
			{ID: "o_cmd1", Name: "孙八", Role: healthcode.RoleCommand, Jurisdiction: "410000"},
			{ID: "o_cmd2", Name: "周九", Role: healthcode.RoleCommand, Jurisdiction: "410100"},
		} {
			if err := f.db.CreateOfficial(system, o, "login-"+o.ID, password); err != nil {
				t.Fatal(err)
			}
		}
		src := healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"test_result"}, Jurisdiction: "410000"}
		const key = "hck_0123456789abcdef0123456789ab"
		if err := f.db.CreateSource(system, src, key); err != nil {
			t.Fatal(err)
		}
		cmd1, cmd2 := f.login(t, "login-o_cmd1"), f.login(t, "login-o_cmd2")
		res1 := f.login(t, "login-r_res1")

		// Two officers publish the default ruleset.
		req, _ := http.NewRequest("POST", f.ts.URL+"/v1/rulesets", strings.NewReader(string(rules.DefaultSource())))
		req.Header.Set("Authorization", "Bearer "+cmd1)
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("draft: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		if status, m := f.do(t, "POST", "/v1/rulesets/henan-health-code/1/approve", cmd1, ""); status != 403 {
			t.Errorf("self-approval: %d %v", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/rulesets/henan-health-code/1/approve", cmd2, ""); status != 403 {
			t.Errorf("city officer approving a province ruleset: %d %v", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/rulesets/henan-health-code/1/approve", f.login(t, "login-o_cmd1"), ""); status != 403 {
			t.Errorf("drafter with a new session: %d %v", status, m)
		}
		if err := f.db.CreateOfficial(system, healthcode.Official{ID: "o_cmd3", Name: "吴十", Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-o_cmd3", password); err != nil {
			t.Fatal(err)
		}
		if status, m := f.do(t, "POST", "/v1/rulesets/henan-health-code/1/approve", f.login(t, "login-o_cmd3"), ""); status != 200 || m["status"] != "published" {
			t.Fatalf("approve: %d %v", status, m)
		}
		if status, m := f.do(t, "GET", "/v1/rulesets/henan-health-code/1", "", ""); status != 200 || !strings.Contains(fmt.Sprint(m["source"]), "positive-pcr") {
			t.Errorf("public ruleset: %d", status)
		}

		day := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
		pcr := func(id, subject, result string) string {
			return fmt.Sprintf(`{"id":%q,"kind":"test_result","subject":%q,"observed_at":%q,"payload":{"method":"pcr","result":%q,"sampled_at":%q,"lab":"x"}}`,
				id, subject, day, result, day)
		}
		// NDJSON with a blank line: errors name the submitter's lines.
		body := pcr("a", "r_res1", "positive") + "\n\n" + `{"id":"b","kind":"test_result","subject":"r_res1","observed_at":"` + day + `","payload":{"method":"pcr"},"extra":1}` + "\n" + pcr("c", "r_nobody", "negative") + "\n"
		status, m := f.do(t, "POST", "/v1/facts", key, body)
		details, _ := m["error"].(map[string]any)["details"].([]any)
		if status != 400 || len(details) != 1 || details[0].(map[string]any)["line"] != 3.0 {
			t.Fatalf("malformed NDJSON: %d %v", status, m)
		}
		body = pcr("a", "r_res1", "positive") + "\n\n" + pcr("c", "r_nobody", "negative") + "\n"
		status, m = f.do(t, "POST", "/v1/facts", key, body)
		details, _ = m["error"].(map[string]any)["details"].([]any)
		if status != 400 || len(details) != 1 || details[0].(map[string]any)["line"] != 3.0 || details[0].(map[string]any)["field"] != "subject" {
			t.Fatalf("unknown subject: %d %v", status, m)
		}
		// The public and other residents cannot submit; a good batch lands.
		if status, _ := f.do(t, "POST", "/v1/facts", "", "["+pcr("a", "r_res1", "positive")+"]"); status != 401 {
			t.Errorf("public submitting: %d", status)
		}
		if status, _ := f.do(t, "POST", "/v1/facts", res1, "["+pcr("a", "r_res1", "positive")+"]"); status != 403 {
			t.Errorf("resident submitting: %d", status)
		}
		status, m = f.do(t, "POST", "/v1/facts", key, "["+pcr("a", "r_res1", "positive")+"]")
		if status != 200 || m["codes_changed"] != 1.0 {
			t.Fatalf("submit: %d %v", status, m)
		}

		// The resident sees red, why, and who; an official's read is logged.
		status, m = f.do(t, "GET", "/v1/residents/r_res1/code?lang=en", res1, "")
		if status != 200 || m["colour"] != "red" || m["label"] != "Red code" || m["rule"] != "positive-pcr" || m["reason_text"] == "" {
			t.Fatalf("code: %d %v", status, m)
		}
		facts := m["facts"].([]any)
		if rb := facts[0].(map[string]any)["recorded_by"].(map[string]any); rb["name"] != "实验室" || rb["kind"] != "source" {
			t.Errorf("recorded by %v", rb)
		}
		status, m = f.do(t, "GET", "/v1/residents/r_res1/history", res1, "")
		if status != 200 || len(m["changes"].([]any)) != 1 {
			t.Errorf("history: %d %v", status, m)
		}
		if status, _ := f.do(t, "GET", "/v1/residents/r_res2/code", res1, ""); status != 403 {
			t.Errorf("other resident's code: %d", status)
		}
	})
}
