package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
)

// costlyDraft is a ruleset file of about 250 KB whose check costs seconds
// of CPU: hundreds of rules, each type-checked, cost-estimated and run.
func costlyDraft() string {
	var b strings.Builder
	b.WriteString("id: costly\nversion: 1\nscope: \"410000\"\nlegal_basis: {number: \"1\", title: t}\neffective_at: 2022-06-28T00:00:00+08:00\nexamples: []\nrules:\n")
	for i := 0; b.Len() < 250<<10-400; i++ {
		fmt.Fprintf(&b, "  - id: r%d\n    colour: red\n    reason: {zh-CN: 测, en: t}\n    condition: \"facts.test_results.exists(a, facts.test_results.exists(b, a.sampled_at < b.sampled_at && a.method == b.method && b.result == 'positive'))\"\n", i)
	}
	return b.String()
}

// TestResidentDraftRefusedFirst is the resident-run checker (issue 13): a
// resident who posts a costly 250 KB draft is refused (403) before the
// checker runs. The refusal is timed: under 10 ms on a quiet machine; the
// test allows 100 ms for a loaded one (the check itself takes seconds).
// The same goes for a resident posting a batch of facts: refused before
// the batch is parsed and validated.
func TestResidentDraftRefusedFirst(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		tok := f.login(t, "login-r_res1")
		body := costlyDraft()
		best := time.Hour
		for range 3 {
			req, _ := http.NewRequest("POST", f.ts.URL+"/v1/rulesets", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/yaml")
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("a resident's draft: %d, want 403", resp.StatusCode)
			}
			best = min(best, took)
		}
		t.Logf("refused in %v (best of 3)", best)
		if best > 100*time.Millisecond {
			t.Errorf("a resident's draft was refused after %v: the checker ran before the permission check", best)
		}
		status, m := f.do(t, "POST", "/v1/facts", tok, `[{"id":"x","kind":"test_result","subject":"r_res2","payload":{}}]`)
		if status != http.StatusForbidden {
			t.Errorf("a resident's facts: %d %v, want 403", status, m)
		}
	})
}
