package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/loadgen"
)

func TestRun(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer b" {
			w.WriteHeader(401)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	tests := []struct {
		name            string
		bearer          string
		max             int
		wantOK, wantBad int
	}{
		{"ok", "b", 500, 500, 0},
		{"unauthorised", "x", 50, 0, 50},
	}
	for _, tt := range tests {
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Addr: addr, Conns: 4, Duration: 10 * time.Second, MaxRequests: tt.max,
			Request: func(conn, n int) (string, string) { return "/x", tt.bearer },
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != tt.wantOK || res.Errors != tt.wantBad {
			t.Errorf("%s: %v (%s), want %d ok %d errors", tt.name, res, res.FirstErr, tt.wantOK, tt.wantBad)
		}
	}
	if _, err := loadgen.Run(context.Background(), loadgen.Config{Addr: "192.0.2.1:80", Request: func(int, int) (string, string) { return "/", "" }}); err == nil {
		t.Error("a non-loopback address was accepted")
	}
}

// TestRunStamp: with Stamp, each request carries X-Sent-At, the wall
// clock in unix microseconds as it was written; without, none.
func TestRunStamp(t *testing.T) {
	var mu sync.Mutex
	var stamps []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stamps = append(stamps, r.Header.Get("X-Sent-At"))
		mu.Unlock()
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, stamp := range []bool{false, true} {
		stamps = nil
		t0 := time.Now()
		if _, err := loadgen.Run(context.Background(), loadgen.Config{Addr: addr, Conns: 2, MaxRequests: 20, Stamp: stamp,
			Request: func(conn, n int) (string, string) { return "/x", "" }}); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		mu.Lock()
		if len(stamps) != 20 {
			t.Fatalf("stamp %v: %d requests, want 20", stamp, len(stamps))
		}
		for _, s := range stamps {
			if !stamp {
				if s != "" {
					t.Errorf("without Stamp: X-Sent-At %q", s)
				}
				continue
			}
			us, err := strconv.ParseInt(s, 10, 64)
			if at := time.UnixMicro(us); err != nil || at.Before(t0.Truncate(time.Microsecond)) || at.After(t1) {
				t.Errorf("X-Sent-At %q, want the wall clock in microseconds between %v and %v", s, t0, t1)
			}
		}
		mu.Unlock()
	}
}
