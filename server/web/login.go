package web

import (
	"net"
	"net/http"

	"github.com/healthcode/healthcode"
)

type loginData struct {
	Login string
	Next  string
	Error string // catalogue key of the error, if the last attempt failed
}

// LoginForm shows the login form.
func (p *Pages) LoginForm(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: localPath(r.URL.Query().Get("next"))}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "login", d))
}

// Login checks a login and password with store.LoginFrom (failed logins
// are limited per account and per address), sets the session
// cookie and goes on to the page asked for: a resident's own page by
// default.
func (p *Pages) Login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !p.checkCSRF(r) {
		p.error(w, r, errCSRF)
		return
	}
	d := loginData{Login: r.PostFormValue("login"), Next: localPath(r.PostFormValue("next"))}
	password := r.PostFormValue("password")
	if d.Login == "" || password == "" {
		d.Error = "login.missing"
		p.render(w, r, http.StatusBadRequest, p.newPage(w, r, "login", d))
		return
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	if p.opts.ClientAddr != nil {
		addr = p.opts.ClientAddr(r)
	}
	sess, err := p.db.LoginFrom(r.Context(), d.Login, password, addr)
	if err != nil {
		if healthcode.ErrorCode(err) != healthcode.EUNAUTH {
			p.error(w, r, err)
			return
		}
		d.Error = "login.wrong"
		p.render(w, r, p.opts.Status(healthcode.EUNAUTH), p.newPage(w, r, "login", d))
		return
	}
	p.setSession(w, r, sess.Token, sess.ExpiresAt)
	next := d.Next
	if next == "/" || next == "/login" {
		next = homeOf(sess.Actor)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// homeOf is where an actor lands after logging in: their role's own page
// (the start page says what the others can do).
func homeOf(a healthcode.Actor) string {
	if a.Kind == healthcode.ActorResident {
		return "/residents/" + a.ID
	}
	switch a.Role {
	case healthcode.RoleWorker:
		return "/people"
	case healthcode.RoleTracer:
		return "/record"
	case healthcode.RoleCommand:
		return "/command"
	case healthcode.RoleAuditor:
		return "/alerts"
	}
	return "/"
}

// Logout ends the session in the store and clears the cookie.
func (p *Pages) Logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !p.checkCSRF(r) {
		p.error(w, r, errCSRF)
		return
	}
	if c, err := r.Cookie(p.sessionCookie()); err == nil && c.Value != "" {
		if err := p.db.Logout(r.Context(), c.Value); err != nil {
			p.error(w, r, err)
			return
		}
	}
	p.clearSession(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
