package server_test

import (
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestPasswordRoutes: an official changes their password with the old
// one; an admin resets a worker's; the answers are as the API says.
func TestPasswordRoutes(t *testing.T) {
	f := mustFixture(t, testdb.SQLite(t))
	if err := f.db.CreateOfficial(system, healthcode.Official{ID: "o_admin", Name: "管理员", Role: healthcode.RoleAdmin, Jurisdiction: "410000"}, "login-o_admin", password); err != nil {
		t.Fatal(err)
	}
	op := f.login(t, "login-o_op")
	if code, body := f.do(t, "POST", "/v1/password", op, `{"old_password":"wrong wrong wrong","new_password":"a brand new password"}`); code != 401 {
		t.Errorf("wrong old password: %d %v", code, body)
	}
	if code, body := f.do(t, "POST", "/v1/password", op, `{"old_password":"`+password+`","new_password":"short"}`); code != 400 || errCode(body) != "invalid" {
		t.Errorf("short new password: %d %v", code, body)
	}
	if code, body := f.do(t, "POST", "/v1/password", op, `{"old_password":"`+password+`","new_password":"a brand new password"}`); code != 204 {
		t.Fatalf("change: %d %v", code, body)
	}
	if code, _ := f.do(t, "GET", "/v1/jurisdictions", op, ""); code != 401 {
		t.Errorf("the session after the change: %d, want 401", code)
	}
	admin := f.login(t, "login-o_admin")
	if code, body := f.do(t, "POST", "/v1/officials/o_worker1/password", admin, `{"reason":"forgot it","password":"a reset password!"}`); code != 204 {
		t.Fatalf("reset: %d %v", code, body)
	}
	if code, body := f.do(t, "POST", "/v1/sessions", "", `{"login":"login-o_worker1","password":"a reset password!"}`); code != 201 {
		t.Errorf("login with the reset password: %d %v", code, body)
	}
}
