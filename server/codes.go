package server

import (
	"net/http"

	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/store"
)

// lang is the language an API request asks for: ?lang=, else its
// Accept-Language, as web.MatchLang matches them; web.DefaultLang if
// neither names one of web.Langs.
func lang(r *http.Request) string {
	if l, ok := web.MatchLang(r.URL.Query().Get("lang")); ok {
		return l
	}
	l, _ := web.MatchLang(r.Header.Get("Accept-Language"))
	return l
}

func (s *Server) handleCode(w http.ResponseWriter, r *http.Request) {
	ex, err := s.db.Explain(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, explain(ex, lang(r)))
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, more, err := s.db.History(r.Context(), r.PathValue("id"), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := lang(r)
	out := wireList(list, func(ex *store.Explanation) explanationJSON { return explain(ex, l) })
	writeJSON(w, http.StatusOK, changesPageJSON{Changes: out, More: more, Page: page})
}
