package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// syncBuffer is a log sink safe for the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustAdmissionServer(t testing.TB, adm map[Class]Admission) (*Server, *syncBuffer) {
	t.Helper()
	db, err := store.Open(context.Background(), testdb.SQLite(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var logs syncBuffer
	return New(db, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Admission: adm}), &logs
}

// TestAdmissionSheds: a flood of one class beyond its bounds (in flight,
// then a queue with a wait) is answered at once with 503, Retry-After and
// a JSON error, counted and logged; a queued request is served when a slot
// frees. (A queued request shed when its wait runs out is
// TestAdmissionQueueWaitBounded's: here the wait is longer than any
// machine takes to shed the 200, for a queued request shed before the
// slot frees would never enter, and the test would hang on a loaded
// machine, as it once did with a wait of 300 ms.)
func TestAdmissionSheds(t *testing.T) {
	s, logs := mustAdmissionServer(t, map[Class]Admission{ClassReads: {InFlight: 2, Queue: 1, Wait: time.Hour}})
	entered := make(chan struct{}, 10)
	unblock := make(chan struct{})
	h := s.instrument("GET /v1/test", s.admit(ClassReads, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-unblock
		w.WriteHeader(http.StatusNoContent)
	})))
	do := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/test", nil))
		return rec
	}
	results := make(chan int, 3)
	for range 2 {
		go func() { results <- do().Code }()
		<-entered
	}
	go func() { results <- do().Code }() // waits in the queue
	for deadline := time.Now().Add(5 * time.Second); s.admission.gates[ClassReads].waiting.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the third request is not waiting in the queue")
		}
	}
	// In flight and queue full: every further request is shed at once.
	var took []time.Duration
	for range 200 {
		t0 := time.Now()
		rec := do()
		took = append(took, time.Since(t0))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("over the bounds: %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"))
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "unavailable" {
			t.Fatalf("shed body %q: %v", rec.Body, err)
		}
	}
	// The median: a shared machine's scheduler may stop any one call.
	slices.Sort(took)
	if med := took[len(took)/2]; med > time.Millisecond {
		t.Errorf("shedding took %v at the median, want well under a millisecond", med)
	}
	var m dto.Metric
	if err := s.admission.shed.WithLabelValues("reads").Write(&m); err != nil || m.GetCounter().GetValue() != 200 {
		got := m.GetCounter().GetValue()
		t.Errorf("healthcode_admission_shed_total{class=reads} = %v, want 200", got)
	}
	if !strings.Contains(logs.String(), `"msg":"shedding load","class":"reads"`) {
		t.Errorf("no shedding log line: %s", logs)
	}
	// One slot frees: the queued request is served.
	unblock <- struct{}{}
	<-entered
	if code := <-results; code != 204 {
		t.Errorf("first in flight: %d", code)
	}
	close(unblock)
	for range 2 {
		if code := <-results; code != 204 {
			t.Errorf("in flight or queued: %d, want 204", code)
		}
	}
}

// TestAdmissionQueueWaitBounded: a queued request whose wait runs out is
// shed.
func TestAdmissionQueueWaitBounded(t *testing.T) {
	s, _ := mustAdmissionServer(t, map[Class]Admission{ClassPages: {InFlight: 1, Queue: 5, Wait: 30 * time.Millisecond}})
	unblock := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := s.admit(ClassPages, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-unblock
	}))
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/stats", nil))
		close(done)
	}()
	<-entered
	req := httptest.NewRequest("GET", "/stats", nil)
	req.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	t0 := time.Now()
	h.ServeHTTP(rec, req)
	if d := time.Since(t0); rec.Code != 503 || d < 30*time.Millisecond || d > time.Second {
		t.Errorf("queued past its wait: %d after %v, want 503 after 30ms", rec.Code, d)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(rec.Body.String(), "lang=\"zh-CN\"") {
		t.Errorf("a page is shed with a page in zh-CN: %s %q", ct, rec.Body)
	}
	close(unblock)
	<-done
}

// TestAdmissionShedsWithoutWaiting: the insider's surge keeps a class
// full. Once a queued request has been shed after its wait, the next
// requests that find the class full are answered 503 at once, over a real
// connection, while the admitted handler is still blocked: they do not
// wait in the queue for a slot that is not coming. After the hold one
// request at a time may queue; each served from the queue lets twice as
// many wait, up to the bound (a slow start). The one shed after its wait
// is counted apart.
func TestAdmissionShedsWithoutWaiting(t *testing.T) {
	const wait = time.Second
	s, _ := mustAdmissionServer(t, map[Class]Admission{ClassReads: {InFlight: 1, Queue: 8, Wait: wait}})
	g := s.admission.gates[ClassReads]
	g.hold = 3 * time.Second
	entered := make(chan struct{}, 8)
	unblock := make(chan struct{})
	srv := httptest.NewServer(s.instrument("GET /v1/test", s.admit(ClassReads, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-unblock
		w.WriteHeader(http.StatusNoContent)
	}))))
	defer srv.Close()
	get := func() (int, time.Duration) {
		t.Helper()
		t0 := time.Now()
		resp, err := srv.Client().Get(srv.URL + "/v1/test")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, time.Since(t0)
	}
	admitted := make(chan int, 4)
	go func() { code, _ := get(); admitted <- code }()
	<-entered // the class is full, and stays full
	// The first request to find it full queues, and is shed after its wait.
	if code, d := get(); code != 503 || d < wait {
		t.Fatalf("a queued request: %d after %v, want 503 after its wait of %v", code, d, wait)
	}
	// The queue has room, but it is not draining: shed at once.
	var took []time.Duration
	for range 10 {
		code, d := get()
		if code != 503 {
			t.Fatalf("with the class full: %d, want 503", code)
		}
		took = append(took, d)
	}
	slices.Sort(took)
	// Coarse bounds for a shared machine: a shed that waited for a slot
	// takes the whole wait (1 s).
	if med, worst := took[len(took)/2], took[len(took)-1]; med > 50*time.Millisecond || worst > wait/2 {
		t.Errorf("sheds with the queue standing took %v at the median and %v at worst, want at once (the wait is %v)", med, worst, wait)
	}
	if w := g.waiting.Load(); w != 0 {
		t.Errorf("%d requests queued while the class sheds at once", w)
	}
	// After the hold, one request queues; a second is shed at once.
	g.overUntil.Store(time.Now().UnixNano())
	go func() { code, _ := get(); admitted <- code }()
	waitQueued := func(n int64, what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); g.waiting.Load() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d queued, want %d", what, g.waiting.Load(), n)
			}
		}
	}
	waitQueued(1, "after the hold, a request does not queue")
	if code, d := get(); code != 503 || d > wait/2 {
		t.Errorf("a second request on probation: %d after %v, want 503 at once", code, d)
	}
	// The slot frees: the queued request is served, and now two may wait
	// (a slow start), not the whole queue: a third is shed at once.
	unblock <- struct{}{}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the request queued on probation was not served when the slot freed")
	}
	if got := g.allow.Load(); got != 2 {
		t.Errorf("served one from the queue after a wait ran out: %d may wait, want 2", got)
	}
	// (The first request held its slot for seconds, so drainable would let
	// none wait: the holds are made short, for the slow start alone.)
	g.held.Store(int64(time.Millisecond))
	for range 2 {
		go func() { code, _ := get(); admitted <- code }()
	}
	waitQueued(2, "after one was served from the queue, two do not queue")
	if code, d := get(); code != 503 || d > wait/2 {
		t.Errorf("a third request with two let wait: %d after %v, want 503 at once", code, d)
	}
	close(unblock)
	for range 4 {
		if code := <-admitted; code != 204 {
			t.Errorf("admitted: %d, want 204", code)
		}
	}
	// The two queued when two might wait each double that: 4.
	if got := g.allow.Load(); got != 4 {
		t.Errorf("after two more served from the queue %d may wait, want 4", got)
	}
	var m dto.Metric
	if err := g.timedOut.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("healthcode_admission_timed_out_total = %v, want 1 (the request shed after its wait)", got)
	}
}

// TestAdmissionQueueDrains: the queue takes only the requests that can
// be admitted within the wait at the rate slots free. With one slot whose
// requests hold it 60 ms on average and a wait of 150 ms, two queued
// requests drain in time: a third, for which the queue still has room,
// is shed at once instead of waiting out the wait to be shed (a batch
// shed took 650 ms at p99 under overload, BENCHMARKS.md).
func TestAdmissionQueueDrains(t *testing.T) {
	const wait = 150 * time.Millisecond
	s, _ := mustAdmissionServer(t, map[Class]Admission{ClassIngest: {InFlight: 1, Queue: 8, Wait: wait}})
	g := s.admission.gates[ClassIngest]
	if got := g.drainable(); got != 8 {
		t.Errorf("before any request was admitted the queue takes %d, want its bound 8", got)
	}
	for range 20 {
		g.observe(60 * time.Millisecond)
	}
	if got := g.drainable(); got != 2 {
		t.Fatalf("with holds of 60 ms, in flight 1 and a wait of 150 ms the queue takes %d, want 2", got)
	}
	ctx := context.Background()
	if !g.acquire(ctx) {
		t.Fatal("the free slot was not taken")
	}
	results := make(chan bool, 2)
	for i := range 2 {
		go func() { results <- g.acquire(ctx) }()
		for deadline := time.Now().Add(5 * time.Second); g.waiting.Load() != int64(i+1); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("request %d does not queue", i+2)
			}
		}
	}
	t0 := time.Now()
	if g.acquire(ctx) {
		t.Fatal("a third queued request was admitted with the slot held")
	}
	if d := time.Since(t0); d > wait/2 {
		t.Errorf("a request beyond what drains in the wait was shed after %v, want at once (the wait is %v)", d, wait)
	}
	// The queued two are served as the slot frees, one after the other.
	g.release(time.Now())
	for range 2 {
		if !<-results {
			t.Error("a request queued within what drains was shed")
			continue
		}
		g.release(time.Now())
	}
}

// TestAdmissionReadsDoNotQueue: by default a read that finds its class
// full is shed at once: it does not queue, whatever the wait (before, 128
// per core queued for 20 ms and, with the cores stalled, were shed after
// it).
func TestAdmissionReadsDoNotQueue(t *testing.T) {
	s, _ := mustAdmissionServer(t, map[Class]Admission{ClassReads: {InFlight: 1, Wait: time.Hour}})
	g := s.admission.gates[ClassReads]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !g.acquire(ctx) {
		t.Fatal("the free slot was not taken")
	}
	t0 := time.Now()
	if g.acquire(ctx) {
		t.Fatal("admitted with the slot held")
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("a read with its class full was shed after %v, want at once (no queue)", d)
	}
	g.release(time.Now())
}

// TestAdmissionIngestApart: a source's batch (an API key) is admitted as
// ingestion, apart from hand-entered writes on the same route.
func TestAdmissionIngestApart(t *testing.T) {
	s, _ := mustAdmissionServer(t, map[Class]Admission{ClassIngest: {InFlight: 1, Queue: -1}})
	unblock := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := s.admit(routeClass("POST /v1/facts"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-unblock
	}))
	post := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/facts", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	done := make(chan struct{})
	go func() { post("hck_source"); close(done) }()
	<-entered
	if rec := post("hck_other"); rec.Code != 503 {
		t.Errorf("a second batch with ingestion full: %d, want 503", rec.Code)
	}
	go func() { post("hcs_official") }()
	select {
	case <-entered: // a hand-entered write is not held up by the sources
	case <-time.After(5 * time.Second):
		t.Error("a hand-entered write waited for ingestion")
	}
	close(unblock)
	<-done
}

// TestRouteClasses: every route has a class; health, readiness and
// metrics are never shed.
func TestRouteClasses(t *testing.T) {
	s, _ := mustAdmissionServer(t, nil)
	want := map[string]Class{
		"GET /healthz": "", "GET /readyz": "", "GET /metrics": "",
		"GET /v1/residents/{id}/token": ClassReads, "GET /v1/residents/{id}/code": ClassReads, "GET /log/": ClassReads,
		"POST /v1/facts": ClassWrites, "POST /v1/facts/{key}/approve": ClassWrites, "POST /appeals/{id}/decide": ClassWrites,
		"POST /v1/sessions": ClassLogins, "POST /login": ClassLogins,
		"POST /v1/rulesets": ClassExpensive, "POST /rulesets/new": ClassExpensive,
		"GET /{$}": ClassPages, "GET /static/{file}": ClassPages,
	}
	seen := map[string]bool{}
	for _, rt := range s.routeTable() {
		c := routeClass(rt.pattern)
		if w, ok := want[rt.pattern]; ok {
			seen[rt.pattern] = true
			if c != w {
				t.Errorf("%s: class %q, want %q", rt.pattern, c, w)
			}
		}
		if c != "" && s.admission.gates[c] == nil {
			t.Errorf("%s: class %q has no gate", rt.pattern, c)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("route %s is gone: update the test", p)
		}
	}
	// Saturate every class: health and readiness still answer.
	for _, g := range s.admission.gates {
		for range cap(g.slots) {
			g.slots <- struct{}{}
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code == 503 && strings.Contains(rec.Body.String(), "busy") {
			t.Errorf("%s shed with every class full", p)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/stats", nil))
	if rec.Code != 503 {
		t.Errorf("/v1/stats with reads full: %d, want 503", rec.Code)
	}
}

func TestParseAdmission(t *testing.T) {
	got, err := ParseAdmission("reads=64/256/20ms, logins=//1s,pages=4/0/")
	if err != nil {
		t.Fatal(err)
	}
	want := map[Class]Admission{ClassReads: {64, 256, 20 * time.Millisecond}, ClassLogins: {Wait: time.Second}, ClassPages: {InFlight: 4, Queue: -1}}
	if !equalAdmission(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	b := admissionBounds(got)
	if b[ClassPages].Queue != 0 || b[ClassPages].InFlight != 4 || b[ClassLogins].InFlight != DefaultAdmission()[ClassLogins].InFlight {
		t.Errorf("merged bounds %v", b)
	}
	for _, bad := range []string{"reads", "tokens=1/1/1s", "reads=1/1", "reads=0/1/1s", "reads=1/x/1s", "reads=1/1/forever", "reads=1/1/2h"} {
		if _, err := ParseAdmission(bad); err == nil {
			t.Errorf("ParseAdmission(%q) accepted", bad)
		}
	}
}

func equalAdmission(a, b map[Class]Admission) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// BenchmarkAdmit is what admission adds to a request that is admitted
// (a slot taken and given back) and to one that is shed, beside a
// handler called directly. Run:
//
//	go test -run '^$' -bench Admit ./server
func BenchmarkAdmit(b *testing.B) {
	s, _ := mustAdmissionServer(b, map[Class]Admission{ClassReads: {InFlight: 1 << 16}, ClassPages: {InFlight: 1, Queue: -1}})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	req := httptest.NewRequest("GET", "/v1/stats", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"direct", ok}, {"admitted", s.admit(ClassReads, ok)}, {"shed", s.admit(ClassPages, ok)}} {
		if bc.name == "shed" {
			s.admission.gates[ClassPages].slots <- struct{}{}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					bc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
