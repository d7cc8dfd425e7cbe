package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
