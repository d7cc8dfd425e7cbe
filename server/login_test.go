package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/server"
)

// TestLoginFailuresDoNotLockOutTheOwner: five anonymous failures on an
// account from address A slow A down (429 with Retry-After) but the owner
// logs in from address B at once.
func TestLoginFailuresDoNotLockOutTheOwner(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	ts := apitest.Server(t, server.New(f.db, server.Config{Logger: quiet, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}))
	login := func(pw, from string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL+"/v1/sessions", strings.NewReader(fmt.Sprintf(`{"login":"login-o_op","password":%q}`, pw)))
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for range 5 {
		if resp := login("a wrong guess!", "203.0.113.1"); resp.StatusCode != 401 {
			t.Fatalf("failure from A: %d", resp.StatusCode)
		}
	}
	if resp := login(password, "203.0.113.1"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("sixth attempt from A: %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := login(password, "198.51.100.2"); resp.StatusCode != 201 {
		t.Errorf("the owner from B: %d, want 201", resp.StatusCode)
	}
}
