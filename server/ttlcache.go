package server

import (
	"sync"
	"time"
)

// ttlCache is the servers' one in-memory cache: a map whose entries are
// fresh for ttl after they were put. It is bounded: past cacheMaxEntries it
// starts afresh.
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, m: make(map[K]ttlEntry[V])}
}

// get returns k's value if it was put less than ttl before now (and not
// after now: a clock that went back makes the entry stale).
func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) >= c.ttl || now.Before(e.at) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// peek returns k's value, fresh or not.
func (c *ttlCache[K, V]) peek(k K) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	return e.v, ok
}

// put stores k's value as of now.
func (c *ttlCache[K, V]) put(k K, v V, now time.Time) {
	c.mu.Lock()
	if len(c.m) >= cacheMaxEntries {
		c.m = make(map[K]ttlEntry[V])
	}
	c.m[k] = ttlEntry[V]{v, now}
	c.mu.Unlock()
}

// update changes k's value in place, if it is there, keeping its time.
func (c *ttlCache[K, V]) update(k K, f func(*V)) {
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		f(&e.v)
		c.m[k] = e
	}
	c.mu.Unlock()
}

// forget removes k.
func (c *ttlCache[K, V]) forget(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
