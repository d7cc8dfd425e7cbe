package web_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
)

// TestLocalTime: an officer who enters 10:00 on the record form sees 10:00
// on the desk of the officer who approves it (the store keeps UTC, 02:00), and the page names the zone once.
func TestLocalTime(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn, false)
		cmd := f.client(t)
		cmd.login("login-o_cmd1")
		day := time.Now().In(time.FixedZone("UTC+8", 8*3600)).Add(-24 * time.Hour).Format("2006-01-02")
		resp, body := cmd.do("POST", "/record", url.Values{"csrf": {cmd.csrf("/record")}, "kind": {"case_status"}, "subject": {"r_res1"},
			"status": {"confirmed"}, "observed_at": {day + "T10:00"}, "case_id": {"ZY-LOCAL-1"}})
		if resp.StatusCode != 200 || !strings.Contains(body, `id="done"`) {
			t.Fatalf("record: %d\n%.2000s", resp.StatusCode, body)
		}
		other := f.client(t)
		other.login("login-o_cmd2")
		_, desk := other.do("GET", "/command", nil)
		if !strings.Contains(desk, day+" 10:00") {
			t.Errorf("the desk does not show the time entered, %s 10:00:\n%s", day, desk)
		}
		if strings.Contains(desk, day+" 02:00") || strings.Contains(desk, " UTC<") {
			t.Errorf("the desk shows UTC")
		}
		if n := strings.Count(desk, "Asia/Shanghai"); n != 1 {
			t.Errorf("the zone is named %d times, want once", n)
		}
	})
}
