package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// metrics are the server's own registry, not the global default. They
// observe the store's events (store.Observer) and read what the database
// holds (the log's size, the job queue, the alerts) at each scrape, so
// those do not reset when a process restarts and agree between replicas.
// docs/operations.md lists every metric and example alerts.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	shed     *prometheus.CounterVec // 429 and 503 answers
	faults   *prometheus.CounterVec // 503 answers for a database fault
	tokens   prometheus.Counter

	facts        *prometheus.CounterVec
	evalDuration prometheus.Histogram
	evaluated    prometheus.Counter
	codeChanges  *prometheus.CounterVec
	loginFails   *prometheus.CounterVec
	taskFails    *prometheus.CounterVec
}

func newMetrics(db *store.DB, logger *slog.Logger) *metrics {
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
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_http_requests_shed_total",
			Help: "Requests refused for load or rate limits (429 Too Many Requests, 503 Service Unavailable), by route pattern and status.",
		}, []string{"route", "status"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_database_faults_total",
			Help: "Requests answered 503 because of a database fault, by fault: database_unreachable (PostgreSQL restarting or gone), disk_full.",
		}, []string{"fault"}),
		tokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "healthcode_tokens_issued_total",
			Help: "Signed code tokens served.",
		}),
		facts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_facts_ingested_total",
			Help: "Submitted facts by source (a source's id, or official for hand entry) and outcome (active, pending, duplicate, rejected).",
		}, []string{"source", "outcome"}),
		evalDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "healthcode_evaluation_duration_seconds",
			Help:    "Time of one evaluation run of the rules over a set of residents (a fact batch's residents, or a job's chunk).",
			Buckets: []float64{.00001, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}),
		evaluated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "healthcode_evaluated_residents_total",
			Help: "Residents whose codes were evaluated.",
		}),
		codeChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_code_changes_total",
			Help: "Committed code changes by new colour and cause (fact, retraction, appeal, ruleset, risk_area, time).",
		}, []string{"colour", "cause"}),
		loginFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_login_failures_total",
			Help: "Failed logins by reason: wrong_password (wrong login, password or disabled account) or throttled (refused before the check).",
		}, []string{"reason"}),
		taskFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcode_job_failures_total",
			Help: "Failures of the background scheduler's tasks (jobs, escalate, reevaluate_due); each is retried at the next tick.",
		}, []string{"task"}),
	}
	// Series that alerts take rates of exist from the start, at 0.
	for _, task := range []string{store.TaskJobs, store.TaskEscalate, store.TaskReevaluateDue} {
		m.taskFails.WithLabelValues(task)
	}
	for _, reason := range []string{"wrong_password", "throttled"} {
		m.loginFails.WithLabelValues(reason)
	}
	b := healthcode.ReadBuild()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "healthcode_build_info",
		Help: "The running binary: module version, VCS revision and whether its tree was modified, Go version. Always 1.",
	}, []string{"version", "revision", "modified", "goversion"})
	build.WithLabelValues(b.Version, b.Revision, strconv.FormatBool(b.Modified), b.GoVersion).Set(1)

	m.reg.MustRegister(m.requests, m.latency, m.shed, m.faults, m.tokens, m.facts, m.evalDuration, m.evaluated, m.codeChanges, m.loginFails, m.taskFails, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{db: db, logger: logger})
	for name, pool := range db.Pools() {
		m.reg.MustRegister(collectors.NewDBStatsCollector(pool, name))
	}
	// The log's single writer: its load says how close the store is to its
	// write capacity. These count this process's commits since it started.
	for _, c := range []struct {
		name, help string
		value      func(store.CommitStats) float64
	}{
		{"healthcode_log_commits_total", "Batches this process's log committer committed.", func(s store.CommitStats) float64 { return float64(s.Batches) }},
		{"healthcode_log_write_requests_total", "Write requests in this process's committed batches.", func(s store.CommitStats) float64 { return float64(s.Requests) }},
		{"healthcode_log_entries_total", "Log entries this process committed (the log's size is healthcode_log_size_entries).", func(s store.CommitStats) float64 { return float64(s.Entries) }},
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
	db.Observe(m)
	return m
}

// The store's events (store.Observer).

func (m *metrics) FactsRecorded(source, outcome string, n int) {
	m.facts.WithLabelValues(source, outcome).Add(float64(n))
}

func (m *metrics) Evaluated(residents int, d time.Duration) {
	m.evalDuration.Observe(d.Seconds())
	m.evaluated.Add(float64(residents))
}

func (m *metrics) CodeChanged(colour healthcode.Colour, cause string) {
	m.codeChanges.WithLabelValues(string(colour), cause).Inc()
}

func (m *metrics) LoginFailed(throttled bool) {
	reason := "wrong_password"
	if throttled {
		reason = "throttled"
	}
	m.loginFails.WithLabelValues(reason).Inc()
}

func (m *metrics) TaskFailed(task string) { m.taskFails.WithLabelValues(task).Inc() }

// storeCollector reads, at each scrape, what only the database knows.
type storeCollector struct {
	db     *store.DB
	logger *slog.Logger
}

var (
	descLogSize = prometheus.NewDesc("healthcode_log_size_entries",
		"Entries in the transparency log (its tree size), read from the log head.", nil, nil)
	descCheckpointAge = prometheus.NewDesc("healthcode_log_checkpoint_age_seconds",
		"Age of the log's newest signed checkpoint: every commit signs one, so this is also the time since the last write.", nil, nil)
	descJobsPending = prometheus.NewDesc("healthcode_jobs_pending",
		"Re-evaluation jobs not yet finished (the job queue's depth).", nil, nil)
	descJobsOldest = prometheus.NewDesc("healthcode_jobs_oldest_due_age_seconds",
		"How long the oldest due job has waited since its run time (0 when none is due): growing means the queue is stuck.", nil, nil)
	descAlerts = prometheus.NewDesc("healthcode_alerts_raised_total",
		"Alerts raised for auditors, by kind, since the database began (read from the database).", []string{"kind"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogSize, descCheckpointAge, descJobsPending, descJobsOldest, descAlerts} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fail := func(d *prometheus.Desc, err error) {
		c.logger.Warn("metrics: reading the database failed", "metric", d.String(), "err", err)
		ch <- prometheus.NewInvalidMetric(d, err)
	}
	if h, err := c.db.LogHead(ctx); err != nil {
		fail(descLogSize, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descLogSize, prometheus.GaugeValue, float64(h.Size))
		if h.Size > 0 {
			ch <- prometheus.MustNewConstMetric(descCheckpointAge, prometheus.GaugeValue, h.Age.Seconds())
		}
	}
	if q, err := c.db.JobQueue(ctx); err != nil {
		fail(descJobsPending, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descJobsPending, prometheus.GaugeValue, float64(q.Pending))
		ch <- prometheus.MustNewConstMetric(descJobsOldest, prometheus.GaugeValue, q.OldestDueAge.Seconds())
	}
	if counts, err := c.db.AlertCounts(ctx); err != nil {
		fail(descAlerts, err)
	} else {
		for kind, n := range counts {
			ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(n), kind)
		}
	}
}
