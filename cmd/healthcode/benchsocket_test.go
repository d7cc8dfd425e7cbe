package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/loadgen"
)

// TestSocketTimer: the overload's timer at the server's socket counts
// each answer by its request's class and by shed (503, 429) or served
// (2xx), times it from the read of its first bytes to its answer's
// write (a handler that takes 20 ms takes at least that), and from the
// client's X-Sent-At to that read; it counts nothing while off.
func TestSocketTimer(t *testing.T) {
	classes := []string{"other", "slow", "busy"}
	sock := newSocketTimer(classes, func(line []byte) int {
		switch {
		case bytes.HasPrefix(line, []byte("GET /slow ")):
			return 1
		case bytes.HasPrefix(line, []byte("GET /busy ")):
			return 2
		}
		return 0
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(20 * time.Millisecond) // measured, not waited for
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/limited":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		}
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sock.wrap(ln)) }()
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
	}()
	run := func(stamp bool, paths ...string) {
		t.Helper()
		if _, err := loadgen.Run(context.Background(), loadgen.Config{Addr: ln.Addr().String(), Conns: 1, MaxRequests: 4 * len(paths), Stamp: stamp,
			Request: func(conn, n int) (string, string) { return paths[n%len(paths)], "" }}); err != nil {
			t.Fatal(err)
		}
	}
	run(true, "/slow") // off: not counted
	sock.on.Store(true)
	t0 := time.Now()
	run(true, "/slow", "/busy", "/limited", "/missing")
	stamped := time.Since(t0)
	run(false, "/busy")
	sock.on.Store(false)

	slow, slowBefore := sock.times("slow", false)
	if len(slow) != 4 || len(slowBefore) != 4 {
		t.Fatalf("served /slow: %d answers, %d with X-Sent-At, want 4 and 4", len(slow), len(slowBefore))
	}
	if slow[0] < 20*time.Millisecond {
		t.Errorf("a handler of 20 ms answered in %v", slow[0])
	}
	if slowBefore[0] < 0 || slowBefore[3] > stamped {
		t.Errorf("before the server read them: %v, want between 0 and the run's %v", slowBefore, stamped)
	}
	if busy, before := sock.times("busy", true); len(busy) != 8 || len(before) != 4 {
		t.Errorf("shed /busy: %d answers, %d with X-Sent-At, want 8 (4 of them unstamped) and 4", len(busy), len(before))
	}
	if other, _ := sock.times("other", true); len(other) != 4 {
		t.Errorf("429 answers: %d counted as shed, want 4", len(other))
	}
	if all, _ := sock.times("", false); len(all) != 4 {
		t.Errorf("%d served answers in all, want the 4 of /slow (a 404 is neither served nor shed)", len(all))
	}
}

func TestSentAt(t *testing.T) {
	for _, tt := range []struct {
		head string
		want int64
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Sent-At: 1700000000123456\r\n\r\n", 1700000000123456000},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nX-Sent-At: soon\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nX-Sent-At: 17", 0}, // cut off
	} {
		if got := sentAt([]byte(tt.head)); got != tt.want {
			t.Errorf("sentAt(%q) = %d, want %d", tt.head, got, tt.want)
		}
	}
}
