package server

import (
	"net/http"
	"strconv"

	"github.com/healthcode/healthcode"
)

// pageParam reads the "page" query parameter (from 1; 1 if absent).
func pageParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, healthcode.FieldErrorf("page", "must be a page number from 1")
	}
	return n, nil
}

// handleSearchResidents is GET /v1/residents?q=: residents within the
// official's jurisdiction by name, phone or national ID number, a page at
// a time (store.SearchResidents logs each one shown).
func (s *Server) handleSearchResidents(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err == nil {
		var out *healthcode.PeoplePage
		if out, err = s.db.SearchResidents(r.Context(), r.URL.Query().Get("q"), page); err == nil {
			writeJSON(w, http.StatusOK, toPeoplePageJSON(out))
			return
		}
	}
	s.writeError(w, r, err)
}

// handleRoster is GET /v1/roster: a community worker's residents with
// their codes, a page at a time (one logged read per page).
func (s *Server) handleRoster(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err == nil {
		var out *healthcode.PeoplePage
		if out, err = s.db.Roster(r.Context(), page); err == nil {
			writeJSON(w, http.StatusOK, toPeoplePageJSON(out))
			return
		}
	}
	s.writeError(w, r, err)
}
