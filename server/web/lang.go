package web

import (
	"net/http"
	"time"

	"github.com/healthcode/healthcode"
)

// Lang switches the language: it remembers {lang} in a cookie for a year
// and goes back to the page named by next.
func (p *Pages) Lang(w http.ResponseWriter, r *http.Request) {
	lang, ok := MatchLang(r.PathValue("lang"))
	if !ok {
		p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no language %q", r.PathValue("lang")))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: int(365 * 24 * time.Hour / time.Second),
		Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// langOf is a page's language: the one switched to (the cookie's), else
// DefaultLang. Pages do not follow the browser's Accept-Language: a
// resident sees zh-CN first and English on asking for it.
func langOf(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := MatchLang(c.Value); ok {
			return l
		}
	}
	return DefaultLang
}
