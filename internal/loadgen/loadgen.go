// Package loadgen is a small closed-loop HTTP/1.1 load generator for
// healthcode's own benchmarks (`healthcode bench tokens`, `healthcode bench
// overload`, BENCHMARKS.md). It speaks just enough HTTP/1.1 over keep-alive
// connections (GET or POST, a Content-Length or chunked response) to cost
// the machine little, so that more of a
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
	"io"
	"net"
	"net/http/httputil"
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
	// Next, if set, is used instead of Request: a connection's n-th
	// request in full.
	Next func(conn, n int) Req
	// Rate, if above 0, paces each connection to at most this many
	// requests a second (an offered load of Conns*Rate), instead of
	// sending the next request as soon as the last is answered.
	Rate float64
	// Stamp, if set, sends each request with X-Sent-At: the wall clock
	// in unix microseconds as it is written, for a server on this
	// machine to tell how long it waited before being read.
	Stamp bool
}

// Req is one request.
type Req struct {
	Method      string // default GET
	Path        string
	Bearer      string // "" for none
	ContentType string
	Body        []byte
	Class       string           // the class it is counted under in Result.ByClass
	Done        func(status int) // if set, called with the response's status
}

// ClassResult is what a run measured of one class of requests.
type ClassResult struct {
	OK, Shed, Errors int
	P50, P99         time.Duration // of OK requests
	ShedP99          time.Duration // of shed requests (503, 429)
	ok, shed         []time.Duration
}

// Bounds of a run.
const (
	MaxDuration = 2 * time.Minute
	MaxRequests = 5_000_000
)

// Result is what a run measured.
type Result struct {
	Requests int           // completed with a 2xx status
	Shed     int           // answered 503 or 429 (refused for load)
	Errors   int           // other statuses and I/O errors
	Elapsed  time.Duration // wall time of the run
	P50, P99 time.Duration // latency percentiles of completed requests
	Max      time.Duration
	ShedP99  time.Duration // latency percentile of shed requests
	// OKLatencies and ShedLatencies are every completed and every shed
	// request's latency, sorted: to merge with another generator's.
	OKLatencies, ShedLatencies []time.Duration
	FirstErr                   string // the first error, for diagnosis
	ByClass                    map[string]*ClassResult
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
	if cfg.Request == nil && cfg.Next == nil {
		return nil, errors.New("loadgen: no Request function")
	}
	next := cfg.Next
	if next == nil {
		next = func(conn, n int) Req {
			path, bearer := cfg.Request(conn, n)
			return Req{Path: path, Bearer: bearer}
		}
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
		shedLat  []time.Duration
		res      = Result{ByClass: map[string]*ClassResult{}}
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
			var mine, mineShed []time.Duration
			ok, shed, bad, first := 0, 0, 0, ""
			classes := map[string]*ClassResult{}
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				shedLat = append(shedLat, mineShed...)
				res.Requests += ok
				res.Shed += shed
				res.Errors += bad
				if res.FirstErr == "" {
					res.FirstErr = first
				}
				for k, c := range classes {
					t := res.ByClass[k]
					if t == nil {
						t = &ClassResult{}
						res.ByClass[k] = t
					}
					t.OK += c.OK
					t.Shed += c.Shed
					t.Errors += c.Errors
					t.ok = append(t.ok, c.ok...)
					t.shed = append(t.shed, c.shed...)
				}
				mu.Unlock()
			}()
			var conn *client
			var interval time.Duration
			if cfg.Rate > 0 {
				interval = time.Duration(float64(time.Second) / cfg.Rate)
			}
			due := time.Now()
			for n := 0; ctx.Err() == nil && take(); n++ {
				if interval > 0 {
					if wait := time.Until(due); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
					due = due.Add(interval)
					if late := time.Now().Add(-interval); due.Before(late) {
						due = late // behind: do not burst to catch up
					}
				}
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
				req := next(c, n)
				cr := classes[req.Class]
				if cr == nil {
					cr = &ClassResult{}
					classes[req.Class] = cr
				}
				t0 := time.Now()
				status, err := conn.do(host, req, cfg.Stamp)
				d := time.Since(t0)
				if req.Done != nil && err == nil {
					req.Done(status)
				}
				if err == nil && conn.closing {
					conn.close()
					conn = nil
				}
				switch {
				case err != nil:
					if ctx.Err() == nil {
						bad++
						cr.Errors++
						if first == "" {
							first = err.Error()
						}
					}
					conn.close()
					conn = nil
				case status == 503 || status == 429:
					shed++
					cr.Shed++
					mineShed = append(mineShed, d)
					cr.shed = append(cr.shed, d)
				case status/100 != 2:
					bad++
					cr.Errors++
					if first == "" {
						first = fmt.Sprintf("%s %s: status %d", req.method(), req.Path, status)
					}
				default:
					ok++
					cr.OK++
					mine = append(mine, d)
					cr.ok = append(cr.ok, d)
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
	res.ShedP99 = percentile(shedLat, 99)
	res.OKLatencies, res.ShedLatencies = lat, shedLat
	for _, c := range res.ByClass {
		c.P50, c.P99, c.ShedP99 = percentile(c.ok, 50), percentile(c.ok, 99), percentile(c.shed, 99)
		c.ok, c.shed = nil, nil
	}
	return &res, nil
}

// percentile sorts d and returns its p-th percentile (0 for none).
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, len(d)*p/100)]
}

func (r Req) method() string {
	if r.Method == "" {
		return "GET"
	}
	return r.Method
}

// client is one keep-alive HTTP/1.1 connection.
type client struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	tp *textproto.Reader

	closing bool // the server said it closes the connection after this response
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

// do sends one request and reads the whole response, returning its
// status.
func (cl *client) do(host string, req Req, stamp bool) (int, error) {
	cl.w.WriteString(req.method())
	cl.w.WriteString(" ")
	cl.w.WriteString(req.Path)
	cl.w.WriteString(" HTTP/1.1\r\nHost: ")
	cl.w.WriteString(host)
	cl.w.WriteString("\r\nUser-Agent: healthcode-loadgen\r\n")
	if req.Bearer != "" {
		cl.w.WriteString("Authorization: Bearer ")
		cl.w.WriteString(req.Bearer)
		cl.w.WriteString("\r\n")
	}
	if stamp {
		cl.w.WriteString("X-Sent-At: ")
		cl.w.WriteString(strconv.FormatInt(time.Now().UnixMicro(), 10))
		cl.w.WriteString("\r\n")
	}
	if req.Body != nil || req.method() == "POST" {
		if req.ContentType != "" {
			cl.w.WriteString("Content-Type: ")
			cl.w.WriteString(req.ContentType)
			cl.w.WriteString("\r\n")
		}
		cl.w.WriteString("Content-Length: ")
		cl.w.WriteString(strconv.Itoa(len(req.Body)))
		cl.w.WriteString("\r\n\r\n")
		_, _ = cl.w.Write(req.Body) // an error sticks to the writer: Flush returns it
	} else {
		cl.w.WriteString("\r\n")
	}
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
	length, chunked := -1, false
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
			chunked = strings.EqualFold(strings.TrimSpace(v), "chunked")
		case "connection":
			cl.closing = strings.EqualFold(strings.TrimSpace(v), "close")
		}
	}
	if chunked {
		if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(cl.r)); err != nil {
			return 0, err
		}
		// The chunked reader stops at the last chunk; the (empty)
		// trailer's line ends the response.
		if _, err := cl.tp.ReadLine(); err != nil {
			return 0, err
		}
		return status, nil
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	if _, err := cl.r.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
