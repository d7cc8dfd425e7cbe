package server

import (
	"net/http"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server/web"
)

// DemoLogin is a demo account the start page offers in demo mode.
type DemoLogin = web.DemoLogin

// pageSession lets a page's session cookie stand for the bearer token on
// the one API route a page loads directly: the resident's QR image
// (<img src="/v1/residents/{id}/token?format=png">). Only there, so a
// cross-site link can never make an official's browser read, and log a
// read of, a resident's data through the API.
func (s *Server) pageSession(h http.HandlerFunc) http.HandlerFunc {
	name := web.SessionCookieName(s.cfg.HTTPS)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			if c, err := r.Cookie(name); err == nil && c.Value != "" {
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+c.Value)
			}
		}
		h(w, r)
	}
}

// newPages builds the HTML pages (package web) over the server's store,
// with the API's error table so pages and API answer a code with the same
// status. The templates are embedded: a parse failure is a bug the web
// package's tests catch, so it panics at start-up.
func (s *Server) newPages() *web.Pages {
	p, err := web.New(s.db, web.Options{
		Logger:     s.logger,
		Demo:       s.cfg.Demo,
		DemoLogins: s.cfg.DemoLogins,
		Status: func(code string) int {
			if st, ok := statusOf[code]; ok {
				return st
			}
			return http.StatusInternalServerError
		},
		Fault:      func(f string) { s.metrics.faults.WithLabelValues(f).Inc() },
		NoteActor:  func(r *http.Request, a healthcode.Actor) { noteActor(r.Context(), a) },
		ClientAddr: s.clientAddr,
		Tokens:     func() bool { return s.tokens.Load() != nil },
		HTTPS:      s.cfg.HTTPS,
		Witnesses:  s.witnessing.Load,
		Hotline:    s.cfg.Hotline,
		Office:     s.cfg.Office,
		TimeZone:   s.cfg.TimeZone,
	})
	if err != nil {
		panic("server: web pages: " + err.Error())
	}
	return p
}
