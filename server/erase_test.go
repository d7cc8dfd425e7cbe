package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestEraseRoute: one data operator asks, a second approves; the resident's
// session and login end and their name is no longer served.
func TestEraseRoute(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		if err := f.db.CreateOfficial(system, healthcode.Official{ID: "o_op2", Name: "孙八", Role: healthcode.RoleOperator, Jurisdiction: "410000"}, "login-o_op2", password); err != nil {
			t.Fatal(err)
		}
		op, op2 := f.login(t, "login-o_op"), f.login(t, "login-o_op2")
		res := f.login(t, "login-r_res2")
		worker := f.login(t, "login-o_worker1")
		reason := `{"reason":"the resident asked for erasure"}`
		if status, m := f.do(t, "POST", "/v1/residents/r_res2/erase", worker, reason); status != 403 {
			t.Errorf("worker: %d %v", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/residents/r_res2/erase", op, `{"reason":""}`); status != 400 {
			t.Errorf("no reason: %d %v", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/residents/r_res2/erase", op, reason); status != 202 || m["status"] != "requested" {
			t.Fatalf("request: %d %v", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/residents/r_res2/erase", op, reason); status != 409 {
			t.Errorf("same operator again: %d %v", status, m)
		}
		if status, m := f.do(t, "GET", "/v1/residents/r_res2", res, ""); status != 200 || !strings.Contains(m["name"].(string), "王") {
			t.Errorf("before approval the resident reads: %d %v", status, m)
		}
		if status, m := f.do(t, "POST", "/v1/residents/r_res2/erase", op2, reason); status != 200 || m["status"] != "erased" {
			t.Fatalf("approve: %d %v", status, m)
		}
		if status, _ := f.do(t, "GET", "/v1/residents/r_res2", res, ""); status != 401 {
			t.Errorf("the erased resident's session still reads: %d", status)
		}
		if status, _ := f.do(t, "POST", "/v1/sessions", "", `{"login":"login-r_res2","password":"`+password+`"}`); status != 401 {
			t.Errorf("the erased resident still logs in: %d", status)
		}
		if p, err := f.db.CheckErasures(context.Background()); err != nil || len(p) > 0 {
			t.Errorf("CheckErasures: %v %v", p, err)
		}
	})
}
