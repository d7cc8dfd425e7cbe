package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
)

func TestAppealsAPI(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		tok := mustAuthzWorld(t, f)
		self, worker, cmd := tok["self"], tok["worker-in"], tok["command-in"]

		// The resident files with an attachment; its hash is kept.
		data := []byte("%PDF-1.4 discharge certificate")
		sum := sha256.Sum256(data)
		body := fmt.Sprintf(`{"resident":"r_res1","fact_keys":[%q],"statement":"我没有接触过病例","attachments":[{"name":"cert.pdf","media_type":"application/pdf","data":%q}]}`,
			tok["fact"], base64.StdEncoding.EncodeToString(data))
		status, m := f.do(t, "POST", "/v1/appeals", self, body)
		if status != http.StatusCreated || m["status"] != "open" || m["deadline"] == nil {
			t.Fatalf("file: %d %v", status, m)
		}
		id := m["id"].(string)
		att := m["attachments"].([]any)[0].(map[string]any)
		if att["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("attachment %v", att)
		}
		code, raw := doRaw(t, f.ts.URL, "GET", "/v1/appeals/"+id+"/attachments/0", self, "")
		if code != 200 || string(raw) != string(data) {
			t.Errorf("attachment download: %d %q", code, raw)
		}

		// A worker files for the resident; the resident confirms.
		status, m = f.do(t, "POST", "/v1/appeals", worker, fmt.Sprintf(`{"resident":"r_res1","fact_keys":[%q],"statement":"居民委托申诉"}`, tok["fact"]))
		if status != http.StatusCreated || m["status"] != "awaiting_consent" {
			t.Fatalf("worker files: %d %v", status, m)
		}
		id2 := m["id"].(string)
		if status, m = f.do(t, "POST", "/v1/appeals/"+id2+"/consent", self, ""); status != 200 || m["status"] != "open" || m["consent"] != "confirmed" {
			t.Fatalf("consent: %d %v", status, m)
		}

		// The officer's queue, soonest deadline first; deny needs a reason.
		status, m = f.do(t, "GET", "/v1/appeals?status=open", cmd, "")
		if q := m["appeals"].([]any); status != 200 || len(q) != 3 || q[1].(map[string]any)["id"] != id {
			t.Fatalf("queue: %d %v", status, m)
		}
		if status, m = f.do(t, "POST", "/v1/appeals/"+id2+"/deny", cmd, ""); status != 400 {
			t.Errorf("deny without reason: %d %v", status, m)
		}
		if status, m = f.do(t, "POST", "/v1/appeals/"+id2+"/deny", cmd, `{"reason":"重复申诉"}`); status != 200 || m["status"] != "denied" {
			t.Errorf("deny: %d %v", status, m)
		}
		if status, m = f.do(t, "POST", "/v1/appeals/"+id+"/grant", cmd, ""); status != 200 || m["status"] != "granted" {
			t.Fatalf("grant: %d %v", status, m)
		}

		// The resident sees every step and who read their data.
		status, m = f.do(t, "GET", "/v1/residents/r_res1/appeals", self, "")
		if status != 200 || len(m["appeals"].([]any)) != 3 {
			t.Fatalf("resident's appeals: %d %v", status, m)
		}
		status, m = f.do(t, "GET", "/v1/appeals/"+id, self, "")
		steps := m["steps"].([]any)
		if status != 200 || len(steps) != 2 || steps[1].(map[string]any)["by"].(map[string]any)["name"] != "指挥甲" {
			t.Errorf("steps: %d %v", status, m)
		}
		status, m = f.do(t, "GET", "/v1/residents/r_res1/access", self, "")
		acc := m["accesses"].([]any)
		if status != 200 || len(acc) == 0 || acc[0].(map[string]any)["by"].(map[string]any)["id"] != "o_cmdin" {
			t.Errorf("access log: %d %v", status, m)
		}

		// Many reads: the access log comes a bounded page at a time.
		for i := 0; i < 25; i++ {
			if status, _ := f.do(t, "GET", "/v1/residents/r_res1/code", cmd, ""); status != 200 {
				t.Fatalf("read %d: %d", i, status)
			}
		}
		status, m = f.do(t, "GET", "/v1/residents/r_res1/access", self, "")
		if status != 200 || len(m["accesses"].([]any)) != 20 || m["more"] != true || m["page"] != float64(1) {
			t.Errorf("access log, page 1: %d, %d reads, more %v", status, len(m["accesses"].([]any)), m["more"])
		}
		status, m = f.do(t, "GET", "/v1/residents/r_res1/access?page=2", self, "")
		if status != 200 || len(m["accesses"].([]any)) == 0 || len(m["accesses"].([]any)) > 20 || m["page"] != float64(2) {
			t.Errorf("access log, page 2: %d %v", status, m)
		}
		for _, path := range []string{"/v1/residents/r_res1/access?page=0", "/v1/residents/r_res1/history?page=x", "/v1/appeals?page=-1", "/v1/facts/pending?page=1000001"} {
			who := self
			if path[4] != 'r' {
				who = cmd
			}
			if status, m = f.do(t, "GET", path, who, ""); status != 400 {
				t.Errorf("%s: %d %v, want 400", path, status, m)
			}
		}

		// Public statistics suppress small counts.
		status, m = f.do(t, "GET", "/v1/stats", "", "")
		if status != 200 || m["appeals"].(map[string]any)["filed"] != nil || m["codes"].(map[string]any)["410000"] == nil {
			t.Errorf("stats: %d %v", status, m)
		}
		if status, m = f.do(t, "GET", "/v1/alerts", tok["auditor"], ""); status != 200 || m["alerts"] == nil {
			t.Errorf("alerts: %d %v", status, m)
		}

		// Login limits; disabling an account ends its sessions.
		for i := 0; i < 5; i++ {
			if status, _ := f.do(t, "POST", "/v1/sessions", "", `{"login":"login-o_aud","password":"not the password"}`); status != 401 {
				t.Fatalf("bad password %d: %d", i, status)
			}
		}
		if status, m := f.do(t, "POST", "/v1/sessions", "", fmt.Sprintf(`{"login":"login-o_aud","password":%q}`, password)); status != 429 {
			t.Errorf("sixth login: %d %v", status, m)
		}
		spare := f.login(t, "login-o_spare")
		if status, _ := f.do(t, "GET", "/v1/jobs", spare, ""); status != 200 {
			t.Fatalf("spare's session: %d", status)
		}
		if status, m := f.do(t, "POST", "/v1/officials/o_spare/disable", tok["operator"], `{"reason":"left the post"}`); status != 204 {
			t.Fatalf("disable: %d %v", status, m)
		}
		if status, _ := f.do(t, "GET", "/v1/jobs", spare, ""); status != 401 {
			t.Errorf("disabled official's session: %d", status)
		}
	})
}
