package web

import (
	"net/http"
	"net/url"

	"github.com/healthcode/healthcode"
)

// Consequential actions ask first (a confirmation page that says in words
// what will happen and posts the same form again with confirm=yes) and
// end on a page that says what happened and what changed.

type confirmData struct {
	Action  string     // where the confirmed form posts
	Summary []string   // what will happen, in words
	Fields  url.Values // the form's fields, posted again
	Button  string     // the confirming button's label
	Back    string     // where "cancel" goes
}

type doneData struct {
	Title string
	Lines []string // what happened and what changed, in words
	Links []doneLink
}

type doneLink struct{ Href, Label string }

// confirmed reports whether a posted form carries the confirmation.
func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

// askConfirm renders the confirmation page for the posted form.
func (p *Pages) askConfirm(w http.ResponseWriter, r *http.Request, d confirmData) {
	d.Action = r.URL.Path
	d.Fields = url.Values{}
	for k, vs := range r.PostForm {
		if k != "csrf" && k != "confirm" {
			d.Fields[k] = vs
		}
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "confirm", d))
}

// codeChange says in words what happened to a resident's code between
// two reads: "居民 某某 的健康码已由红码转为绿码", or that it stayed.
func codeChange(lang, name string, before, after healthcode.Colour) string {
	if before == after {
		s, _ := translate(lang, "done.code.same", name, after.Label(lang))
		return s
	}
	s, _ := translate(lang, "done.code.changed", name, before.Label(lang), after.Label(lang))
	return s
}
