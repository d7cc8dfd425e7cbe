package server

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/healthcode/healthcode/server/web"
)

// Admission control. Every route but health, readiness and metrics
// belongs to a class of work (Class); each class admits a bounded number
// of requests at once, and a bounded number more wait a bounded time for
// one of them to finish. Beyond that a request is answered at once, before
// its body is read or its credentials are looked up, with 503 and
// Retry-After: 1, counted (healthcode_admission_shed_total) and logged
// (at most once a second per class, "shedding load"). Once a queued
// request's wait has run out, the queue is not draining: for the next
// second (the Retry-After the shed clients were given) a request that
// finds its class full is shed at once instead of queueing only to be
// shed after the wait; then one request at a time may queue, and each
// admitted from the queue lets twice as many wait as before, up to the
// bound (a slow start: a queue opened whole at once would fill, and under
// a load that has not gone away its requests would all wait out the wait;
// a wait running out again holds it another second and lets one wait).
// Under sustained overload a shed is answered in microseconds, not in the
// class's wait; the few shed after waiting are counted apart
// (healthcode_admission_timed_out_total). Nor does the queue
// take more than drain within the wait at the rate slots free (the
// class's in flight over the moving average of how long a request holds
// its slot: drainable); a request beyond that is shed at once. So a
// surge of one kind of work (residents opening their codes at once) is
// served at the capacity of the machine instead of queueing without end,
// and does not starve the others (an official's decision, a source's
// batch).
// docs/operations.md says how the defaults were sized.

// Class is a kind of work admitted on its own.
type Class string

// The classes.
const (
	ClassReads     Class = "reads"     // API reads: tokens, codes, residents, the log, trust lists
	ClassIngest    Class = "ingest"    // fact batches from sources (POST /v1/facts with an API key)
	ClassWrites    Class = "writes"    // hand-entered facts, decisions, appeals, every other write
	ClassLogins    Class = "logins"    // POST /v1/sessions and the login page (argon2)
	ClassExpensive Class = "expensive" // ruleset drafts (compile, check, dry run)
	ClassPages     Class = "pages"     // HTML pages and their static files
)

// Classes lists the classes.
var Classes = []Class{ClassReads, ClassIngest, ClassWrites, ClassLogins, ClassExpensive, ClassPages}

// Admission bounds one class: InFlight requests at once; up to Queue more
// wait at most Wait for one to finish. A zero field takes its default.
type Admission struct {
	InFlight int
	Queue    int
	Wait     time.Duration
}

func (a Admission) String() string {
	return fmt.Sprintf("%d/%d/%s", a.InFlight, a.Queue, a.Wait)
}

// DefaultAdmission returns the default bounds of every class, sized to
// GOMAXPROCS (docs/operations.md: measured with `healthcode bench
// overload` on a 2-core machine). Reads do not queue: a read is short,
// and when 32 per core are in flight the cores are stalled (a GC cycle,
// a login's argon2): a queued read would wait out its wait as often as
// not, to be shed after it (BENCHMARKS.md, "Where a shed's time goes,
// from both sides"). The wait applies if a queue is configured.
func DefaultAdmission() map[Class]Admission {
	p := runtime.GOMAXPROCS(0)
	return map[Class]Admission{
		ClassReads:     {InFlight: 32 * p, Queue: 0, Wait: 20 * time.Millisecond},
		ClassIngest:    {InFlight: 4 * p, Queue: 16 * p, Wait: 500 * time.Millisecond},
		ClassWrites:    {InFlight: 4 * p, Queue: 16 * p, Wait: 500 * time.Millisecond},
		ClassLogins:    {InFlight: p, Queue: 4 * p, Wait: 200 * time.Millisecond},
		ClassExpensive: {InFlight: max(1, p/2), Queue: 2 * p, Wait: time.Second},
		ClassPages:     {InFlight: 8 * p, Queue: 32 * p, Wait: 100 * time.Millisecond},
	}
}

// ParseAdmission parses bounds given as a comma-separated list of
// CLASS=INFLIGHT/QUEUE/WAIT ("reads=64/256/20ms,logins=2/8/200ms"); a
// part left empty ("reads=//50ms") keeps its default.
func ParseAdmission(s string) (map[Class]Admission, error) {
	out := map[Class]Admission{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, spec, ok := strings.Cut(item, "=")
		c := Class(strings.TrimSpace(name))
		if !ok || !validClass(c) {
			return nil, fmt.Errorf("admission %q: want CLASS=INFLIGHT/QUEUE/WAIT with CLASS one of %v", item, Classes)
		}
		parts := strings.Split(spec, "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("admission %q: want %s=INFLIGHT/QUEUE/WAIT, e.g. %s=64/256/20ms", item, c, c)
		}
		var a Admission
		var err error
		if parts[0] != "" {
			if a.InFlight, err = strconv.Atoi(parts[0]); err != nil || a.InFlight < 1 || a.InFlight > 100000 {
				return nil, fmt.Errorf("admission %q: in flight must be 1 to 100000", item)
			}
		}
		if parts[1] != "" {
			if a.Queue, err = strconv.Atoi(parts[1]); err != nil || a.Queue < 0 || a.Queue > 1000000 {
				return nil, fmt.Errorf("admission %q: queue must be 0 to 1000000", item)
			}
			if a.Queue == 0 {
				a.Queue = -1 // no queue at all, not the default
			}
		}
		if parts[2] != "" {
			if a.Wait, err = time.ParseDuration(parts[2]); err != nil || a.Wait <= 0 || a.Wait > time.Minute {
				return nil, fmt.Errorf("admission %q: wait must be a duration above 0 and at most 1m", item)
			}
		}
		out[c] = a
	}
	return out, nil
}

func validClass(c Class) bool {
	for _, k := range Classes {
		if k == c {
			return true
		}
	}
	return false
}

// admissionBounds merges configured bounds over the defaults.
func admissionBounds(cfg map[Class]Admission) map[Class]Admission {
	out := DefaultAdmission()
	for c, a := range cfg {
		d := out[c]
		if a.InFlight > 0 {
			d.InFlight = a.InFlight
		}
		switch {
		case a.Queue > 0:
			d.Queue = a.Queue
		case a.Queue < 0:
			d.Queue = 0
		}
		if a.Wait > 0 {
			d.Wait = a.Wait
		}
		out[c] = d
	}
	return out
}

// routeClass is the class of a route pattern ("POST /v1/facts"), or ""
// for the routes that are never shed. POST /v1/facts is ClassWrites here;
// admit makes a request with a source's key ClassIngest.
func routeClass(pattern string) Class {
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return ""
	case pattern == "POST /v1/sessions" || pattern == "POST /login" || pattern == "POST /v1/password" || pattern == "POST /v1/officials/{id}/password":
		return ClassLogins
	case pattern == "POST /v1/rulesets" || pattern == "POST /rulesets/new":
		return ClassExpensive
	case method != http.MethodGet && method != http.MethodHead:
		return ClassWrites
	case strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/log/"):
		return ClassReads
	}
	return ClassPages
}

// gate admits one class.
type gate struct {
	class   Class
	bounds  Admission
	slots   chan struct{}
	waiting atomic.Int64
	shedN   atomic.Int64 // shed since the last log line
	lastLog atomic.Int64 // unix nanoseconds of the last log line
	// overUntil, once a queued request's wait has run out, is until when
	// (unix nanoseconds) the class sheds at once when full.
	overUntil atomic.Int64
	hold      time.Duration
	// allow is how many may wait at once (besides drainable): the queue's
	// bound, 1 after a wait ran out, doubled by each request admitted
	// from the queue.
	allow    atomic.Int64
	timedOut prometheus.Counter // shed after waiting out the wait
	// held is a moving average of how long an admitted request holds its
	// slot (nanoseconds; 0 until one has): the queue takes only as many
	// as drain within the wait (drainable).
	held atomic.Int64
}

// heldWeight is the weight of the newest hold in the moving average: 1/8.
const heldWeight = 8

// observe adds one admitted request's hold to the moving average. Two
// releases at once may lose one's update: an estimate needs no more.
func (g *gate) observe(d time.Duration) {
	old := g.held.Load()
	if old == 0 {
		g.held.Store(int64(d))
		return
	}
	g.held.Store(old + (int64(d)-old)/heldWeight)
}

// drainable is how many queued requests can be admitted within the
// class's wait at the rate slots free (in flight over the average hold):
// the one at position n waits about n × hold / in flight. A request
// beyond it would wait the whole wait only to be shed: it is shed at
// once. The queue bound if no request has been admitted yet.
func (g *gate) drainable() int64 {
	q := int64(g.bounds.Queue)
	h := g.held.Load()
	if h <= 0 {
		return q
	}
	return min(q, int64(g.bounds.InFlight)*int64(g.bounds.Wait)/h)
}

// overloadHold is how long a class that has shed a queued request sheds
// at once when full: the Retry-After given to the shed clients.
const overloadHold = time.Second

// acquire takes a slot, waiting at most the class's wait if the queue has
// room; false if the request is to be shed.
func (g *gate) acquire(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.bounds.Queue == 0 {
		return false
	}
	if over := g.overUntil.Load(); over != 0 && time.Now().UnixNano() < over {
		return false // the queue is not draining: shed now, not after the wait
	}
	// Full, or beyond what drains within the wait, or beyond what the
	// slow start lets wait since the last wait ran out.
	allow := g.allow.Load()
	if n := g.waiting.Add(1); n > min(g.drainable(), allow) {
		g.waiting.Add(-1)
		return false
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.bounds.Wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		if q := int64(g.bounds.Queue); allow < q {
			g.allow.CompareAndSwap(allow, min(q, 2*allow)) // it drains: let more wait
		}
		return true
	case <-t.C:
		g.overUntil.Store(time.Now().Add(g.hold).UnixNano())
		g.allow.Store(1)
		g.timedOut.Inc()
		return false
	case <-ctx.Done():
		return false
	}
}

// release gives back the slot a request took at start.
func (g *gate) release(start time.Time) {
	g.observe(time.Since(start))
	<-g.slots
}

// admission holds the gates and their metrics.
type admission struct {
	gates    map[Class]*gate
	shed     *prometheus.CounterVec
	busyJSON []byte
}

func (s *Server) newAdmission() *admission {
	a := &admission{gates: map[Class]*gate{}, busyJSON: []byte(`{"error":{"code":"unavailable","message":"the server is busy: try again in a second"}}` + "\n")}
	inFlight := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "healthcode_admission_in_flight",
		Help: "Requests being served, by admission class.",
	}, []string{"class"})
	queued := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "healthcode_admission_queued",
		Help: "Requests waiting to be admitted, by admission class.",
	}, []string{"class"})
	limit := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "healthcode_admission_limit_requests",
		Help: "Configured bounds by admission class, in requests: in_flight and queue.",
	}, []string{"class", "bound"})
	waitLimit := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "healthcode_admission_wait_limit_seconds",
		Help: "Configured longest wait in the queue, by admission class.",
	}, []string{"class"})
	a.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "healthcode_admission_shed_total",
		Help: "Requests answered 503 because their admission class was full (in flight and queue), at once or after waiting out the queue's wait, by class.",
	}, []string{"class"})
	timedOut := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "healthcode_admission_timed_out_total",
		Help: "Requests shed after waiting out their admission class's queue wait (also in healthcode_admission_shed_total), by class.",
	}, []string{"class"})
	for c, b := range admissionBounds(s.cfg.Admission) {
		g := &gate{class: c, bounds: b, slots: make(chan struct{}, b.InFlight), hold: overloadHold, timedOut: timedOut.WithLabelValues(string(c))}
		g.allow.Store(int64(b.Queue))
		a.gates[c] = g
		limit.WithLabelValues(string(c), "in_flight").Set(float64(b.InFlight))
		limit.WithLabelValues(string(c), "queue").Set(float64(b.Queue))
		waitLimit.WithLabelValues(string(c)).Set(b.Wait.Seconds())
		a.shed.WithLabelValues(string(c))
	}
	s.metrics.reg.MustRegister(a.shed, timedOut, limit, waitLimit,
		gaugeFunc(inFlight, a.gates, func(g *gate) float64 { return float64(len(g.slots)) }),
		gaugeFunc(queued, a.gates, func(g *gate) float64 { return float64(g.waiting.Load()) }))
	return a
}

// gaugeFunc is a collector that reads every gate's value at scrape time.
func gaugeFunc(v *prometheus.GaugeVec, gates map[Class]*gate, f func(*gate) float64) prometheus.Collector {
	return &gateCollector{v: v, gates: gates, f: f}
}

type gateCollector struct {
	v     *prometheus.GaugeVec
	gates map[Class]*gate
	f     func(*gate) float64
}

func (c *gateCollector) Describe(ch chan<- *prometheus.Desc) { c.v.Describe(ch) }
func (c *gateCollector) Collect(ch chan<- prometheus.Metric) {
	for cl, g := range c.gates {
		c.v.WithLabelValues(string(cl)).Set(c.f(g))
	}
	c.v.Collect(ch)
}

// admit wraps a route's handler in its class's gate (none for class "").
func (s *Server) admit(class Class, h http.Handler) http.Handler {
	if class == "" {
		return h
	}
	g := s.admission.gates[class]
	var ingest *gate
	if class == ClassWrites {
		ingest = s.admission.gates[ClassIngest]
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := g
		if ingest != nil && strings.HasPrefix(r.Header.Get("Authorization"), "Bearer hck_") {
			g = ingest // a source's batch
		}
		if !g.acquire(r.Context()) {
			s.shedRequest(g, w, r)
			return
		}
		defer g.release(time.Now())
		h.ServeHTTP(w, r)
	})
}

// shedRequest answers a request its class cannot take: 503 at once, from
// bytes made in advance.
func (s *Server) shedRequest(g *gate, w http.ResponseWriter, r *http.Request) {
	s.admission.shed.WithLabelValues(string(g.class)).Inc()
	n := g.shedN.Add(1)
	now := time.Now().UnixNano()
	if last := g.lastLog.Load(); now-last >= int64(time.Second) && g.lastLog.CompareAndSwap(last, now) {
		g.shedN.Add(-n)
		s.logger.WarnContext(r.Context(), "shedding load", "class", string(g.class), "shed", n,
			"in_flight", len(g.slots), "queued", g.waiting.Load(), "limit", g.bounds.String())
	}
	h := w.Header()
	h.Set("Retry-After", "1")
	if web.WantsPage(r) || r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/html") &&
		!strings.HasPrefix(r.URL.Path, "/v1/") {
		web.Busy(w, r) // a page, or a form a browser sent
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(s.admission.busyJSON)))
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(s.admission.busyJSON) // the client may be gone: nothing to do
}
