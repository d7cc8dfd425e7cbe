package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/tlog"
)

// Defaults of WitnessConfig.
const (
	DefaultWitnessRefresh    = time.Minute
	DefaultWitnessAlertAfter = 5 * time.Minute
	defaultWitnessPoll       = time.Second
	defaultWitnessMaxBackoff = time.Minute
)

// WitnessConfig configures the log's witnessing (StartWitnessing).
type WitnessConfig struct {
	Policy *tlog.Policy // the witnesses, each with its URL, and the quorum

	// Refresh is how often the cosignatures of an unchanged checkpoint are
	// renewed: the witnesses' new timestamps show that the log is live
	// while idle. Default DefaultWitnessRefresh.
	Refresh time.Duration
	// AlertAfter is how long the policy may go unmet before an alert of
	// kind store.AlertWitness. Default DefaultWitnessAlertAfter.
	AlertAfter time.Duration
	// Poll is how often the cosigner looks for a new checkpoint; MaxBackoff
	// bounds the wait before retrying a witness that failed. Defaults 1 s
	// and 1 minute: a round costs the log a consistency proof and one
	// write, so at most one a second, whatever the write rate.
	Poll, MaxBackoff time.Duration
	HTTP             *http.Client     // default: a client with a 10 s timeout
	Now              func() time.Time // default time.Now
}

// StartWitnessing starts, until ctx ends, the cosigner: after each new
// checkpoint (and every Refresh when there is none) it asks each witness
// of the policy to cosign the latest checkpoint, per C2SP tlog-witness,
// and stores the checkpoint with the cosignatures once they meet the
// policy; /log/checkpoint then serves it. Writes never wait for
// witnesses: the cosigner runs beside them, and a witness that is down is
// retried with exponential backoff.
func (s *Server) StartWitnessing(ctx context.Context, cfg WitnessConfig) error {
	if cfg.Policy == nil {
		return errors.New("witnessing needs a policy")
	}
	for _, w := range cfg.Policy.Witnesses {
		if w.URL == "" {
			return fmt.Errorf("witness %s has no URL", w.Name)
		}
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultWitnessRefresh
	}
	if cfg.AlertAfter <= 0 {
		cfg.AlertAfter = DefaultWitnessAlertAfter
	}
	if cfg.Poll <= 0 {
		cfg.Poll = defaultWitnessPoll
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = defaultWitnessMaxBackoff
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v, err := note.NewVerifier(s.db.LogVerifierKey())
	if err != nil {
		return err
	}
	c := &cosigner{s: s, cfg: cfg, verifier: v, start: cfg.Now(), wit: map[string]*witnessState{}}
	for _, w := range cfg.Policy.Witnesses {
		c.wit[w.Name] = &witnessState{}
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "healthcode_witness_requests_total",
		Help: "add-checkpoint requests to witnesses, by witness and result (cosigned, conflict, refused, unreachable).",
	}, []string{"witness", "result"})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "healthcode_witness_cosigned_checkpoint_age_seconds",
		Help:        "Time since the log's witness policy was last met (the quorum-th newest cosignature of the checkpoint served), or since the server started if never.",
		ConstLabels: prometheus.Labels{"policy": cfg.Policy.String()},
	}, func() float64 { return cfg.Now().Sub(c.metAt()).Seconds() })
	if err := s.metrics.reg.Register(requests); err != nil {
		return err
	}
	if err := s.metrics.reg.Register(age); err != nil {
		return err
	}
	c.requests = requests
	s.witnessing.Store(cfg.Policy)
	go c.run(ctx)
	return nil
}

// cosigner is the witnessing loop's state, owned by its goroutine but for
// met (read by the metric).
type cosigner struct {
	s        *Server
	cfg      WitnessConfig
	verifier note.Verifier
	requests *prometheus.CounterVec
	start    time.Time

	met atomic.Int64 // unix nanoseconds when the policy was last met; 0 never

	alerted time.Time // the metAt of the last outage alerted, so as to ask the store once

	cur   []byte          // the checkpoint being cosigned
	curCp tlog.Checkpoint //
	sigs  map[string]tlog.Cosignature
	wit   map[string]*witnessState
}

// witnessState is what the cosigner knows of one witness.
type witnessState struct {
	known  int64     // the size it last cosigned, the next request's old size
	fails  int       // consecutive failures
	next   time.Time // no request before
	signed time.Time // when it last cosigned, by our clock (its own may be off)
}

func (c *cosigner) metAt() time.Time {
	if n := c.met.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return c.start
}

func (c *cosigner) run(ctx context.Context) {
	if _, at, err := c.s.db.LogWitnessed(ctx); err == nil && !at.IsZero() {
		c.met.Store(at.UnixNano())
	}
	t := time.NewTicker(c.cfg.Poll)
	defer t.Stop()
	for {
		if err := c.round(ctx); err != nil && ctx.Err() == nil {
			c.s.logger.Error("witnessing", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round sends the latest checkpoint to the witnesses that are due, stores
// it once its cosignatures meet the policy, and raises the alert when the
// policy has gone unmet too long.
func (c *cosigner) round(ctx context.Context) error {
	msg, err := c.s.db.LogCheckpoint(ctx)
	if err != nil {
		return err
	}
	if string(msg) != string(c.cur) {
		cp, err := tlog.OpenCheckpoint(msg, c.verifier, c.s.db.LogOrigin())
		if err != nil {
			return err
		}
		c.cur, c.curCp, c.sigs = msg, cp, map[string]tlog.Cosignature{}
	}
	now := c.cfg.Now()
	var due []tlog.Witness
	for _, w := range c.cfg.Policy.Witnesses {
		st := c.wit[w.Name]
		_, ok := c.sigs[w.Name]
		if now.Before(st.next) || (ok && now.Sub(st.signed) < c.cfg.Refresh) {
			continue
		}
		due = append(due, w)
	}
	if len(due) > 0 {
		c.ask(ctx, due)
		if err := c.store(ctx); err != nil {
			return err
		}
	}
	return c.alert(ctx, now)
}

// ask sends the current checkpoint to each witness in due, concurrently.
func (c *cosigner) ask(ctx context.Context, due []tlog.Witness) {
	type result struct {
		w   string
		sig tlog.Cosignature
		err error
	}
	results := make([]result, len(due))
	var wg sync.WaitGroup
	for i, w := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig, err := c.send(ctx, w, c.wit[w.Name].known)
			var conflict *tlog.ConflictError
			if errors.As(err, &conflict) { // resend from the size it names
				c.requests.WithLabelValues(w.Name, "conflict").Inc()
				sig, err = c.send(ctx, w, conflict.Size)
			}
			results[i] = result{w.Name, sig, err}
		}()
	}
	wg.Wait()
	now := c.cfg.Now()
	for _, r := range results {
		st := c.wit[r.w]
		if r.err == nil {
			c.requests.WithLabelValues(r.w, "cosigned").Inc()
			c.sigs[r.w] = r.sig
			st.known, st.fails, st.next, st.signed = c.curCp.Size, 0, time.Time{}, now
			continue
		}
		result := "unreachable"
		var refused *tlog.RefusedError
		var conflict *tlog.ConflictError
		switch {
		case errors.As(r.err, &refused):
			result = "refused"
		case errors.As(r.err, &conflict):
			result = "conflict"
			st.known = conflict.Size
		}
		c.requests.WithLabelValues(r.w, result).Inc()
		st.fails++
		st.next = now.Add(min(c.cfg.MaxBackoff, time.Second<<min(st.fails-1, 16)))
		c.s.logger.Warn("witness did not cosign", "witness", r.w, "size", c.curCp.Size, "failures", st.fails, "retry_at", st.next, "err", r.err)
	}
}

// send asks w to cosign the current checkpoint from old, its last size.
func (c *cosigner) send(ctx context.Context, w tlog.Witness, old int64) (tlog.Cosignature, error) {
	if old > c.curCp.Size {
		return tlog.Cosignature{}, fmt.Errorf("witness %s has cosigned size %d, larger than this log's %d: is this a copy of the log?", w.Name, old, c.curCp.Size)
	}
	var proof sumtlog.TreeProof
	if old > 0 && old < c.curCp.Size {
		var err error
		proof, err = sumtlog.ProveTree(c.curCp.Size, old, c.s.hashReader(ctx))
		if err != nil {
			return tlog.Cosignature{}, fmt.Errorf("consistency proof %d→%d: %w", old, c.curCp.Size, err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return tlog.AddCheckpoint(rctx, c.cfg.HTTP, w, old, proof, c.cur)
}

// store saves the current checkpoint with its cosignatures once they meet
// the policy.
func (c *cosigner) store(ctx context.Context) error {
	var cs []tlog.Cosignature
	for _, w := range c.cfg.Policy.Witnesses {
		if sig, ok := c.sigs[w.Name]; ok {
			cs = append(cs, sig)
		}
	}
	at := c.cfg.Policy.QuorumTime(cs)
	if at.IsZero() {
		return nil
	}
	if err := c.s.db.SetLogWitnessed(ctx, c.curCp.Size, tlog.WithCosignatures(c.cur, cs), at); err != nil {
		return err
	}
	if at.UnixNano() > c.met.Load() {
		c.met.Store(at.UnixNano())
	}
	return nil
}

// alert raises the witness alert once per period in which the policy has
// gone unmet for longer than AlertAfter.
func (c *cosigner) alert(ctx context.Context, now time.Time) error {
	since := c.metAt()
	if now.Sub(since) < c.cfg.AlertAfter || c.alerted.Equal(since) {
		return nil
	}
	var missing []string
	for _, w := range c.cfg.Policy.Witnesses {
		if _, ok := c.sigs[w.Name]; !ok {
			missing = append(missing, w.Name)
		}
	}
	err := c.s.db.RaiseWitnessAlert(ctx, c.cfg.Policy.String(), since, map[string]any{
		"policy": c.cfg.Policy.String(), "last_met": since.UTC().Format(time.RFC3339), "size": c.curCp.Size, "missing": missing,
	})
	if err == nil {
		c.alerted = since
	}
	return err
}
