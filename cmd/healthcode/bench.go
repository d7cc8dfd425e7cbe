package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/loadgen"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

func runBench(ctx context.Context, e *env) error {
	if len(e.args) == 0 {
		return usagef("bench needs a subcommand: tokens, overload")
	}
	sub := *e
	sub.args = e.args[1:]
	switch e.args[0] {
	case "tokens":
		return runBenchTokens(ctx, &sub)
	case "overload":
		return runBenchOverload(ctx, &sub)
	}
	return usagef("unknown bench subcommand %q (want tokens or overload)", e.args[0])
}

// runBenchTokens measures GET /v1/residents/{id}/token under load on a
// fresh SQLite database in a temporary directory, beside GET /healthz (a
// trivial JSON handler) measured by the same generator in the same run. The
// server and the generator share the machine, over loopback.
func runBenchTokens(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "bench tokens", "bench tokens [--duration D] [--conns N] [--residents N] [--rounds N]")
	duration := fs.Duration("duration", 5*time.Second, "length of each measurement (at most 2m)")
	conns := fs.Int("conns", 32, "concurrent keep-alive connections")
	residents := fs.Int("residents", 64, "residents with a session, spread over the connections")
	rounds := fs.Int("rounds", 3, "measurements of each route, alternating")
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", fs.Arg(0))
	case *residents < 1 || *residents > 1000:
		return usagef("--residents must be 1..1000")
	case *rounds < 1 || *rounds > 20:
		return usagef("--rounds must be 1..20")
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
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, filepath.Join(dir, "bench.db"), store.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	fmt.Fprintf(e.stderr, "healthcode: seeding %d residents with sessions\n", *residents)
	ids, err := seedBench(ctx, st, *residents)
	if err != nil {
		return err
	}
	addr, stop, err := serveBench(ctx, st, server.Config{Logger: quiet, KeySecret: []byte("benchmark key secret, not a real one")}, nil)
	if err != nil {
		return err
	}
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	var sess []string
	for i, id := range ids {
		s, err := st.Login(ctx, "bench-"+id, benchPassword)
		if err != nil {
			return fmt.Errorf("login %d: %w", i, err)
		}
		sess = append(sess, s.Token)
	}
	healthz := func(conn, n int) (string, string) { return "/healthz", "" }
	tokens := func(conn, n int) (string, string) {
		i := (conn + n**conns) % len(ids)
		return "/v1/residents/" + ids[i] + "/token", sess[i]
	}
	// Warm up: every resident's token signed once, connections open.
	if _, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: *conns, Duration: time.Second, Request: tokens}); err != nil {
		return err
	}
	host, _ := os.Hostname()
	fmt.Fprintf(e.stdout, "machine: %s, %d CPUs, %s/%s, %s; SQLite; %s; %d connections, %d residents, %s per run\n",
		host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), gcSetting(e), *conns, *residents, *duration)
	var best [2]*loadgen.Result
	for r := 0; r < *rounds; r++ {
		for i, route := range []struct {
			name string
			req  func(int, int) (string, string)
		}{{"GET /healthz", healthz}, {"GET /v1/residents/{id}/token", tokens}} {
			res, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: *conns, Duration: *duration, Request: route.req})
			if err != nil {
				return err
			}
			if res.Errors+res.Shed > 0 {
				return fmt.Errorf("%s: %d errors and %d shed, first: %s", route.name, res.Errors, res.Shed, res.FirstErr)
			}
			fmt.Fprintf(e.stdout, "round %d %-30s %s\n", r+1, route.name, res)
			if best[i] == nil || res.RPS() > best[i].RPS() {
				best[i] = res
			}
		}
	}
	fmt.Fprintf(e.stdout, "best: healthz %.0f req/s (p99 %s), token %.0f req/s (p99 %s): token/healthz = %.2f\n",
		best[0].RPS(), best[0].P99.Round(time.Microsecond), best[1].RPS(), best[1].P99.Round(time.Microsecond), best[1].RPS()/best[0].RPS())
	return nil
}

// serveBench serves st on a free loopback port with token issuing on,
// until stop is called; it returns once the port accepts connections.
// wrap, if not nil, wraps the listener (the overload's socket timer).
func serveBench(ctx context.Context, st *store.DB, cfg server.Config, wrap func(net.Listener) net.Listener) (addr string, stop func() error, err error) {
	sctx, cancel := context.WithCancel(ctx)
	srv := server.New(st, cfg)
	if err := srv.StartTokens(sctx); err != nil {
		cancel()
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return "", nil, err
	}
	addr = ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln, nil) }()
	stop = func() error { cancel(); return <-served }
	return addr, stop, nil
}

const benchPassword = "benchmark password"

// seedBench registers n residents with logins in a one-community province.
func seedBench(ctx context.Context, st *store.DB, n int) ([]string, error) {
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "bench", Name: "benchmark"})
	tree := []healthcode.Jurisdiction{
		{Code: "410000", Name: "中原省", Level: healthcode.Province},
		{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
		{Code: "410105", Name: "金水区", Level: healthcode.County, Parent: "410100"},
		{Code: "410105001", Name: "经八路街道", Level: healthcode.Street, Parent: "410105"},
		{Code: "410105001001", Name: "农科路社区", Level: healthcode.Community, Parent: "410105001"},
	}
	if err := st.CreateJurisdictions(sys, tree); err != nil {
		return nil, err
	}
	var rs []healthcode.Resident
	var ids []string
	for i := 0; i < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprint("bench", i)))
		id := fmt.Sprintf("r_bench%04d", i)
		rs = append(rs, healthcode.Resident{ID: id, IDHash: h[:], Name: "张三丰", Phone: "13900000000", Jurisdiction: "410105001001"})
		ids = append(ids, id)
	}
	if err := st.CreateResidents(sys, rs); err != nil {
		return nil, err
	}
	// Password hashing is deliberately slow: spread it over the cores.
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.NumCPU())
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = st.CreateResidentAccount(sys, id, "bench-"+id, benchPassword)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}
