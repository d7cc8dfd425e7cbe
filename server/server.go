// Package server is healthcode's HTTP face: the JSON API under /v1, the
// public transparency log under /log, health and metrics endpoints. All
// routes are in routes.go; handlers parse, call the store (which decides
// authorisation), and render.
//
// server imports the domain packages and store; nothing imports server but
// cmd.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// Config is the server's configuration.
type Config struct {
	MaxBodyBytes int64        // request body limit; default 1 MiB
	Logger       *slog.Logger // default slog.Default()
	Demo         bool         // demo mode: the start page lists demo logins
	DemoLogins   []DemoLogin  // the demo logins the start page offers (demo mode only)

	// Token issuing (StartTokens): KeySecret opens the sealed signing
	// keys; Issuer names a new deployment's trust list (store.DefaultIssuer
	// if empty); KeyPoll is how often to look for a key rotation
	// (DefaultKeyPoll if zero).
	KeySecret []byte
	Issuer    string
	KeyPoll   time.Duration

	// TrustedProxies are the reverse proxies in front of the server. A
	// request from one of them is taken to come from the address its
	// X-Forwarded-For header gives (the last one not itself a trusted
	// proxy), for per-address login limits; the header of any other peer
	// is ignored, since a client can write it.
	TrustedProxies []netip.Prefix

	// HTTPS says the server is published at an https URL (behind a TLS
	// proxy): session and CSRF cookies are then Secure with the __Host-
	// prefix, and every response carries Strict-Transport-Security. A
	// request that itself arrives over TLS gets Secure cookies anyway.
	HTTPS bool

	// MetricsAddr, if set, is where /metrics is served, on a listener of
	// its own (ListenAndServe opens it), so that it can stay off the public
	// network; the main listener then answers 404 for /metrics.
	MetricsAddr string

	// Hotline and Office are what the resident page tells a resident
	// with a yellow or red code to call and where to turn (see
	// web.Options).
	Hotline, Office string
	// TimeZone is the zone in which pages show times and read their
	// forms' date-time fields (web.DefaultTimeZone, Asia/Shanghai, if
	// nil); the store keeps UTC.
	TimeZone *time.Location
	// Admission bounds each class of work (admission.go); a class or a
	// field left out takes DefaultAdmission's.
	Admission map[Class]Admission
}

// Server holds what handlers share.
type Server struct {
	db      *store.DB
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	handler http.Handler
	pages   *web.Pages // the HTML pages (routes.go registers them)

	admission *admission // per-class bounds (admission.go)

	tokens     atomic.Pointer[tokenService] // nil until StartTokens
	witnessing atomic.Pointer[tlog.Policy]  // the witness policy, set by StartWitnessing
	sessions   *sessionCache                // for the token route
	codes      *codeCache                   // for the token route
	inFlight   inFlight                     // Idempotency-Keys being served (idempotency.go)
}

// New returns a server over db. Its metrics become the store's observer
// (store.DB.Observe), replacing any earlier server's: one server per store.
func New(db *store.DB, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{db: db, cfg: cfg, logger: slog.New(requestLogHandler{cfg.Logger.Handler()}), metrics: newMetrics(db, cfg.Logger), sessions: newSessionCache(), codes: newCodeCache()}
	s.pages = s.newPages()
	s.admission = s.newAdmission()
	s.handler = s.routes()
	return s
}

// MetricsHandler serves the Prometheus metrics: on the main listener's
// /metrics, or on Config.MetricsAddr's.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Registry returns the Prometheus registry the server's metrics are in.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// ListenAndServe serves on addr until ctx ends, then shuts down gracefully,
// giving in-flight requests up to 10 seconds, and logs the shutdown. ready,
// if not nil, is called with the bound address once the listener is open.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(addr string)) error {
	ln, err := listen(addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, ready)
}

// Serve is ListenAndServe on a listener already open (a benchmark's,
// which times the requests at the socket), which it closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	if s.cfg.MetricsAddr != "" {
		mln, err := listen(s.cfg.MetricsAddr)
		if err != nil {
			return errors.Join(fmt.Errorf("metrics listener: %w", err), ln.Close())
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second,
			ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
		s.logger.Info("metrics", "url", "http://"+mln.Addr().String()+"/metrics")
		go func() {
			if err := ms.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
		defer func() {
			if err := ms.Close(); err != nil {
				s.logger.Warn("metrics listener: close", "err", err)
			}
		}()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	const grace = 10 * time.Second
	s.logger.Info("shutting down", "addr", ln.Addr().String(), "grace_seconds", grace.Seconds())
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.logger.Error("shutdown incomplete: requests still in flight were cut off", "err", err)
		return err
	}
	s.logger.Info("stopped serving", "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// clientAddr is the address a request comes from, for per-address login
// limits: the peer's, or for a peer in Config.TrustedProxies the last
// address of X-Forwarded-For that is not a trusted proxy (each proxy
// appends the address it was reached from). An entry that is not an
// address stops the walk at the last trusted hop.
func (s *Server) clientAddr(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		host = h
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trustedProxy(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer.Unmap()
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !s.trustedProxy(client) {
			break
		}
	}
	return client.String()
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
