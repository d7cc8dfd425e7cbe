package main

import (
	"fmt"
	"math"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// schedSampler watches the Go runtime of the benchmark's process (the
// server and the in-process generator) during the overload: how many
// goroutines are runnable but not running (sampled every 10 ms), how
// long goroutines waited runnable before they ran (/sched/latencies),
// and the GC's cycles. A connection's goroutine that waits there is a
// request the server has not read yet; a goroutine stopped by a GC
// cycle goes to the back of that queue.
type schedSampler struct {
	mu       sync.Mutex
	runnable []uint64

	before, after []metrics.Sample // gcMetrics at the start and at the end
	elapsed       time.Duration
}

// gcMetrics are what schedSampler reads at the start and at the end.
var gcMetrics = []string{
	"/sched/latencies:seconds",
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/allocs:bytes",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/cpu/classes/idle:cpu-seconds",
	"/gc/heap/live:bytes",
	"/gc/gogc:percent",
}

func readGCMetrics() []metrics.Sample {
	s := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return s
}

func (s *schedSampler) start() (stop func()) {
	s.before = readGCMetrics()
	t0 := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []metrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}}
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				s.mu.Lock()
				s.runnable = append(s.runnable, sample[0].Value.Uint64())
				s.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		s.after, s.elapsed = readGCMetrics(), time.Since(t0)
	}
}

// String says what was seen: the runnable goroutines' mean and maximum;
// the p50, p99 and p99.9 of the time goroutines waited runnable (the
// upper bounds of their buckets); GC cycles a second, allocation, the
// GC's share of the process's CPU, the live heap and GOGC.
func (s *schedSampler) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.before == nil || s.after == nil {
		return "not sampled"
	}
	var sum, peak uint64
	for _, n := range s.runnable {
		sum += n
		peak = max(peak, n)
	}
	mean := 0.0
	if len(s.runnable) > 0 {
		mean = float64(sum) / float64(len(s.runnable))
	}
	out := fmt.Sprintf("runnable goroutines mean %.0f, max %d", mean, peak)
	if s.after[0].Value.Kind() == metrics.KindFloat64Histogram {
		out += "; waited runnable " + histDiff(s.before[0].Value.Float64Histogram(), s.after[0].Value.Float64Histogram())
	}
	u := func(i int) float64 {
		if s.after[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(s.after[i].Value.Uint64() - s.before[i].Value.Uint64())
	}
	f := func(i int) float64 {
		if s.after[i].Value.Kind() != metrics.KindFloat64 {
			return 0
		}
		return s.after[i].Value.Float64() - s.before[i].Value.Float64()
	}
	gogc := "off"
	if v := s.after[7].Value; v.Kind() == metrics.KindUint64 && v.Uint64() < math.MaxInt32 {
		gogc = strconv.FormatUint(v.Uint64(), 10)
	}
	sec := s.elapsed.Seconds()
	busy := f(4) - f(5)
	gcShare := 0.0
	if busy > 0 {
		gcShare = 100 * f(3) / busy
	}
	var live uint64
	if v := s.after[6].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	return out + fmt.Sprintf("; GC (GOGC %s): %.1f cycles/s, %.0f MB/s allocated, %.0f%% of the process's CPU, live heap %d MiB",
		gogc, u(1)/sec, u(2)/sec/1e6, gcShare, live>>20)
}

// histDiff is the p50, p99 and p99.9 of the counts b added to a, as the
// upper bounds of their buckets.
func histDiff(a, b *metrics.Float64Histogram) string {
	if len(a.Counts) != len(b.Counts) {
		return "unknown"
	}
	counts := make([]uint64, len(b.Counts))
	var total uint64
	for i := range counts {
		counts[i] = b.Counts[i] - a.Counts[i]
		total += counts[i]
	}
	q := func(p float64) string {
		want := uint64(math.Ceil(p * float64(total)))
		var n uint64
		for i, c := range counts {
			n += c
			if c > 0 && n >= want {
				if up := b.Buckets[i+1]; !math.IsInf(up, 1) {
					return time.Duration(up * float64(time.Second)).Round(time.Microsecond).String()
				}
				return "> " + time.Duration(b.Buckets[i]*float64(time.Second)).String()
			}
		}
		return "-"
	}
	return fmt.Sprintf("p50 %s, p99 %s, p99.9 %s (of %d sampled)", q(0.5), q(0.99), q(0.999), total)
}
