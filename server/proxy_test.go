package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

// TestLoginLimitsBehindProxy checks that failed logins are limited per
// client address: behind a trusted reverse proxy the address its
// X-Forwarded-For header names, and the peer's otherwise, whatever the
// header says (a client can write it). The web login form counts the
// same way as the API.
//
// The clock stands still: the delay a second failure starts (a second)
// must not run out between the failures and the attempts it refuses, which
// it did on a loaded machine; nor may a password check wait out its queue
// (LoginQueueWait) behind the others' argon2.
func TestLoginLimitsBehindProxy(t *testing.T) {
	now := time.Now()
	db, err := store.Open(context.Background(), testdb.SQLite(t), store.Options{Logger: quiet, Now: func() time.Time { return now },
		Limits: store.Limits{LoginFailuresPerAddress: 2, LoginFailuresPerAccount: 100, LoginQueueWait: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateJurisdictions(system, []healthcode.Jurisdiction{{Code: "410000", Name: "中原省", Level: healthcode.Province}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o_a", "o_b", "o_c", "o_d"} {
		if err := db.CreateOfficial(system, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleAuditor, Jurisdiction: "410000"}, "login-"+id, password); err != nil {
			t.Fatal(err)
		}
	}
	// login posts a wrong (or the right) password for login through the
	// API or the form, with an X-Forwarded-For header, and returns the
	// status.
	login := func(t *testing.T, base, login string, right, form bool, forwarded string) int {
		t.Helper()
		pw := "not the password"
		if right {
			pw = password
		}
		var req *http.Request
		if form {
			// The form's CSRF token is the one its cookie holds.
			req, _ = http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"login": {login}, "password": {pw}, "csrf": {"t"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "hc_csrf", Value: "t"})
		} else {
			req, _ = http.NewRequest("POST", base+"/v1/sessions", strings.NewReader(fmt.Sprintf(`{"login":%q,"password":%q}`, login, pw)))
		}
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Behind a trusted proxy (the test server's peer is 127.0.0.1).
	behind := apitest.Server(t, server.New(db, server.Config{Logger: quiet, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}))
	if s := login(t, behind.URL, "login-o_a", false, false, "203.0.113.1"); s != 401 {
		t.Fatalf("first failure: %d", s)
	}
	if s := login(t, behind.URL, "login-o_b", false, true, "198.51.100.7, 203.0.113.1"); s != 401 {
		t.Fatalf("second failure, through the form: %d", s)
	}
	for _, tc := range []struct {
		name      string
		login     string
		form      bool
		forwarded string
		want      int
	}{
		{"same client, API", "login-o_c", false, "203.0.113.1", 429},
		{"same client, form", "login-o_c", true, "203.0.113.1", 429},
		{"same client behind a second trusted proxy", "login-o_c", false, "203.0.113.1, 127.0.0.2", 429},
		{"another client", "login-o_c", false, "203.0.113.2", 201},
		{"another client, form", "login-o_d", true, "203.0.113.2", 303},
		{"a spoofed first hop does not help", "login-o_d", false, "203.0.113.2, 203.0.113.1", 429},
	} {
		if s := login(t, behind.URL, tc.login, true, tc.form, tc.forwarded); s != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, s, tc.want)
		}
	}

	// Without trusted proxies the header is ignored: all the above came
	// from 127.0.0.1 as far as this server can tell.
	direct := apitest.Server(t, server.New(db, server.Config{Logger: quiet}))
	if s := login(t, direct.URL, "login-o_d", false, false, "192.0.2.1"); s != 401 {
		t.Fatalf("failure: %d", s)
	}
	if s := login(t, direct.URL, "login-o_d", false, false, "192.0.2.2"); s != 401 {
		t.Fatalf("failure: %d", s)
	}
	if s := login(t, direct.URL, "login-o_d", true, false, "192.0.2.3"); s != 429 {
		t.Errorf("a client naming a fresh address in X-Forwarded-For: %d, want 429", s)
	}
}
