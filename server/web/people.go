package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

type peopleData struct {
	Query  string
	Found  *healthcode.PeoplePage // the search's results, when Query is set
	Roster *healthcode.PeoplePage // a community worker's roster, without a query
	Worker bool
}

// People is where officials find residents by name: a search within
// their jurisdiction by name, phone or ID number, and for a community
// worker the roster of their community with each code's colour (their home
// after login). Lists come a page at a time; the store logs the reads.
func (p *Pages) People(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	a := healthcode.ActorFrom(r.Context())
	if !readsResidents(a) {
		p.error(w, r, healthcode.Errorf(healthcode.EFORBIDDEN, "your role reads no residents"))
		return
	}
	d := peopleData{Query: strings.TrimSpace(r.URL.Query().Get("q")), Worker: a.Role == healthcode.RoleWorker}
	page, err := pageOf(r)
	if err == nil && d.Query != "" {
		d.Found, err = p.db.SearchResidents(r.Context(), d.Query, page)
	} else if err == nil && d.Worker {
		d.Roster, err = p.db.Roster(r.Context(), page)
	}
	if err != nil {
		p.error(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "people", d))
}

// readsResidents reports whether an actor's role reads residents' data
// (and so finds them): community workers, flow tracers, command officers.
func readsResidents(a healthcode.Actor) bool {
	return a.Kind == healthcode.ActorOfficial && healthcode.Authorize(a, healthcode.OpReadResident, a.Jurisdiction, "") == nil
}

// pageOf reads a list's "page" parameter (from 1).
func pageOf(r *http.Request) (int, error) { return pageNamed(r, "page") }

// pageNamed reads the page parameter name of one of a page's lists (from
// 1; 1 if absent).
func pageNamed(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxPage {
		return 0, healthcode.FieldErrorf(name, "must be a page number from 1")
	}
	return n, nil
}

// pager is what the "pager" template needs: the page, whether there are
// pages before and after, and the link to another page.
type pager struct {
	Page       int
	More       bool
	Path, Name string // the page's path with its other parameters; the page parameter's name
	lang       string
}

// PageURL is the link to page n of the list.
func (pg pager) PageURL(n int) string {
	sep := "?"
	if strings.Contains(pg.Path, "?") {
		sep = "&"
	}
	return pg.Path + sep + pg.Name + "=" + strconv.Itoa(n)
}

// Pager returns the pager of a list on this page: path is the page's path
// and query without the page parameter.
func (pg *page) Pager(path, name string, n int, more bool) pager {
	return pager{Page: n, More: more, Path: path, Name: name, lang: pg.Lang}
}

// paginate returns page n (from 1) of list, perPage long, and whether a
// next page exists: for lists the store returns whole but a page shows
// in part.
func paginate[T any](list []T, n, perPage int) ([]T, bool) {
	start := (n - 1) * perPage
	if start >= len(list) {
		return nil, false
	}
	end := min(start+perPage, len(list))
	return list[start:end], end < len(list)
}

// T translates for the pager's template.
func (pg pager) T(key string, args ...any) (string, error) { return translate(pg.lang, key, args...) }
