package server

import "net/http"

// handleHeldDesignations lists the designations held for residents that
// the command officer may release or refuse (docs/accountability.md).
func (s *Server) handleHeldDesignations(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	holds, more, err := s.db.HeldDesignations(r.Context(), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, holdsPageJSON{Holds: wireList(holds, toHoldJSON), More: more, Page: page})
}

// handleDecideHold releases (release true) or refuses a designation held
// for one resident.
func (s *Server) handleDecideHold(release bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := s.decodeReason(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h, err := s.db.DecideDesignationHold(r.Context(), r.PathValue("key"), r.PathValue("resident"), release, reason)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toHoldJSON(*h))
	}
}
