package main

import (
	"bytes"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The server's side of `healthcode bench overload`: every request timed
// at the server's socket, from the read that brought its first bytes to
// the write that hands its answer to the kernel. The generators time a
// request from their write to their reading of the answer (client
// side); the server side leaves out the time a request waits before the
// server reads it, and after the server has answered, for the client to
// be scheduled.
//
// The clients stamp each request with X-Sent-At, the wall clock in
// microseconds as they write it (wrk's script; internal/loadgen's
// Stamp). Both run on this machine and read the same clock, so the
// server's read minus that stamp is how long the request waited before
// the server read it: for the server's goroutine to be scheduled.

// socketTimer collects the timings of the requests its listener's
// connections carry, while on.
type socketTimer struct {
	on       atomic.Bool
	classes  []string                     // what classify returns an index of
	classify func(requestLine []byte) int // a request's class, by its request line

	mu    sync.Mutex
	byKey map[socketKey]*socketTimes
}

// socketKey is what a timing is counted under: the request's class and
// whether it was shed (503, 429) or served (2xx). Other statuses are
// not counted.
type socketKey struct {
	class int
	shed  bool
}

// socketTimes are one key's timings.
type socketTimes struct {
	answer []time.Duration // first byte read → answer written
	before []time.Duration // the client's write (X-Sent-At) → first byte read
}

func newSocketTimer(classes []string, classify func(requestLine []byte) int) *socketTimer {
	return &socketTimer{classes: classes, classify: classify, byKey: map[socketKey]*socketTimes{}}
}

// wrap makes a listener whose connections are timed.
func (t *socketTimer) wrap(ln net.Listener) net.Listener { return timedListener{ln, t} }

func (t *socketTimer) add(k socketKey, answer, before time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.byKey[k]
	if v == nil {
		v = &socketTimes{}
		t.byKey[k] = v
	}
	v.answer = append(v.answer, answer)
	if before >= 0 {
		v.before = append(v.before, before)
	}
}

// times returns the timings, sorted, of the shed or of the served
// requests of a class ("" for all).
func (t *socketTimer) times(class string, shed bool) (answer, before []time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.byKey {
		if k.shed == shed && (class == "" || t.classes[k.class] == class) {
			answer = append(answer, v.answer...)
			before = append(before, v.before...)
		}
	}
	slices.Sort(answer)
	slices.Sort(before)
	return answer, before
}

type timedListener struct {
	net.Listener
	t *socketTimer
}

func (l timedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, t: l.t}, nil
}

// timedConn times one keep-alive connection's requests. Its clients
// send one request at a time, so the first bytes read after an answer
// are the next request's, and the first write after them begins its
// answer. net/http reads a connection from a goroutine of its own while
// a handler runs (its background read, of one byte): a mutex keeps the
// fields.
type timedConn struct {
	net.Conn
	t *socketTimer

	mu     sync.Mutex
	readAt int64  // unix nanoseconds of the read of a request's first bytes; 0 between requests
	head   []byte // its first bytes, until its request line and X-Sent-At are in
	parsed bool   // head has been read: sentAt and class are the request's
	sentAt int64  // its X-Sent-At in unix nanoseconds; 0 if none
	class  int
}

// headMax is as much of a request's start as is kept to find its request
// line and X-Sent-At.
const headMax = 1024

func (c *timedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n == 0 || !c.t.on.Load() {
		return n, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readAt == 0 {
		c.readAt = time.Now().UnixNano()
		c.head, c.parsed = c.head[:0], false
	}
	if !c.parsed {
		c.head = append(c.head, b[:min(n, headMax-len(c.head))]...)
		if bytes.Contains(c.head, []byte("\r\n\r\n")) || len(c.head) == headMax {
			c.parse()
		}
	}
	return n, err
}

// parse reads the request line and X-Sent-At from head.
func (c *timedConn) parse() {
	line, _, _ := bytes.Cut(c.head, []byte("\r\n"))
	c.class, c.sentAt, c.parsed = c.t.classify(line), sentAt(c.head), true
}

func (c *timedConn) Write(b []byte) (int, error) {
	// Written when handed to the kernel: the client may read it from
	// then on, even if this goroutine waits for a core before the call
	// returns.
	now := time.Now().UnixNano()
	c.mu.Lock()
	if c.readAt != 0 && !c.parsed {
		c.parse()
	}
	read, sent, class := c.readAt, c.sentAt, c.class
	c.readAt = 0
	c.mu.Unlock()
	if read != 0 {
		status := 0
		if len(b) >= 12 && bytes.HasPrefix(b, []byte("HTTP/1.")) {
			status, _ = strconv.Atoi(string(b[9:12]))
		}
		before := time.Duration(-1)
		if sent != 0 {
			before = time.Duration(read - sent)
		}
		switch {
		case status == 503 || status == 429:
			c.t.add(socketKey{class, true}, time.Duration(now-read), before)
		case status/100 == 2:
			c.t.add(socketKey{class, false}, time.Duration(now-read), before)
		}
	}
	return c.Conn.Write(b)
}

// sentAt is the X-Sent-At header (unix microseconds) in a request's
// first bytes, in unix nanoseconds; 0 if there is none.
func sentAt(head []byte) int64 {
	_, rest, ok := bytes.Cut(head, []byte("\r\nX-Sent-At: "))
	if !ok {
		return 0
	}
	v, _, ok := bytes.Cut(rest, []byte("\r\n"))
	if !ok {
		return 0
	}
	us, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0
	}
	return us * 1000
}
