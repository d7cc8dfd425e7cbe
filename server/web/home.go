package web

import "net/http"

type homeData struct {
	DemoLogins []DemoLogin
}

// Home is the start page: what healthcode is, what to try, and in demo mode
// the demo logins.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) {
	var d homeData
	if p.opts.Demo {
		d.DemoLogins = p.opts.DemoLogins
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "home", d))
}
