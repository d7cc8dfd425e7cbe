package server_test

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/token"
)

// TestTokenIsNoKey plays the shop, the guard or the stranger who scans a
// resident's code (issue 15 item 3): every value the token carries is tried
// on every public route that takes a key, and none may be accepted. A
// token that carried the resident's id or the log index of their code
// state opened their history in the explorer. The claims are read by
// reflection, so whatever a token carries is tried.
func TestTokenIsNoKey(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		ts := mustTokenServer(t, f.db, "cn-41")
		res1 := f.login(t, "login-r_res1")
		texts := []string{mustToken(t, ts.URL, "r_res1", res1)}
		var values []string
		for _, text := range texts {
			tk, err := token.Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, text, tk.KeyID)
			c := reflect.ValueOf(tk.Claims)
			for i := range c.NumField() {
				switch v := c.Field(i).Interface().(type) {
				case time.Time:
					values = append(values, fmt.Sprint(v.Unix()))
				case fmt.Stringer:
					values = append(values, v.String())
				default:
					values = append(values, fmt.Sprint(v))
				}
			}
		}
		routes := []string{"/v1/log/entries/%s", "/explorer/entries/%s", "/explorer/goto?index=%s", "/v1/facts/%s", "/v1/appeals/%s",
			"/v1/residents/%s/token", "/v1/residents/%s/appeals", "/v1/residents/%s/access", "/residents/%s", "/residents/find?id=%s",
			"/v1/rulesets/%s/1", "/v1/trust/lists/%s", "/appeals/%s"}
		for _, v := range values {
			if v == "" {
				continue
			}
			for _, r := range routes {
				path := fmt.Sprintf(r, url.PathEscape(v))
				if strings.Contains(r, "?") {
					path = fmt.Sprintf(r, url.QueryEscape(v))
				}
				// Pages that need a session answer with the login form.
				status, b := get(t, ts.URL+path, "")
				if status < 300 && !strings.Contains(string(b), `action="/login"`) {
					t.Errorf("the token's value %q is a key: GET %s answers %d", v, path, status)
				}
			}
		}
	})
}
