package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
)

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument wraps a route's handler: request id, panic recovery, metrics
// by route pattern, and one structured log line per request.
func (s *Server) instrument(pattern string, h http.Handler) http.Handler {
	route := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		route = p
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		// Never sniffed into another type; and never kept by a cache when
		// the request carries credentials (its answer is personal) or
		// may start a session (its answer holds the token).
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if s.cfg.HTTPS {
			// Published over https: browsers never fall back to plain
			// http for this host, where a session cookie could be read.
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		if private(r) {
			w.Header().Set("Cache-Control", "no-store")
		}
		ctx := withRequestInfo(r.Context(), id)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.logger.ErrorContext(ctx, "panic", "path", r.URL.Path, "panic", p)
				if sw.status == 0 {
					s.writeError(sw, r, healthcode.Errorf(healthcode.EINTERNAL, "internal error"))
				}
			}
			d := time.Since(start)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			method := metricMethod(r.Method)
			s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			s.metrics.latency.WithLabelValues(method, route).Observe(d.Seconds())
			if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && route != "/readyz" {
				s.metrics.shed.WithLabelValues(route, strconv.Itoa(status)).Inc()
			}
			s.logger.DebugContext(ctx, "request", "method", r.Method, "route", route, "status", status, "duration_ms", d.Milliseconds())
		}()
		h.ServeHTTP(sw, r)
	})
}

// authenticate puts the actor of the request's bearer token (a session
// token or a source's API key) in the context. A request without
// credentials acts as the public; bad credentials are 401.
func (s *Server) authenticate(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			h(w, r)
			return
		}
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			s.writeError(w, r, healthcode.Errorf(healthcode.EUNAUTH, "Authorization header must be \"Bearer TOKEN\""))
			return
		}
		var actor healthcode.Actor
		if strings.HasPrefix(token, "hck_") {
			src, err := s.db.SourceByKey(r.Context(), token)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			actor = healthcode.Actor{Kind: healthcode.ActorSource, ID: src.ID, Name: src.Name, Jurisdiction: src.Jurisdiction}
		} else {
			a, err := s.db.Authenticate(r.Context(), token)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			actor = a
		}
		noteActor(r.Context(), actor)
		h(w, r.WithContext(healthcode.NewContext(r.Context(), actor)))
	}
}

// metricMethod is a request's method as a metric label: the standard
// methods as themselves, anything else (a client may send any token) as
// "other", so that no client can create series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// private reports whether a request's answer may carry personal data or
// a session token: it carries credentials (a bearer token or a cookie),
// or it is not a GET or HEAD (a login, a form).
func private(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" ||
		(r.Method != http.MethodGet && r.Method != http.MethodHead)
}
