package server

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	c := newTTLCache[string, int](time.Second)
	c.put("a", 1, t0)
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"at once", t0, true},
		{"just before the ttl", t0.Add(time.Second - time.Nanosecond), true},
		{"at the ttl", t0.Add(time.Second), false},
		{"a clock gone back", t0.Add(-time.Millisecond), false},
	}
	for _, tt := range tests {
		if v, ok := c.get("a", tt.at); ok != tt.ok || ok && v != 1 {
			t.Errorf("%s: get = %d, %v; want fresh %v", tt.name, v, ok, tt.ok)
		}
	}
	c.update("a", func(v *int) { *v = 2 })
	c.update("b", func(v *int) { *v = 3 }) // absent: nothing to update
	if v, ok := c.peek("a"); !ok || v != 2 {
		t.Errorf("after update: %d, %v", v, ok)
	}
	if v, ok := c.get("a", t0.Add(time.Millisecond)); !ok || v != 2 {
		t.Errorf("update kept the time: got %d, %v", v, ok)
	}
	if _, ok := c.peek("b"); ok {
		t.Error("update added an absent key")
	}
	c.forget("a")
	if _, ok := c.peek("a"); ok {
		t.Error("forget kept the key")
	}
	for i := 0; i < cacheMaxEntries+1; i++ {
		c.put(string(rune(i)), i, t0)
	}
	if n := len(c.m); n > cacheMaxEntries {
		t.Errorf("%d entries, want at most %d", n, cacheMaxEntries)
	}
}
