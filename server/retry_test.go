package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// losingTransport delivers each request and reads the server's whole
// answer (so the write has committed), then loses it: the client sees a
// broken connection, as when a proxy or the network drops the response.
type losingTransport struct {
	status int
	body   string
}

var errAnswerLost = errors.New("connection reset: the answer was lost")

func (l *losingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	l.status, l.body = resp.StatusCode, string(b)
	return nil, errAnswerLost
}

// logKinds counts the log's entries by kind.
func logKinds(t *testing.T, db *store.DB) map[tlog.Kind]int {
	t.Helper()
	ctx := context.Background()
	cp, err := db.LogCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.ParseInt(strings.SplitN(string(cp), "\n", 3)[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := db.ReadLeaves(ctx, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[tlog.Kind]int{}
	for i, l := range leaves {
		e, err := tlog.ParseEntry(l)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		kinds[e.Kind]++
	}
	return kinds
}

// TestDecisionRetry is an official's decision whose answer is lost after
// it committed (a dropped connection), retried by the client as it
// should: the retry gets the same answer and the log holds the decision
// once. A different decision, or the same one by another official, is
// still refused as a conflict, not taken for a retry.
func TestDecisionRetry(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		w := mustAuthzWorld(t, f)
		cmdp1, cmdp2 := f.login(t, "login-o_cmdp1"), f.login(t, "login-o_cmdp2")
		post := func(c *http.Client, path, bearer, body string) (int, string, error) {
			req, _ := http.NewRequest("POST", f.ts.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+bearer)
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				return 0, "", err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b), nil
		}
		for _, d := range []struct {
			name, path, bearer, body string
			kind                     tlog.Kind
			// Not retries: another decision, the same by someone else.
			other, otherBearer, otherBody string
		}{
			{"approve a fact", "/v1/facts/" + w["fact"] + "/approve", w["command-in"], `{}`, tlog.KindFactApproved,
				"/v1/facts/" + w["fact"] + "/reject", w["command-in"], `{"reason":"no evidence"}`},
			{"deny an appeal", "/v1/appeals/" + w["appeal"] + "/deny", cmdp1, `{"reason":"the evidence holds"}`, tlog.KindAppealDecided,
				"/v1/appeals/" + w["appeal"] + "/deny", cmdp2, `{"reason":"the evidence holds"}`},
			{"approve a ruleset", "/v1/rulesets/henan-health-code/2/approve", cmdp2, `{}`, tlog.KindRulesetPublished,
				"/v1/rulesets/henan-health-code/2/refuse", cmdp2, `{"reason":"not needed"}`},
		} {
			t.Run(d.name, func(t *testing.T) {
				before := logKinds(t, f.db)[d.kind]
				lost := &losingTransport{}
				if _, _, err := post(&http.Client{Transport: lost}, d.path, d.bearer, d.body); !errors.Is(err, errAnswerLost) {
					t.Fatalf("first attempt: %v, want the answer lost", err)
				}
				if lost.status != 200 {
					t.Fatalf("first attempt (answer lost): %d %s", lost.status, lost.body)
				}
				status, body, err := post(http.DefaultClient, d.path, d.bearer, d.body)
				if err != nil {
					t.Fatal(err)
				}
				if status != lost.status || body != lost.body {
					t.Errorf("retry: %d %s\nwant the lost answer: %d %s", status, body, lost.status, lost.body)
				}
				if n := logKinds(t, f.db)[d.kind] - before; n != 1 {
					t.Errorf("%d %s entries after the decision and its retry, want 1", n, d.kind)
				}
				if status, body, err := post(http.DefaultClient, d.other, d.otherBearer, d.otherBody); err != nil || status != 409 {
					t.Errorf("POST %s after the decision: %d %s %v, want 409", d.other, status, body, err)
				}
			})
		}
	})
}
