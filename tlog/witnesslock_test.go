//go:build unix

package tlog

import (
	"strings"
	"testing"
)

// TestWitnessLock checks that a second witness on the same state
// directory is refused while the first runs, and may start once it stops.
func TestWitnessLock(t *testing.T) {
	dir := t.TempDir()
	first := &WitnessServer{Dir: dir}
	unlock, err := first.Lock()
	if err != nil {
		t.Fatal(err)
	}
	second := &WitnessServer{Dir: dir}
	if _, err := second.Lock(); err == nil || !strings.Contains(err.Error(), "in use by another witness process") {
		t.Fatalf("second witness on one directory: %v, want refused", err)
	}
	other := &WitnessServer{Dir: t.TempDir()}
	if u, err := other.Lock(); err != nil {
		t.Fatalf("a witness on another directory: %v", err)
	} else {
		u()
	}
	unlock()
	u, err := second.Lock()
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	u()
}
