package server_test

import (
	"net/url"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
)

// TestPeopleAPI: a community worker finds the residents of their community
// by name and lists its roster; a resident of another community stays
// unseen, and roles that read no residents are refused. Responses are
// validated against api/openapi.yaml.
func TestPeopleAPI(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		worker := f.login(t, "login-o_worker1")
		op := f.login(t, "login-o_op")
		tests := []struct {
			name, path, token string
			status, people    int
		}{
			{"search by name", "/v1/residents?q=" + url.QueryEscape("王"), worker, 200, 1},
			{"search by phone", "/v1/residents?q=13900000000", worker, 200, 1},
			{"search page 2", "/v1/residents?q=" + url.QueryEscape("王") + "&page=2", worker, 200, 0},
			{"search without q", "/v1/residents", worker, 400, -1},
			{"search bad page", "/v1/residents?q=x&page=0", worker, 400, -1},
			{"operator may not search", "/v1/residents?q=" + url.QueryEscape("王"), op, 403, -1},
			{"search logged out", "/v1/residents?q=x", "", 401, -1},
			{"roster", "/v1/roster", worker, 200, 1},
			{"operator has no roster", "/v1/roster", op, 403, -1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, m := f.do(t, "GET", tt.path, tt.token, "")
				if status != tt.status {
					t.Fatalf("GET %s: %d %v, want %d", tt.path, status, m, tt.status)
				}
				if tt.people >= 0 {
					if ps, _ := m["people"].([]any); len(ps) != tt.people {
						t.Errorf("GET %s: %d people, want %d: %v", tt.path, len(ps), tt.people, m)
					}
				}
			})
		}
	})
}
