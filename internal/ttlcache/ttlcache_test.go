package ttlcache

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	c := New[string, int](time.Second, 100)
	c.Put("a", 1, t0)
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
		if v, ok := c.Get("a", tt.at); ok != tt.ok || ok && v != 1 {
			t.Errorf("%s: get = %d, %v; want fresh %v", tt.name, v, ok, tt.ok)
		}
	}
	c.Update("a", func(v *int) { *v = 2 })
	c.Update("b", func(v *int) { *v = 3 }) // absent: nothing to update
	if v, ok := c.Peek("a"); !ok || v != 2 {
		t.Errorf("after update: %d, %v", v, ok)
	}
	if v, ok := c.Get("a", t0.Add(time.Millisecond)); !ok || v != 2 {
		t.Errorf("update kept the time: got %d, %v", v, ok)
	}
	if _, ok := c.Peek("b"); ok {
		t.Error("update added an absent key")
	}
	c.Forget("a")
	if _, ok := c.Peek("a"); ok {
		t.Error("forget kept the key")
	}
	for i := 0; i < 101; i++ {
		c.Put(string(rune(i)), i, t0)
	}
	if n := c.Len(); n > 100 {
		t.Errorf("%d entries, want at most 100", n)
	}
}
