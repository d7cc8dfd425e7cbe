package server_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// keyedPost posts body to path with bearer and, if key is not empty, an
// Idempotency-Key; it returns the status, the Idempotent-Replayed header
// and the body.
func keyedPost(c *http.Client, url, bearer, key, contentType, body string) (int, string, string, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), string(b), nil
}

// TestCreateRetry is a create whose answer is lost after it committed (a
// dropped connection), retried with the same Idempotency-Key: the retry
// gets the lost answer, marked Idempotent-Replayed, and the log holds one
// entry; the same key with another body is 422 and does nothing; a
// retry without a key behaves as it always did.
func TestCreateRetry(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		w := mustAuthzWorld(t, f)
		cmdp1 := f.login(t, "login-o_cmdp1")
		draft := func(v string) string {
			return strings.Replace(string(rules.DefaultSource()), "version: 1", "version: "+v, 1)
		}
		const jsonType = "application/json"
		for _, c := range []struct {
			name, path, bearer, contentType, body string
			status                                int
			kind                                  tlog.Kind
			otherBody                             string
			// Without a key, a retry: how many more entries, and its status.
			unkeyed       int
			unkeyedStatus int
		}{
			{"file an appeal", "/v1/appeals", w["self"], jsonType,
				`{"resident":"r_res1","fact_keys":["` + w["fact"] + `"],"statement":"那天我不在那里"}`, 201, tlog.KindAppealFiled,
				`{"resident":"r_res1","fact_keys":["` + w["fact"] + `"],"statement":"那天我在家"}`, 1, 201},
			{"draft a ruleset", "/v1/rulesets", cmdp1, "application/yaml", draft("3"), 201, tlog.KindRulesetDrafted,
				draft("4"), 0, 409},
			{"retract a fact", "/v1/facts/" + w["fact"] + "/retract", w["tracer"], jsonType, `{"reason":"entered in error"}`, 200, tlog.KindFactRetracted,
				`{"reason":"the wrong resident"}`, 0, 409},
			{"disable an official", "/v1/officials/o_spare/disable", w["admin"], jsonType, `{"reason":"left the post"}`, 204, tlog.KindOfficialDisabled,
				`{"reason":"left the post in May"}`, 0, 409},
			{"re-enable an official", "/v1/officials/o_spare/enable", w["admin"], jsonType, `{"reason":"back at the post"}`, 204, tlog.KindOfficialEnabled,
				`{"reason":"back at the post in June"}`, 0, 409},
			{"ask to erase a resident", "/v1/residents/r_res2/erase", w["admin"], jsonType, `{"reason":"moved away"}`, 202, tlog.KindLogEraseRequested,
				`{"reason":"moved away in 2021"}`, 0, 409},
		} {
			t.Run(c.name, func(t *testing.T) {
				key := `"` + strings.ReplaceAll(c.name, " ", "-") + `-7f3a"`
				before := logKinds(t, f.db)[c.kind]
				lost := &losingTransport{}
				if _, _, _, err := keyedPost(&http.Client{Transport: lost}, f.ts.URL+c.path, c.bearer, key, c.contentType, c.body); !errors.Is(err, errAnswerLost) {
					t.Fatalf("first attempt: %v, want the answer lost", err)
				}
				if lost.status != c.status {
					t.Fatalf("first attempt (answer lost): %d %s, want %d", lost.status, lost.body, c.status)
				}
				status, replayed, body, err := keyedPost(http.DefaultClient, f.ts.URL+c.path, c.bearer, key, c.contentType, c.body)
				if err != nil {
					t.Fatal(err)
				}
				if status != lost.status || body != lost.body || replayed != "true" {
					t.Errorf("retry: %d %s (Idempotent-Replayed %q)\nwant the lost answer: %d %s (true)", status, body, replayed, lost.status, lost.body)
				}
				if n := logKinds(t, f.db)[c.kind] - before; n != 1 {
					t.Errorf("%d %s entries after the create and its retry, want 1", n, c.kind)
				}
				status, _, body, err = keyedPost(http.DefaultClient, f.ts.URL+c.path, c.bearer, key, c.contentType, c.otherBody)
				if err != nil || status != 422 || !strings.Contains(body, "was used for a different request") {
					t.Errorf("the same key, another body: %d %s %v, want 422", status, body, err)
				}
				if n := logKinds(t, f.db)[c.kind] - before; n != 1 {
					t.Errorf("%d %s entries after the same key with another body, want 1", n, c.kind)
				}
				status, _, body, err = keyedPost(http.DefaultClient, f.ts.URL+c.path, c.bearer, "", c.contentType, c.body)
				if err != nil || status != c.unkeyedStatus {
					t.Errorf("a retry without a key: %d %s %v, want %d", status, body, err, c.unkeyedStatus)
				}
				if n := logKinds(t, f.db)[c.kind] - before; n != 1+c.unkeyed {
					t.Errorf("%d %s entries after a retry without a key, want %d", n, c.kind, 1+c.unkeyed)
				}
			})
		}
		t.Run("record a hand-entered fact (keyed by its id)", func(t *testing.T) {
			// Facts need no Idempotency-Key: their ids are the client's
			// keys. A retry is answered "duplicate" and stores nothing.
			day := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
			b := fmt.Sprintf(`{"id":"c-retry","kind":"contact","subject":"r_res1","observed_at":%q,"evidence":"flow report 7","payload":{"level":"close","case_id":"C-1","exposed_at":%q}}`,
				day.Format(time.RFC3339), day.Format(time.RFC3339))
			before := logKinds(t, f.db)[tlog.KindFactRecorded]
			lost := &losingTransport{}
			if _, _, _, err := keyedPost(&http.Client{Transport: lost}, f.ts.URL+"/v1/facts", w["tracer"], "", jsonType, b); !errors.Is(err, errAnswerLost) || lost.status != 200 {
				t.Fatalf("first attempt: %v %d %s, want the answer (200) lost", err, lost.status, lost.body)
			}
			status, _, body, err := keyedPost(http.DefaultClient, f.ts.URL+"/v1/facts", w["tracer"], "", jsonType, b)
			if err != nil || status != 200 || !strings.Contains(body, `"status":"duplicate"`) {
				t.Errorf("retry: %d %s %v, want 200 duplicate", status, body, err)
			}
			if n := logKinds(t, f.db)[tlog.KindFactRecorded] - before; n != 1 {
				t.Errorf("%d fact.recorded entries after the fact and its retry, want 1", n)
			}
		})
		t.Run("keys are each actor's", func(t *testing.T) {
			// Another resident's request with the same key is theirs: it
			// is not answered with r_res1's appeal (nor refused as reused).
			res2 := w["other"]
			status, replayed, body, err := keyedPost(http.DefaultClient, f.ts.URL+"/v1/appeals", res2, `"file-an-appeal-7f3a"`, jsonType,
				`{"resident":"r_res2","fact_keys":["nope"],"statement":"不对"}`)
			if err != nil || status != 400 || replayed != "" {
				t.Errorf("another actor, the same key: %d %s (Idempotent-Replayed %q) %v, want their own 400", status, body, replayed, err)
			}
		})
		t.Run("bad keys", func(t *testing.T) {
			for _, key := range []string{`""`, strings.Repeat("k", 256), "a b", "ключ"} {
				status, _, body, err := keyedPost(http.DefaultClient, f.ts.URL+"/v1/officials/o_spare/enable", w["admin"], key, jsonType, `{"reason":"back again"}`)
				if err != nil || status != 400 || !strings.Contains(body, "Idempotency-Key") {
					t.Errorf("key %q: %d %s %v, want 400 naming the header", key, status, body, err)
				}
			}
		})
	})
}
