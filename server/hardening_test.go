package server_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
)

// TestMetricMethodsBounded: 100 requests with made-up methods add at most
// a few series (method "other"), not one each.
func TestMetricMethodsBounded(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	series := func() int {
		t.Helper()
		resp, err := http.Get(f.ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Count(string(b), "\nhealthcode_http_requests_total{")
	}
	f.do(t, "GET", "/v1/stats", "", "")
	before := series()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		m := fmt.Sprintf("M%dX%d", i, rng.Uint32())
		for _, path := range []string{"/v1/stats", "/nowhere"} {
			req, _ := http.NewRequest(m, f.ts.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	if after := series(); after > before+4 {
		t.Errorf("100 made-up methods: %d request series, %d before", after, before)
	}
}

// TestPrivateResponsesNotStored: answers with personal data or a session
// token say no-store, and every answer nosniff.
func TestPrivateResponsesNotStored(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	res1 := f.login(t, "login-r_res1")
	for _, tc := range []struct {
		name, method, path, token, body string
		noStore                         bool
	}{
		{"login", "POST", "/v1/sessions", "", `{"login":"login-r_res1","password":"correct horse battery"}`, true},
		{"own code", "GET", "/v1/residents/r_res1/code", res1, "", true},
		{"own token (503: no signing key)", "GET", "/v1/residents/r_res1/token", res1, "", true},
		{"public statistics", "GET", "/v1/stats", "", "", false},
	} {
		req, _ := http.NewRequest(tc.method, f.ts.URL+tc.path, strings.NewReader(tc.body))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Cache-Control") == "no-store"; got != tc.noStore || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%d): Cache-Control %q, X-Content-Type-Options %q", tc.name, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"))
		}
	}
}
