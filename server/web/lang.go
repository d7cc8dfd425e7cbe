package web

import (
	"net/http"
	"time"

	"github.com/healthcode/healthcode"
)

// Lang switches the language: it remembers {lang} in a cookie for a year
// and goes back to the page named by next.
func (p *Pages) Lang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if _, ok := catalogue[lang]; !ok {
		p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no language %q", lang))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: int(365 * 24 * time.Hour / time.Second),
		Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// langOf is the request's language: the cookie's, else zh-CN.
func langOf(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := catalogue[c.Value]; ok {
			return c.Value
		}
	}
	return DefaultLang
}
