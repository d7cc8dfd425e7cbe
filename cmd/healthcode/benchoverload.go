package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/loadgen"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/verify"
)

// runBenchOverload measures the capacity of a mixed workload (tokens,
// fact batches from a source, logins, pages) on a fresh SQLite database,
// the batches about many residents in turn (--subjects), as a laboratory's
// are, not the few with sessions over and over (each fact about a resident
// makes every later one's evaluation longer),
// then offers ten times that rate for --duration, and reports goodput,
// the p99 latencies of admitted and of shed requests, the process's
// resident memory, the time back to full service, and whether every
// acknowledged fact is in a log that verifies (issue 16's goals,
// BENCHMARKS.md). The generator runs in the same process as the server,
// over loopback: the memory reported is the two together. With --wrk,
// the overload's token requests are sent by wrk, a separate process
// (benchwrk.go), and the in-process generator sends the rest of the mix.
// Latencies are reported from both sides: the clients' (from their write
// to their read of the answer, which includes waiting for the server to
// read the request and for the client to be scheduled), and the
// server's, at its socket (benchsocket.go), with the Go scheduler's
// runnable goroutines and the GC's cycles beside them (benchsched.go).
func runBenchOverload(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "bench overload", "bench overload [--duration D] [--capacity-duration D] [--conns N] [--factor F] [--admission SPEC] [--wrk PATH]")
	duration := fs.Duration("duration", 60*time.Second, "length of the overload (at most 2m)")
	capDur := fs.Duration("capacity-duration", 5*time.Second, "length of the capacity measurement")
	conns := fs.Int("conns", 40, "connections of the capacity measurement (the overload uses factor times as many)")
	factor := fs.Float64("factor", 10, "offered load during the overload, in multiples of the measured capacity")
	residents := fs.Int("residents", 64, "residents with a session")
	subjects := fs.Int("subjects", 50000, "residents the fact batches are about (without a session), each about a few times over the run at most")
	admit := fs.String("admission", "", "admission bounds as for serve --admission")
	wrk := fs.String("wrk", "", "send the overload's token requests with this wrk binary, a separate process (e.g. /usr/bin/wrk)")
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", fs.Arg(0))
	case *residents < 1 || *residents > 1000:
		return usagef("--residents must be 1..1000")
	case *subjects < 1 || *subjects > 1000000:
		return usagef("--subjects must be 1..1000000")
	case *conns < 1 || *conns > 1000:
		return usagef("--conns must be 1..1000")
	case *factor < 1 || *factor > 100:
		return usagef("--factor must be 1..100")
	case *wrk != "" && *duration%time.Second != 0:
		return usagef("--duration must be whole seconds with --wrk")
	}
	if *wrk != "" {
		if _, err := exec.LookPath(*wrk); err != nil {
			return usagef("--wrk: %v", err)
		}
	}
	adm, err := server.ParseAdmission(*admit)
	if err != nil {
		return usagef("--admission: %v", err)
	}
	dir, err := os.MkdirTemp("", "healthcode-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	quiet := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, filepath.Join(dir, "bench.db"), store.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	fmt.Fprintf(e.stderr, "healthcode: seeding %d residents with sessions, a ruleset and a source\n", *residents)
	ids, err := seedBench(ctx, st, *residents)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "healthcode: seeding %d residents the batches are about\n", *subjects)
	subj, err := seedSubjects(ctx, st, *subjects)
	if err != nil {
		return err
	}
	const sourceKey = "hck_overloadbenchoverloadbenchoverload"
	if err := seedOverload(ctx, st, sourceKey); err != nil {
		return err
	}
	sock := newSocketTimer(overloadClasses, overloadClass)
	addr, stop, err := serveBench(ctx, st, server.Config{Logger: quiet, KeySecret: []byte("benchmark key secret, not a real one"), Admission: adm}, sock.wrap)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if stopped {
			return
		}
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	sess := make([]string, len(ids))
	for i, id := range ids {
		s, err := st.Login(ctx, "bench-"+id, benchPassword)
		if err != nil {
			return fmt.Errorf("login %d: %w", i, err)
		}
		sess[i] = s.Token
	}
	w := &overloadWork{ids: ids, sess: sess, subjects: subj, key: sourceKey, day: time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)}

	host, _ := os.Hostname()
	fmt.Fprintf(e.stdout, "machine: %s, %d CPUs, %s/%s, %s; SQLite; load average %s; %s\n",
		host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAverage(), gcSetting(e))
	fmt.Fprintf(e.stdout, "mix per 500 requests: 1 login, 25 fact batches of %d (about %d residents in turn), 75 pages, 399 tokens (of %d residents with sessions)\n",
		overloadBatch, len(subj), len(ids))
	if _, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: *conns, Duration: time.Second, Next: w.next}); err != nil {
		return err
	}
	// Unloaded: the same mix, paced to a few requests a second per connection.
	idle, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: 20, Duration: 3 * time.Second, Rate: 20, Next: w.next})
	if err != nil {
		return err
	}
	printPhase(e.stdout, "unloaded (20 conns × 20/s)", idle)
	capacity, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: *conns, Duration: *capDur, Next: w.next})
	if err != nil {
		return err
	}
	printPhase(e.stdout, fmt.Sprintf("capacity (%d conns, closed loop)", *conns), capacity)
	capRate := float64(capacity.Requests) / capacity.Elapsed.Seconds()
	over := int(float64(*conns) * *factor)
	rate := capRate * *factor / float64(over)
	var rss rssSampler
	stopRSS := rss.start()
	var sched schedSampler
	stopSched := sched.start()
	var overload *loadgen.Result
	var wr *wrkResult // nil without --wrk
	sock.on.Store(true)
	if *wrk == "" {
		overload, err = loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: over, Duration: *duration, Rate: rate, Next: w.next, Stamp: true})
	} else {
		// 399 of every 500 requests of the mix are tokens: wrk takes that
		// share of the connections, each paced as the generator's.
		wconns := max(1, over*399/500)
		reqs := make([][2]string, len(ids))
		for i, id := range ids {
			reqs[i] = [2]string{"/v1/residents/" + id + "/token", sess[i]}
		}
		var werr error
		wdone := make(chan struct{})
		go func() {
			defer close(wdone)
			wr, werr = runWrk(ctx, *wrk, dir, addr, wconns, rate, *duration, reqs)
		}()
		overload, err = loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: max(1, over-wconns), Duration: *duration, Rate: rate, Next: w.untokened, Stamp: true})
		<-wdone
		if err == nil {
			err = werr
		}
	}
	sock.on.Store(false)
	stopSched()
	stopRSS()
	if err != nil {
		return err
	}
	end := time.Now()
	goodput := float64(overload.Requests) / overload.Elapsed.Seconds()
	offered := float64(overload.Requests+overload.Shed+overload.Errors) / overload.Elapsed.Seconds()
	admittedP99, shedP99, shed := overload.P99, overload.ShedP99, overload.Shed
	if wr != nil {
		goodput += float64(wr.OK) / duration.Seconds()
		offered += float64(wr.OK+wr.Shed+wr.Other) / duration.Seconds()
		// The p99s of both generators' requests together.
		admittedP99, shedP99, shed = p99Of(overload.OKLatencies, wr.OKLat), p99Of(overload.ShedLatencies, wr.ShedLat), shed+wr.Shed
	}
	printPhase(e.stdout, fmt.Sprintf("overload (%d conns paced to %.0f req/s in all, %.0f× capacity; %.0f req/s offered; client side: the generator's write to its read of the answer)", over, rate*float64(over), *factor, offered), overload)
	if wr != nil {
		fmt.Fprintf(e.stdout, "  tokens sent by wrk, a separate process (%d conns), client side: %d ok p50 %s p99 %s; %d shed p50 %s p99 %s max %s; %d other (first status %d); wrk peak RSS %d MiB\n",
			max(1, over*399/500), wr.OK, wr.OKP50, wr.OKP99, wr.Shed, wr.ShedP50, wr.ShedP99, wr.Max, wr.Other, wr.FirstOther, wr.MaxRSS>>20)
		for line := range strings.Lines(wr.Output) {
			fmt.Fprintf(e.stdout, "    wrk: %s", line)
		}
	}
	serverShed := printSocket(e.stdout, sock)
	if to, err := scrapeByClass(ctx, addr, "healthcode_admission_timed_out_total"); err != nil {
		fmt.Fprintf(e.stdout, "  shed after waiting out the queue's wait: unknown (%v)\n", err)
	} else {
		fmt.Fprintf(e.stdout, "  shed after waiting out the queue's wait, since the start (healthcode_admission_timed_out_total): %s\n", to)
	}
	fmt.Fprintf(e.stdout, "  Go scheduler of the server's process (with the in-process generator): %s\n", &sched)
	// Back to full service: probes at the capacity's connections until
	// one serves at least 80% of capacity and sheds nothing.
	var recovered time.Duration = -1
	probes, failed := 0, ""
	for time.Since(end) < 30*time.Second {
		p, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: *conns, Duration: 250 * time.Millisecond, Next: w.next})
		if err != nil {
			return err
		}
		probes++
		if p.Shed == 0 && p.Errors == 0 && p.RPS() >= 0.8*capRate {
			recovered = time.Since(end)
			break
		}
		failed = fmt.Sprintf("; the last probe that failed: %.0f req/s, %d shed (%s), %d errors", p.RPS(), p.Shed, shedByClass(p), p.Errors)
	}
	// Every acknowledged fact is there, and the log verifies.
	missing, err := w.missingFacts(ctx, st)
	if err != nil {
		return err
	}
	// The server stops first: verify reads the live database, and a
	// request or job still writing would show as a difference.
	stopped = true
	if err := stop(); err != nil {
		return err
	}
	rep, err := verify.Log(ctx, st.VerifyView(), verify.Options{})
	if err != nil {
		return err
	}

	back := "never"
	if recovered >= 0 {
		back = "in " + recovered.Round(time.Millisecond).String()
	}
	fmt.Fprintf(e.stdout, "peak RSS %d MiB (server and generator in one process); %d facts acknowledged, %d missing; log verify: %d entries, %d problems; recovered %s (%d probes of 250 ms at the capacity's connections%s)\n",
		rss.peak()>>20, w.acked(), missing, rep.Size, len(rep.Problems), back, probes, failed)
	check := func(ok bool, goal, got string) {
		mark := "met"
		if !ok {
			mark = "NOT MET"
		}
		fmt.Fprintf(e.stdout, "goal %-48s %-8s %s\n", goal, mark, got)
	}
	check(goodput >= 0.8*capRate, "goodput ≥ 80% of capacity", fmt.Sprintf("%.0f of %.0f req/s (%.0f%%)", goodput, capRate, 100*goodput/capRate))
	check(admittedP99 < 10*idle.P99, "p99 of admitted < 10× unloaded p99", fmt.Sprintf("%s vs %s (%.1f×)", admittedP99.Round(time.Microsecond), idle.P99.Round(time.Microsecond), float64(admittedP99)/float64(idle.P99)))
	check(shedP99 < 5*time.Millisecond, "p99 of shed < 5 ms, client side", fmt.Sprintf("%s (%d shed)", shedP99.Round(time.Microsecond), shed))
	check(serverShed < 5*time.Millisecond, "p99 of shed < 5 ms, server side", fmt.Sprintf("%s (first byte read → 503 written)", serverShed.Round(time.Microsecond)))
	check(rss.peak() < 1<<30, "RSS < 1 GB", fmt.Sprintf("%d MiB", rss.peak()>>20))
	check(missing == 0 && len(rep.Problems) == 0, "no acknowledged write lost, log verifies", fmt.Sprintf("%d missing, %d problems", missing, len(rep.Problems)))
	check(recovered >= 0 && recovered < 5*time.Second, "full service within 5 s after the load", back)
	return nil
}

const overloadBatch = 10

// overloadWork makes the mixed requests and remembers acknowledged facts.
type overloadWork struct {
	ids, sess   []string
	subjects    []string     // what the batches are about
	nextSubject atomic.Int64 // the index in subjects of the next batch's first fact
	key, day    string

	mu    sync.Mutex
	facts []string // ids of acknowledged facts
}

// p99Of is the 99th percentile of a and b together (0 for none).
func p99Of(a, b []time.Duration) time.Duration {
	all := slices.Concat(a, b)
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[min(len(all)-1, len(all)*99/100)]
}

// next is a connection's n-th request of the mix.
func (w *overloadWork) next(conn, n int) loadgen.Req { return w.req(conn, n, (conn*131+n*7)%500) }

// untokened is the mix without its token requests (sent by wrk).
func (w *overloadWork) untokened(conn, n int) loadgen.Req { return w.req(conn, n, (conn*131+n*7)%101) }

// req is request k of every 500 of the mix.
func (w *overloadWork) req(conn, n, k int) loadgen.Req {
	i := (conn*131 + n) % len(w.ids)
	switch {
	case k == 0:
		return loadgen.Req{Class: "logins", Method: "POST", Path: "/v1/sessions", ContentType: "application/json",
			Body: []byte(fmt.Sprintf(`{"login":%q,"password":%q}`, "bench-"+w.ids[i], benchPassword))}
	case k <= 25:
		var b bytes.Buffer
		var batch []string
		first := int(w.nextSubject.Add(overloadBatch)) - overloadBatch
		for j := range overloadBatch {
			id := fmt.Sprintf("ov-%d", first+j)
			batch = append(batch, id)
			fmt.Fprintf(&b, `{"id":%q,"kind":"test_result","subject":%q,"observed_at":%q,"evidence":"report","payload":{"method":"pcr","result":"negative","sampled_at":%q,"lab":"lab"}}`+"\n",
				id, w.subjects[(first+j)%len(w.subjects)], w.day, w.day)
		}
		return loadgen.Req{Class: "ingest", Method: "POST", Path: "/v1/facts", Bearer: w.key, ContentType: "application/x-ndjson", Body: b.Bytes(),
			Done: func(status int) {
				if status == 200 {
					w.mu.Lock()
					w.facts = append(w.facts, batch...)
					w.mu.Unlock()
				}
			}}
	case k <= 100:
		return loadgen.Req{Class: "pages", Path: "/login"}
	}
	return loadgen.Req{Class: "tokens", Path: "/v1/residents/" + w.ids[i] + "/token", Bearer: w.sess[i]}
}

func (w *overloadWork) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.facts)
}

// missingFacts counts acknowledged facts the store does not hold.
func (w *overloadWork) missingFacts(ctx context.Context, st *store.DB) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "bench", Name: "benchmark"})
	missing := 0
	for _, id := range w.facts {
		if _, err := st.Fact(sys, healthcode.FactKey("s_bench", id)); err != nil {
			if healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
				return 0, err
			}
			missing++
		}
	}
	return missing, nil
}

// seedOverload publishes the default ruleset (two command officers) and
// registers a laboratory source with key.
func seedOverload(ctx context.Context, st *store.DB, key string) error {
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "bench", Name: "benchmark"})
	for _, id := range []string{"o_bench1", "o_bench2"} {
		if err := st.CreateOfficial(sys, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "l"+id, benchPassword); err != nil {
			return err
		}
	}
	as := func(id string) context.Context {
		return healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	}
	if _, err := st.DraftRuleset(as("o_bench1"), "default.yaml", rules.DefaultSource()); err != nil {
		return err
	}
	if _, err := st.DecideRuleset(as("o_bench2"), "henan-health-code", 1, true, ""); err != nil {
		return err
	}
	return st.CreateSource(sys, healthcode.Source{ID: "s_bench", Name: "bench lab", Kinds: []string{"test_result"}, Jurisdiction: "410000"}, key)
}

// overloadClasses are the classes of the mix, as the generators count
// them, and "other".
var overloadClasses = []string{"other", "tokens", "ingest", "logins", "pages"}

// overloadClass is the index in overloadClasses of a request line's class.
func overloadClass(line []byte) int {
	method, rest, _ := bytes.Cut(line, []byte(" "))
	path, _, _ := bytes.Cut(rest, []byte(" "))
	switch {
	case string(method) == "GET" && bytes.HasPrefix(path, []byte("/v1/residents/")) && bytes.HasSuffix(path, []byte("/token")):
		return 1
	case string(method) == "POST" && string(path) == "/v1/facts":
		return 2
	case string(method) == "POST" && string(path) == "/v1/sessions":
		return 3
	case string(method) == "GET" && string(path) == "/login":
		return 4
	}
	return 0
}

// printSocket prints the overload's timings at the server's socket, by
// class, and returns the p99 of its sheds, all classes together.
func printSocket(out io.Writer, t *socketTimer) time.Duration {
	pct := func(d []time.Duration, p int) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, len(d)*p/100)]
	}
	us := func(d time.Duration) string { return d.Round(time.Microsecond).String() }
	fmt.Fprintf(out, "  server side, at its socket: first byte read → answer written; before that, from the client's write (X-Sent-At) to that read\n")
	var shedP99 time.Duration
	for _, c := range []string{"", "tokens", "ingest", "logins", "pages"} {
		ok, okBefore := t.times(c, false)
		shed, shedBefore := t.times(c, true)
		if c == "" {
			c = "all"
			shedP99 = pct(shed, 99)
		}
		if len(ok)+len(shed) == 0 {
			continue
		}
		fmt.Fprintf(out, "  %-7s %7d ok p50 %-9s p99 %-9s (before: p50 %-9s p99 %-9s) %6d shed p50 %-9s p99 %-9s (before: p50 %-9s p99 %s)\n", c,
			len(ok), us(pct(ok, 50)), us(pct(ok, 99)), us(pct(okBefore, 50)), us(pct(okBefore, 99)),
			len(shed), us(pct(shed, 50)), us(pct(shed, 99)), us(pct(shedBefore, 50)), us(pct(shedBefore, 99)))
	}
	return shedP99
}

// shedByClass is a result's sheds by class ("ingest 3, logins 1").
func shedByClass(r *loadgen.Result) string {
	var parts []string
	for _, c := range []string{"tokens", "ingest", "logins", "pages"} {
		if cr := r.ByClass[c]; cr != nil && cr.Shed > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, cr.Shed))
		}
	}
	return strings.Join(parts, ", ")
}

func printPhase(out io.Writer, name string, r *loadgen.Result) {
	fmt.Fprintf(out, "%s: %d ok in %.1fs (%.0f req/s), p50 %s, p99 %s; %d shed (p99 %s); %d errors%s\n", name, r.Requests, r.Elapsed.Seconds(), r.RPS(),
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Shed, r.ShedP99.Round(time.Microsecond), r.Errors, firstErr(r))
	for _, c := range []string{"tokens", "ingest", "logins", "pages"} {
		if cr := r.ByClass[c]; cr != nil {
			fmt.Fprintf(out, "  %-7s %7d ok p50 %-9s p99 %-9s %7d shed p99 %-9s %d errors\n", c, cr.OK, cr.P50.Round(time.Microsecond), cr.P99.Round(time.Microsecond),
				cr.Shed, cr.ShedP99.Round(time.Microsecond), cr.Errors)
		}
	}
}

func firstErr(r *loadgen.Result) string {
	if r.FirstErr == "" {
		return ""
	}
	return " (first: " + r.FirstErr + ")"
}

// rssSampler samples the process's resident memory every 50 ms.
type rssSampler struct {
	mu  sync.Mutex
	max int64
}

func (s *rssSampler) start() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v := residentBytes(); v > 0 {
				s.mu.Lock()
				s.max = max(s.max, v)
				s.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (s *rssSampler) peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// residentBytes is the process's VmRSS (Linux), or 0 where unknown.
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }() // read only: a close error loses nothing
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// loadAverage is /proc/loadavg's first three fields, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// seedSubjects registers n residents without accounts, for the batches to
// be about: a laboratory's results are about many residents, each a few
// times at most, not the 64 with sessions over and over.
func seedSubjects(ctx context.Context, st *store.DB, n int) ([]string, error) {
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "bench", Name: "benchmark"})
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 5000 {
		var rs []healthcode.Resident
		for i := start; i < min(start+5000, n); i++ {
			h := sha256.Sum256([]byte(fmt.Sprint("subject", i)))
			id := fmt.Sprintf("r_subj%07d", i)
			rs = append(rs, healthcode.Resident{ID: id, IDHash: h[:], Name: "李四", Jurisdiction: "410105001001"})
			ids = append(ids, id)
		}
		if err := st.CreateResidents(sys, rs); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// scrapeByClass reads a counter by class from the server's /metrics, as
// "ingest 3, logins 1" (or "none").
func scrapeByClass(ctx context.Context, addr, name string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read only
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var parts []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+`{class="`)
		if !ok {
			continue
		}
		class, value, ok := strings.Cut(rest, `"} `)
		if ok && value != "0" {
			parts = append(parts, class+" "+value)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return "none", nil
	}
	return strings.Join(parts, ", "), nil
}
