package main

import (
	"runtime/debug"
	"testing"
)

// TestSetGC: serve and the benchmarks run the collector at gcPercent
// unless GOGC is set, which they leave as it is.
func TestSetGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	env := func(gogc string) func(string) string {
		return func(name string) string {
			if name == "GOGC" {
				return gogc
			}
			return ""
		}
	}
	if p, set := setGC(env("")); p != gcPercent || !set {
		t.Errorf("without GOGC: target %d (set %v), want %d", p, set, gcPercent)
	}
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("without GOGC the collector runs at %d, want %d", got, gcPercent)
	}
	// GOGC set: the runtime has read it at start; setGC leaves it.
	debug.SetGCPercent(150)
	if p, set := setGC(env("150")); p != 150 || set {
		t.Errorf("with GOGC=150: target %d (set %v), want 150, left as it is", p, set)
	}
	debug.SetGCPercent(-1)
	if p, set := setGC(env("off")); p != -1 || set {
		t.Errorf("with GOGC=off: target %d (set %v), want -1, left as it is", p, set)
	}
}
