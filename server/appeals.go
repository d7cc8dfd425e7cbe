package server

import (
	"net/http"
	"strconv"

	"github.com/healthcode/healthcode"
)

// maxAppealBody bounds an appeal: five 2 MiB attachments in base64 and the
// statement.
const maxAppealBody = 15 << 20

type appealRequest struct {
	Resident    string   `json:"resident"`
	FactKeys    []string `json:"fact_keys"`
	Statement   string   `json:"statement"`
	ConsentRef  string   `json:"consent_ref,omitempty"`
	Attachments []struct {
		Name      string `json:"name"`
		MediaType string `json:"media_type"`
		Data      []byte `json:"data"` // base64
	} `json:"attachments,omitempty"`
}

func (s *Server) handleFileAppeal(w http.ResponseWriter, r *http.Request) {
	var req appealRequest
	if err := decodeStrictRead(http.MaxBytesReader(w, r.Body, maxAppealBody), &req, maxAppealBody); err != nil {
		s.writeError(w, r, err)
		return
	}
	in := healthcode.AppealRequest{Resident: req.Resident, FactKeys: req.FactKeys, Statement: req.Statement, ConsentRef: req.ConsentRef}
	for _, a := range req.Attachments {
		in.Attachments = append(in.Attachments, healthcode.Attachment{Name: a.Name, MediaType: a.MediaType, Data: a.Data})
	}
	a, err := s.db.FileAppeal(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAnswer(w, r, answerAppeal, a)
}

// answerAppeal is the answer to filing an appeal.
func answerAppeal(_ *http.Request, v any) (int, any) {
	return http.StatusCreated, toAppealJSON(v.(*healthcode.Appeal))
}

func (s *Server) handleAppeal(w http.ResponseWriter, r *http.Request) {
	a, err := s.db.Appeal(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAppealJSON(a))
}

func (s *Server) handleAppealAttachment(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		s.writeError(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no attachment %q", r.PathValue("n")))
		return
	}
	a, err := s.db.AttachmentData(r.Context(), r.PathValue("id"), n)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Bytes to download, whatever type the uploader declared (the
	// appeal's attachment media_type): never rendered, as the page serves them.
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", "attachment")
	h.Set("Digest", "sha-256="+a.SHA256)
	h.Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.Write(a.Data)
}

func (s *Server) handleConsentAppeal(w http.ResponseWriter, r *http.Request) {
	a, err := s.db.ConsentAppeal(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAppealJSON(a))
}

func (s *Server) handleDecideAppeal(grant bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := s.decodeReason(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		a, err := s.db.DecideAppeal(r.Context(), r.PathValue("id"), grant, reason)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toAppealJSON(a))
	}
}

func (s *Server) handleAppealQueue(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, more, err := s.db.AppealQueue(r.Context(), r.URL.Query().Get("status"), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, appealsPageJSON{Appeals: wireList(list, toAppealJSON), More: more, Page: page})
}

func (s *Server) handleResidentAppeals(w http.ResponseWriter, r *http.Request) {
	list, pending, err := s.db.ResidentAppeals(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, residentAppealsJSON{Appeals: wireList(list, toAppealJSON), PendingFacts: wireList(pending, toPendingFactJSON)})
}

func (s *Server) handleAccessLog(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, more, err := s.db.AccessLog(r.Context(), r.PathValue("id"), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, accessesPageJSON{Accesses: wireList(list, toAccessJSON), More: more, Page: page})
}

// handleLogins lists officials' login attempts to auditors.
func (s *Server) handleLogins(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, r, healthcode.FieldErrorf("limit", "must be a number, not %q", v))
			return
		}
		limit = n
	}
	list, err := s.db.OfficialLogins(r.Context(), r.URL.Query().Get("official"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, loginsJSON{Logins: wireList(list, toLoginJSON)})
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, more, err := s.db.Alerts(r.Context(), r.URL.Query().Get("kind"), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, alertsPageJSON{Alerts: wireList(list, toAlertJSON), More: more, Page: page})
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.db.Stats(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toStatsJSON(st))
}

func (s *Server) handleDisableOfficial(w http.ResponseWriter, r *http.Request) {
	reason, err := s.decodeReason(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	pending, err := s.db.DisableOfficial(r.Context(), id, reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAnswer(w, r, answerDisable, pending)
}

// answerDisable is the answer to disabling an official: 202 while a
// second operator's confirmation is awaited, else 204.
func answerDisable(r *http.Request, v any) (int, any) {
	if v.(bool) {
		return http.StatusAccepted, requestedJSON{Official: r.PathValue("id"), Status: "requested",
			Message: "a command officer's or an admin's account is disabled when a second data operator confirms"}
	}
	return http.StatusNoContent, nil
}

func (s *Server) handleEnableOfficial(w http.ResponseWriter, r *http.Request) {
	reason, err := s.decodeReason(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.db.EnableOfficial(r.Context(), r.PathValue("id"), reason); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAnswer(w, r, answerEnable, nil)
}

// answerEnable is the answer to re-enabling an official.
func answerEnable(*http.Request, any) (int, any) { return http.StatusNoContent, nil }
