package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
)

// TestLoginRefusedCrossOrigin: a form posted from another site is refused
// even with a valid token (the token alone stops a forged form; the
// browser's word on where a request comes from stops it too).
func TestLoginRefusedCrossOrigin(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		tests := []struct {
			name    string
			headers map[string]string
			want    int
		}{
			{"same origin", map[string]string{"Origin": f.ts.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
			{"no browser headers", nil, http.StatusSeeOther},
			{"other site by Sec-Fetch-Site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
			{"other site by Origin", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := f.client(t)
				form := url.Values{"csrf": {c.csrf("/login")}, "login": {"login-r_res1"}, "password": {password}}
				req, err := http.NewRequest("POST", f.ts.URL+"/login", strings.NewReader(form.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for k, v := range tt.headers {
					req.Header.Set(k, v)
				}
				resp, err := c.hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.want {
					t.Errorf("POST /login: %d, want %d", resp.StatusCode, tt.want)
				}
			})
		}
	})
}
