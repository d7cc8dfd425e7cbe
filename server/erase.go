package server

import (
	"net/http"

	"github.com/healthcode/healthcode/store"
)

// handleEraseResident serves POST /v1/residents/{id}/erase: a data
// operator's request to erase the resident's personal data (202), or a
// second operator's approval, which erases it (200). store.EraseResident
// decides; both steps are log entries.
func (s *Server) handleEraseResident(w http.ResponseWriter, r *http.Request) {
	reason, err := s.decodeReason(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.db.EraseResident(r.Context(), r.PathValue("id"), reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAnswer(w, r, answerErase, res)
}

// answerErase is the answer to an erasure's step: 202 for the request,
// 200 for the erasure.
func answerErase(_ *http.Request, v any) (int, any) {
	res := v.(*store.EraseResult)
	if res.Status == "requested" {
		return http.StatusAccepted, toEraseResultJSON(res)
	}
	return http.StatusOK, toEraseResultJSON(res)
}
