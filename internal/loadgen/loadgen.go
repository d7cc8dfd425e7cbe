// Package loadgen is a small closed-loop HTTP/1.1 load generator for
// healthcode's own benchmarks (`healthcode bench tokens`, BENCHMARKS.md).
// It speaks just enough HTTP/1.1 over keep-alive connections (GET, a
// Content-Length response) to cost the machine little, so that more of a
// shared 2-core box goes to the server under test. It refuses any address
// that is not loopback, and every run is bounded in time and in requests.
//
// It imports only the standard library.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is one run.
type Config struct {
	Addr        string        // host:port of the server; must be loopback
	Conns       int           // concurrent connections, each one request at a time; default 32
	Duration    time.Duration // how long to run; default 5 s, at most MaxDuration
	MaxRequests int           // stop after this many requests; default and at most MaxRequests
	// Request returns the path and bearer token ("" for none) of a
	// connection's n-th request.
	Request func(conn, n int) (path, bearer string)
}

// Bounds of a run.
const (
	MaxDuration = 2 * time.Minute
	MaxRequests = 5_000_000
)

// Result is what a run measured.
type Result struct {
	Requests int           // completed with a 2xx status
	Errors   int           // other statuses and I/O errors
	Elapsed  time.Duration // wall time of the run
	P50, P99 time.Duration // latency percentiles of completed requests
	Max      time.Duration
	FirstErr string // the first error, for diagnosis
}

// RPS is completed requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

func (r *Result) String() string {
	return fmt.Sprintf("%d requests in %.2fs: %.0f req/s, p50 %s, p99 %s, max %s, %d errors",
		r.Requests, r.Elapsed.Seconds(), r.RPS(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Errors)
}

// Run runs cfg until its duration or request budget is spent or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("loadgen: %s is not a loopback address: this generator only loads the local machine", host)
	}
	if cfg.Request == nil {
		return nil, errors.New("loadgen: no Request function")
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 32
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	cfg.Duration = min(cfg.Duration, MaxDuration)
	if cfg.MaxRequests <= 0 || cfg.MaxRequests > MaxRequests {
		cfg.MaxRequests = MaxRequests
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	var (
		mu       sync.Mutex
		lat      []time.Duration
		res      Result
		issued   int
		issuedMu sync.Mutex
	)
	take := func() bool {
		issuedMu.Lock()
		defer issuedMu.Unlock()
		if issued >= cfg.MaxRequests {
			return false
		}
		issued++
		return true
	}
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < cfg.Conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var mine []time.Duration
			ok, bad, first := 0, 0, ""
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				res.Requests += ok
				res.Errors += bad
				if res.FirstErr == "" {
					res.FirstErr = first
				}
				mu.Unlock()
			}()
			var conn *client
			for n := 0; ctx.Err() == nil && take(); n++ {
				if conn == nil {
					var err error
					if conn, err = dial(ctx, cfg.Addr); err != nil {
						bad++
						if first == "" {
							first = err.Error()
						}
						continue
					}
				}
				path, bearer := cfg.Request(c, n)
				t0 := time.Now()
				status, err := conn.get(host, path, bearer)
				d := time.Since(t0)
				switch {
				case err != nil:
					if ctx.Err() == nil {
						bad++
						if first == "" {
							first = err.Error()
						}
					}
					conn.close()
					conn = nil
				case status/100 != 2:
					bad++
					if first == "" {
						first = fmt.Sprintf("GET %s: status %d", path, status)
					}
				default:
					ok++
					mine = append(mine, d)
				}
			}
			if conn != nil {
				conn.close()
			}
		}(c)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		res.P50 = lat[n/2]
		res.P99 = lat[min(n-1, n*99/100)]
		res.Max = lat[n-1]
	}
	return &res, nil
}

// client is one keep-alive HTTP/1.1 connection.
type client struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	tp *textproto.Reader
}

func dial(ctx context.Context, addr string) (*client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(c, 16<<10)
	cl := &client{c: c, r: r, w: bufio.NewWriterSize(c, 4<<10), tp: textproto.NewReader(r)}
	go func() { // unblock a read when the run ends
		<-ctx.Done()
		_ = c.SetDeadline(time.Now()) // fails only on a closed connection, whose read has ended anyway
	}()
	return cl, nil
}

// close ends a connection the run is done with: a failed close changes
// nothing that a load generator measures.
func (cl *client) close() { _ = cl.c.Close() }

// get sends one GET and reads the whole response, returning its status.
func (cl *client) get(host, path, bearer string) (int, error) {
	cl.w.WriteString("GET ")
	cl.w.WriteString(path)
	cl.w.WriteString(" HTTP/1.1\r\nHost: ")
	cl.w.WriteString(host)
	cl.w.WriteString("\r\nUser-Agent: healthcode-loadgen\r\n")
	if bearer != "" {
		cl.w.WriteString("Authorization: Bearer ")
		cl.w.WriteString(bearer)
		cl.w.WriteString("\r\n")
	}
	cl.w.WriteString("\r\n")
	if err := cl.w.Flush(); err != nil {
		return 0, err
	}
	line, err := cl.tp.ReadLine()
	if err != nil {
		return 0, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		l, err := cl.tp.ReadLine()
		if err != nil {
			return 0, err
		}
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		switch strings.ToLower(k) {
		case "content-length":
			if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		case "transfer-encoding":
			return 0, fmt.Errorf("chunked responses are not supported")
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	if _, err := cl.r.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
