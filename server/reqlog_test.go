package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/server"
)

// TestRequestLogLines: each request's log lines carry its request id and
// the actor its credentials name (bearer token or page session), also the
// request line written outside the layer that authenticated.
func TestRequestLogLines(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	var buf syncBuffer
	srv := server.New(f.db, server.Config{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ts := apitest.Server(t, srv)
	res1 := f.login(t, "login-r_res1")
	for _, tc := range []struct {
		path, bearer, cookie, requestID, wantActor, wantMsg string
	}{
		{"/v1/residents/r_res1", res1, "", "rid-own", "resident:r_res1", "request"},
		{"/v1/residents/r_res2", res1, "", "rid-other", "resident:r_res1", "request denied"},
		{"/residents/r_res1", "", res1, "rid-page", "resident:r_res1", "request"},
		{"/v1/stats", "", "", "rid-public", "public", "request"},
	} {
		req, _ := http.NewRequest("GET", ts.URL+tc.path, nil)
		req.Header.Set("X-Request-Id", tc.requestID)
		if tc.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: "hc_session", Value: tc.cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		found := false
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			if rec["request_id"] != tc.requestID {
				continue
			}
			if rec["actor"] != tc.wantActor {
				t.Errorf("%s: line %q: actor %v, want %s", tc.path, line, rec["actor"], tc.wantActor)
			}
			found = found || rec["msg"] == tc.wantMsg
		}
		if !found {
			t.Errorf("%s: no %q line with request id %s in:\n%s", tc.path, tc.wantMsg, tc.requestID, buf.String())
		}
	}
}
