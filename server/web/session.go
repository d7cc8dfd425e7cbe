package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/healthcode/healthcode"
)

// Cookie names. The session cookie holds the store's session token
// (store.Login); the API accepts it for GET requests too, so that an
// <img> on a page can load the resident's QR code. Published over https,
// the session and CSRF cookies carry the __Host- prefix: browsers then
// keep them only if Secure, for this host and path /, so a sibling
// subdomain or a plain-http page cannot set or overwrite them.
const (
	SessionCookie = "hc_session"
	csrfCookie    = "hc_csrf"
	langCookie    = "hc_lang"
	hostPrefix    = "__Host-"
)

// SessionCookieName is the session cookie's name on a site published over
// https or not.
func SessionCookieName(https bool) string {
	if https {
		return hostPrefix + SessionCookie
	}
	return SessionCookie
}

func (p *Pages) sessionCookie() string { return SessionCookieName(p.opts.HTTPS) }

func (p *Pages) csrfCookie() string {
	if p.opts.HTTPS {
		return hostPrefix + csrfCookie
	}
	return csrfCookie
}

// secure reports whether cookies set in answer to r are Secure.
func (p *Pages) secure(r *http.Request) bool { return p.opts.HTTPS || r.TLS != nil }

// Session puts the actor of the request's session cookie in its context.
// Without a cookie the request acts as the public; an unknown or expired
// session is cleared and the request goes on as the public.
func (p *Pages) Session(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(p.sessionCookie())
		if err != nil || c.Value == "" {
			h(w, r)
			return
		}
		actor, err := p.db.Authenticate(r.Context(), c.Value)
		if err != nil {
			if healthcode.ErrorCode(err) != healthcode.EUNAUTH {
				p.error(w, r, err)
				return
			}
			p.clearSession(w, r)
			h(w, r)
			return
		}
		p.opts.NoteActor(r, actor)
		h(w, r.WithContext(healthcode.NewContext(r.Context(), actor)))
	}
}

func (p *Pages) setSession(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: p.sessionCookie(), Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
}

func (p *Pages) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: p.sessionCookie(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
}

// csrfToken returns the token forms on this page carry. It is a
// double-submit token: a random value in an HttpOnly cookie, set here if
// missing, that every POST must repeat in its "csrf" field. A logged-in
// visitor's token is derived from the session instead, so logging in
// changes it.
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.sessionCookie()); err == nil && c.Value != "" && healthcode.ActorFrom(r.Context()).Kind != "" {
		return sessionCSRF(c.Value)
	}
	if c, err := r.Cookie(p.csrfCookie()); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	var b [32]byte
	if _, err := io.ReadFull(p.opts.Rand, b[:]); err != nil {
		return ""
	}
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: p.csrfCookie(), Value: v, Path: "/", HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
	// Later code in this request must see the same value.
	r.AddCookie(&http.Cookie{Name: p.csrfCookie(), Value: v})
	return v
}

func sessionCSRF(session string) string {
	h := sha256.Sum256([]byte("healthcode csrf v1\x00" + session))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// crossOrigin refuses requests that the browser says come from another
// site (Sec-Fetch-Site, else Origin against Host): the standard library's
// check, in front of the token.
var crossOrigin = http.NewCrossOriginProtection()

// checkCSRF reports whether a POST carries the token of its session (or of
// its csrf cookie, before login) and, when the browser says where it comes
// from, comes from this site.
func (p *Pages) checkCSRF(r *http.Request) bool {
	if crossOrigin.Check(r) != nil {
		return false
	}
	got := r.PostFormValue("csrf")
	if got == "" {
		return false
	}
	var want string
	if c, err := r.Cookie(p.sessionCookie()); err == nil && c.Value != "" && healthcode.ActorFrom(r.Context()).Kind != "" {
		want = sessionCSRF(c.Value)
	} else if c, err := r.Cookie(p.csrfCookie()); err == nil {
		want = c.Value
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// maxFormBytes bounds a posted form: a login is a few hundred bytes.
const maxFormBytes = 16 << 10

var errCSRF = healthcode.Errorf(healthcode.EFORBIDDEN, "the form has expired: reload the page and try again")

// localPath returns next if it is a path on this site, else "/".
//
// Browsers drop tabs and newlines from a URL and read a backslash as a
// slash, so "/\t/host" and "/\\host" are "//host", another site: a path
// with a control character or a backslash anywhere is refused, not
// cleaned, and what is left must parse as a path with no scheme or host.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || unicode.IsControl(r) }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
