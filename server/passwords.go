package server

import "net/http"

type changePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// handleChangePassword changes the logged-in official's own password.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	var req changePasswordRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.db.ChangePassword(r.Context(), req.OldPassword, req.NewPassword, s.clientAddr(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type resetPasswordRequest struct {
	Reason   string `json:"reason"`
	Password string `json:"password"`
}

// handleResetPassword resets an official's password (admins; two for a
// command officer's or an admin's).
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	var req resetPasswordRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	pending, err := s.db.ResetPassword(r.Context(), id, req.Password, req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pending {
		writeJSON(w, http.StatusAccepted, requestedJSON{Official: id, Status: "requested",
			Message: "a command officer's or an admin's password is reset when a second admin sets it"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
