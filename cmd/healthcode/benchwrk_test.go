package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWrkScriptByStatus: the script bench overload --wrk gives wrk counts
// 2xx, 503/429 and other statuses apart, times each request, sends each
// resident's bearer token with its path, stamps each request with the
// wall clock (X-Sent-At, for the server's socket timer) and paces its
// connections.
// Skipped where wrk is not installed.
func TestWrkScriptByStatus(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	var n, badAuth, badStamp atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/residents/"), "/token")
		if r.Header.Get("Authorization") != "Bearer s-"+id {
			badAuth.Add(1)
		}
		if sent := sentAt([]byte("\r\nX-Sent-At: " + r.Header.Get("X-Sent-At") + "\r\n")); time.Since(time.Unix(0, sent)).Abs() > time.Minute {
			badStamp.Add(1)
		}
		switch n.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			time.Sleep(30 * time.Millisecond) // admitted ones are slower here
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	reqs := [][2]string{{"/v1/residents/r1/token", "s-r1"}, {"/v1/residents/r2/token", "s-r2"}}
	const conns, rate = 2, 50 // 100 requests a second in all
	res, err := runWrk(context.Background(), wrk, t.TempDir(), strings.TrimPrefix(srv.URL, "http://"), conns, rate, time.Second, reqs)
	if err != nil {
		t.Fatal(err)
	}
	total := res.OK + res.Shed + res.Other
	if total == 0 || int64(total) > n.Load() {
		t.Fatalf("wrk counted %d responses, the server answered %d", total, n.Load())
	}
	// A quarter each of 200, 503, 429 and 404 (a connection's last request
	// may be cut off when the run ends).
	if d := res.Shed - 2*res.OK; d < -4 || d > 4 || res.Other < res.OK-2 || res.Other > res.OK+2 {
		t.Errorf("counted %d ok, %d shed, %d other: want the shed twice the ok and the other as many as the ok", res.OK, res.Shed, res.Other)
	}
	if res.FirstOther != 404 {
		t.Errorf("first other status %d, want 404", res.FirstOther)
	}
	if res.OKP50 < 30*time.Millisecond || res.OKP50 > 5*time.Second || res.ShedP50 >= res.OKP50 {
		t.Errorf("ok p50 %v (the handler sleeps 30ms), shed p50 %v: the script does not time each request by its status", res.OKP50, res.ShedP50)
	}
	if badAuth.Load() != 0 {
		t.Errorf("%d requests without their resident's bearer token", badAuth.Load())
	}
	if badStamp.Load() != 0 {
		t.Errorf("%d requests without X-Sent-At, the wall clock in microseconds", badStamp.Load())
	}
	// Paced: 2 connections at 50/s for a second, not as fast as they can.
	if total > 3*conns*rate {
		t.Errorf("%d requests in a second from %d connections paced to %d/s", total, conns, rate)
	}
	if len(res.OKLat) != res.OK || len(res.ShedLat) != res.Shed || !slices.IsSorted(res.OKLat) || !slices.IsSorted(res.ShedLat) {
		t.Errorf("latencies read: %d ok, %d shed, for %d and %d counted (sorted: %v, %v)", len(res.OKLat), len(res.ShedLat), res.OK, res.Shed,
			slices.IsSorted(res.OKLat), slices.IsSorted(res.ShedLat))
	}
	if res.MaxRSS <= 0 {
		t.Errorf("wrk's peak RSS not read: %d", res.MaxRSS)
	}
}

// TestParseWrk: the script's line is required, and read.
func TestParseWrk(t *testing.T) {
	out := "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 2 connections\n" +
		"healthcode-wrk ok=10 shed=20 other=0 ok_p50=1500 ok_p99=9000 shed_p50=120 shed_p99=800 shed_max=900 first_other=0\nRequests/sec: 30\n"
	res, err := parseWrk(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 10 || res.Shed != 20 || res.OKP99 != 9*time.Millisecond || res.ShedP99 != 800*time.Microsecond || res.Max != 900*time.Microsecond ||
		!strings.Contains(res.Output, "Requests/sec") || strings.Contains(res.Output, "healthcode-wrk") {
		t.Errorf("parsed %+v", res)
	}
	if _, err := parseWrk(strings.NewReader("Running 1s test\n")); err == nil || !strings.Contains(err.Error(), "no healthcode-wrk line") {
		t.Errorf("without the script's line: %v", err)
	}
	if _, err := parseWrk(strings.NewReader("healthcode-wrk ok=x\n")); err == nil {
		t.Error("a bad number accepted")
	}
}
