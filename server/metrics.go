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
	// The server checking itself: integrity alerts raised by the code
	// routes and the background auditor, and the auditor's progress.
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "healthcode_integrity_alerts_total",
		Help: "Integrity alerts this process raised: a state row that differs from the log (found by the code routes or the auditor)."},
		func() float64 { return float64(db.IntegrityAlerts()) }))
	for _, g := range []struct {
		name, help string
		value      func(store.AuditStatus) float64
		counter    bool
	}{
		{"healthcode_audit_followed_entries", "The log size the background auditor's projection reached.", func(s store.AuditStatus) float64 { return float64(s.Followed) }, false},
		{"healthcode_audit_checked_rows_total", "Rows the auditor compared with its projection.", func(s store.AuditStatus) float64 { return float64(s.Checked) }, true},
		{"healthcode_audit_differences_total", "Differences the auditor found.", func(s store.AuditStatus) float64 { return float64(s.Differences) }, true},
		{"healthcode_audit_sweeps_total", "Sweeps of the whole projection the auditor completed.", func(s store.AuditStatus) float64 { return float64(s.Sweeps) }, true},
		{"healthcode_audit_last_sweep_timestamp_seconds", "When the auditor's last complete sweep ended (Unix time; 0: never).", func(s store.AuditStatus) float64 {
			if s.LastSweep.IsZero() {
				return 0
			}
			return float64(s.LastSweep.Unix())
		}, false},
	} {
		value := func() float64 {
			s, _ := db.AuditStatus()
			return g.value(s)
		}
		if g.counter {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: g.name, Help: g.help}, value))
		} else {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, value))
		}
	}
	return m
}
