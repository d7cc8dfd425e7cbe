package server_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
)

// tcpProxy forwards connections to a database server; down stops it
// (refusing new connections and cutting those open), as the database's
// outage looks to the server, without stopping the shared cluster.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *tcpProxy) serve(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(d, c); d.Close() }() // the proxy's copies end when either side does
	_, _ = io.Copy(c, d)
	c.Close()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestTokenDuringOutage is a resident's token route while PostgreSQL
// cannot be reached, for a session the server has not cached: a clean 503
// with Retry-After and a message saying why, JSON or PNG alike, counted as
// shed; the resident page answers 503 with a page in the resident's
// language; and once the database is back, the token is served again
// with no restart.
func TestTokenDuringOutage(t *testing.T) {
	dsn := testdb.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: "127.0.0.1:0", target: u.Host, conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(p.down)
	u.Host = p.addr
	f := mustFixture(t, u.String())
	ts := mustTokenServer(t, f.db, "cn-41")
	f.mustDefaultPublished(t)
	res1 := f.login(t, "login-r_res1")

	p.down()
	for _, path := range []string{"/v1/residents/r_res1/token", "/v1/residents/r_res1/token?format=png"} {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+res1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(string(b), `"code":"unavailable"`) ||
			!strings.Contains(string(b), "the database is restarting or cannot be reached") {
			t.Errorf("GET %s during the outage: %d (Retry-After %q) %s, want 503, Retry-After 2 and why", path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/residents/r_res1", nil)
	req.AddCookie(&http.Cookie{Name: "hc_session", Value: res1})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "服务暂时不可用") {
		t.Errorf("the resident page during the outage: %d (Retry-After %q), want 503 in Chinese:\n%.600s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	status, metrics := get(t, ts.URL+"/metrics", "")
	for _, want := range []string{
		`healthcode_http_requests_shed_total{route="/v1/residents/{id}/token",status="503"} 2`,
		`healthcode_database_faults_total{fault="database_unreachable"} 3`, // the two token requests and the page
	} {
		if status != 200 || !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics: %d, want %s; it has:\n%s", status, want, grepLines(string(metrics), "healthcode_"))
		}
	}

	p.up(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, b := get(t, ts.URL+"/v1/residents/r_res1/token", res1)
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token 15 s after the database came back: %d %s", status, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
