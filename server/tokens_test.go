package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/token"
)

var keySecret = []byte("correct horse battery staple")

// mustTokenServer starts a token-issuing server over f's database.
func mustTokenServer(t *testing.T, db *store.DB, issuer string) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv := server.New(db, server.Config{Logger: quiet, KeySecret: keySecret, Issuer: issuer, KeyPoll: 20 * time.Millisecond})
	if err := srv.StartTokens(ctx); err != nil {
		t.Fatal(err)
	}
	ts := apitest.Server(t, srv)
	return ts
}

func get(t *testing.T, url, bearer string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mustTrust fetches a server's trust-list key and list.
func mustTrust(t *testing.T, base string) (ed25519.PublicKey, *token.TrustList, []byte) {
	t.Helper()
	status, b := get(t, base+"/v1/trust/key", "")
	if status != 200 {
		t.Fatalf("trust key: %d %s", status, b)
	}
	var k struct {
		Public string `json:"public_key"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	pub, err := token.ParsePublicKey(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	status, env := get(t, base+"/v1/trust", "")
	if status != 200 {
		t.Fatalf("trust list: %d %s", status, env)
	}
	tl, err := token.ParseTrustList(env, pub)
	if err != nil {
		t.Fatal(err)
	}
	return pub, tl, env
}

func mustToken(t *testing.T, base, id, bearer string) string {
	t.Helper()
	status, b := get(t, base+"/v1/residents/"+id+"/token", bearer)
	if status != 200 {
		t.Fatalf("token: %d %s", status, b)
	}
	var m struct{ Token string }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Token
}

func TestTokenIssue(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		ts := mustTokenServer(t, f.db, "cn-41")
		res1 := f.login(t, "login-r_res1")
		res2 := f.login(t, "login-r_res2")
		worker := f.login(t, "login-o_worker1")

		tests := []struct {
			name, base, path, token string
			status                  int
			code                    string
		}{
			{"self", ts.URL, "/v1/residents/r_res1/token", res1, 200, ""},
			{"self png", ts.URL, "/v1/residents/r_res1/token?format=png&lang=en", res1, 200, ""},
			{"other resident", ts.URL, "/v1/residents/r_res2/token", res1, 403, healthcode.EFORBIDDEN},
			{"worker of the community", ts.URL, "/v1/residents/r_res1/token", worker, 403, healthcode.EFORBIDDEN},
			{"public", ts.URL, "/v1/residents/r_res1/token", "", 401, healthcode.EUNAUTH},
			{"forged session", ts.URL, "/v1/residents/r_res1/token", "hcs_forged", 401, healthcode.EUNAUTH},
			{"bad format", ts.URL, "/v1/residents/r_res1/token?format=gif", res1, 400, healthcode.EINVALID},
			{"bad lang", ts.URL, "/v1/residents/r_res1/token?lang=fr", res1, 400, healthcode.EINVALID},
			{"no key secret", f.ts.URL, "/v1/residents/r_res1/token", res1, 503, healthcode.EUNAVAIL},
			{"trust list", ts.URL, "/v1/trust", "", 200, ""},
			{"unknown imported list", ts.URL, "/v1/trust/lists/cn-99", "", 404, healthcode.ENOTFOUND},
		}
		for _, tt := range tests {
			status, b := get(t, tt.base+tt.path, tt.token)
			var m map[string]any
			if !strings.Contains(tt.path, "format=png") {
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
			}
			if status != tt.status || errCode(m) != tt.code {
				t.Errorf("%s: %d %q (%.200s), want %d %q", tt.name, status, errCode(m), b, tt.status, tt.code)
			}
		}

		// The token verifies offline against the published trust list, and
		// the same one is served again (pre-signed, not re-signed).
		_, tl, _ := mustTrust(t, ts.URL)
		if tl.Issuer != "cn-41" || tl.Version != 1 {
			t.Errorf("trust list %s v%d", tl.Issuer, tl.Version)
		}
		v := &token.Verifier{Lists: []*token.TrustList{tl}}
		text := mustToken(t, ts.URL, "r_res1", res1)
		c, err := v.Verify(text)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Nonce) != 32 || len(c.Binding) != 32 || c.Name != "王*" || c.Colour != healthcode.Green || c.ExpiresAt.Sub(c.IssuedAt) != token.DefaultValidity {
			t.Errorf("claims: %+v", c)
		}
		if again := mustToken(t, ts.URL, "r_res1", res1); again != text {
			t.Errorf("a fresh token was re-signed")
		}
		// The QR code decodes back to the token.
		_, img := get(t, ts.URL+"/v1/residents/r_res1/token?format=png", res1)
		got, err := token.Decode(bytes.NewReader(img))
		if err != nil || got != text {
			t.Errorf("PNG decodes to %q, %v; want the token", got, err)
		}
		// Logging out ends the cached session at once.
		if status, _ := f.do(t, "DELETE", "/v1/sessions", "", ""); status != 401 {
			t.Fatalf("logout without session: %d", status)
		}
		req, _ := http.NewRequest("DELETE", ts.URL+"/v1/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+res2)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
			t.Fatalf("logout: %v %v", resp, err)
		}
		if status, _ := get(t, ts.URL+"/v1/residents/r_res2/token", res2); status != 401 {
			t.Errorf("token after logout: %d, want 401", status)
		}
	})
}

// TestTokenRotationAPI is the rotation drill through the store and the API:
// a token issued before a rotation verifies with the new trust list; after
// the old key's revocation, none of its tokens does.
func TestTokenRotationAPI(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		ts := mustTokenServer(t, f.db, "")
		res1 := f.login(t, "login-r_res1")
		before := mustToken(t, ts.URL, "r_res1", res1)
		old, _ := token.Parse(before)

		if _, err := f.db.RotateKey(system, keySecret); err != nil {
			t.Fatal(err)
		}
		// The server notices within its poll interval.
		var after string
		for deadline := time.Now().Add(10 * time.Second); ; {
			after = mustToken(t, ts.URL, "r_res1", res1)
			if p, _ := token.Parse(after); p.KeyID != old.KeyID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the server still signs with the rotated-out key")
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, v2, _ := mustTrust(t, ts.URL)
		if v2.Version != 2 {
			t.Fatalf("trust list version %d after rotation", v2.Version)
		}
		v := &token.Verifier{Lists: []*token.TrustList{v2}}
		for _, tok := range []string{before, after} {
			if _, err := v.Verify(tok); err != nil {
				t.Errorf("after rotation: %v", err)
			}
		}
		if err := f.db.RevokeKey(system, keySecret, old.KeyID); err != nil {
			t.Fatal(err)
		}
		_, v3, _ := mustTrust(t, ts.URL)
		if err := v.Update(v3); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(before); !errors.Is(err, token.ErrRevokedKey) {
			t.Errorf("token of the revoked key: %v", err)
		}
		if _, err := v.Verify(after); err != nil {
			t.Errorf("token of the new key: %v", err)
		}
	})
}

// TestMutualRecognition: a verifier that pins only our trust-list key
// verifies the tokens of a province whose list we imported.
func TestMutualRecognition(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ours := mustFixture(t, dsn)
		oursTS := mustTokenServer(t, ours.db, "cn-41")
		theirs := mustFixture(t, testdb.SQLite(t))
		theirsTS := mustTokenServer(t, theirs.db, "cn-42")

		theirPin, _, theirList := mustTrust(t, theirsTS.URL)
		if _, err := ours.db.ImportTrustList(system, keySecret, theirList, theirPin); err != nil {
			t.Fatal(err)
		}
		theirToken := mustToken(t, theirsTS.URL, "r_res1", theirs.login(t, "login-r_res1"))

		// The verifier's side: pin our key, learn theirs from us.
		ourPin, ourList, _ := mustTrust(t, oursTS.URL)
		_, rec := get(t, oursTS.URL+"/v1/trust/recognised", "")
		r, err := store.ParseRecognition(rec, ourPin)
		if err != nil {
			t.Fatal(err)
		}
		cache := &token.Cache{Dir: t.TempDir(), Pins: map[string]ed25519.PublicKey{ourList.Issuer: ourPin}}
		for _, ri := range r.Issuers {
			cache.Pins[ri.Issuer] = ri.TrustKey
			status, env := get(t, oursTS.URL+"/v1/trust/lists/"+ri.Issuer, "")
			if status != 200 {
				t.Fatalf("imported list %s: %d", ri.Issuer, status)
			}
			if _, err := cache.Put(env); err != nil {
				t.Fatal(err)
			}
		}
		lists, err := cache.Load()
		if err != nil {
			t.Fatal(err)
		}
		if len(lists) != 1 || lists[0].Issuer != "cn-42" {
			t.Fatalf("cached lists: %+v", lists)
		}
		v := &token.Verifier{Lists: append(lists, ourList)}
		if c, err := v.Verify(theirToken); err != nil || c.Name != "王*" {
			t.Errorf("their token: %v %+v", err, c)
		}
		if _, err := v.Verify(mustToken(t, oursTS.URL, "r_res1", ours.login(t, "login-r_res1"))); err != nil {
			t.Errorf("our token: %v", err)
		}
	})
}
