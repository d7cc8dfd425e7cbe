package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/healthcode/healthcode/store"
)

// metrics are the server's own registry, not the global default.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(db *store.DB) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "healthcode_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	m.reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The log's single writer: its load says how close the store is to its
	// write capacity.
	for _, c := range []struct {
		name, help string
		value      func(store.CommitStats) float64
	}{
		{"healthcode_log_commits_total", "Batches the log committer committed.", func(s store.CommitStats) float64 { return float64(s.Batches) }},
		{"healthcode_log_write_requests_total", "Write requests in committed batches.", func(s store.CommitStats) float64 { return float64(s.Requests) }},
		{"healthcode_log_entries_total", "Log entries committed.", func(s store.CommitStats) float64 { return float64(s.Entries) }},
		{"healthcode_log_committer_busy_seconds_total", "Time the log committer spent running batches; its rate is the single writer's load (1 = saturated).", func(s store.CommitStats) float64 { return s.Busy.Seconds() }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help}, func() float64 { return c.value(db.CommitStats()) }))
	}
	return m
}
