package main

import (
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// gcPercent is the garbage collector's target (GOGC: the heap grows to
// 1 + gcPercent/100 times what is live before a collection) that serve
// and the benchmarks run with unless GOGC is set in the environment. A
// server's live heap is small (15–35 MiB under the overload benchmark),
// so at Go's default of 100 it collected ten times a second under load;
// a goroutine that allocates while a cycle starts or ends its marking
// waits for it (8–40 ms on the loaded 2-core machine), and then behind
// every runnable goroutine: 4% of the requests shed took over a
// millisecond between their read and their 503, against 1.4% at 400,
// with about three collections a second (docs/operations.md, "Garbage
// collection"; BENCHMARKS.md, "Where a shed's time goes, from both
// sides"). GOMEMLIMIT bounds the heap this lets grow.
const gcPercent = 400

// setGC sets the collector's target to gcPercent unless getenv has
// GOGC, and returns the target in effect (-1 for off) and whether it was
// set here.
func setGC(getenv func(string) string) (percent int, set bool) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
		return gcPercent, true
	}
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() > math.MaxInt32 {
		return -1, false
	}
	return int(s[0].Value.Uint64()), false
}

// gcSetting sets the collector's target as serve does (setGC) and says
// what it is, for a benchmark's report.
func gcSetting(e *env) string {
	p, set := setGC(e.getenv)
	from := "GOGC"
	if set {
		from = "healthcode's default"
	}
	gogc := "off"
	if p >= 0 {
		gogc = fmt.Sprint(p)
	}
	return fmt.Sprintf("GOGC %s (%s)", gogc, from)
}
