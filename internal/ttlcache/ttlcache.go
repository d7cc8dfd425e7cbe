// Package ttlcache is the servers' one in-memory cache (the API's
// sessions and codes, the pages' statistics): a map whose entries are
// fresh for a time to live after they were put, bounded in size. The
// caller passes the time, so that tests set the clock. It imports only the
// standard library.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values that are fresh for TTL after they were put.
// Past Max entries it starts afresh, bounding memory.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[K]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns an empty cache whose entries are fresh for ttl, holding at
// most max of them.
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, m: make(map[K]entry[V])}
}

// Get returns k's value if it was put less than the TTL before now (and
// not after now: a clock that went back makes the entry stale).
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) >= c.ttl || now.Before(e.at) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Peek returns k's value, fresh or not.
func (c *Cache[K, V]) Peek(k K) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	return e.v, ok
}

// Put stores k's value as of now.
func (c *Cache[K, V]) Put(k K, v V, now time.Time) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[K]entry[V])
	}
	c.m[k] = entry[V]{v, now}
	c.mu.Unlock()
}

// Update changes k's value in place, if it is there, keeping its time.
func (c *Cache[K, V]) Update(k K, f func(*V)) {
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		f(&e.v)
		c.m[k] = e
	}
	c.mu.Unlock()
}

// Forget removes k.
func (c *Cache[K, V]) Forget(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Len is the number of entries, fresh or not.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
