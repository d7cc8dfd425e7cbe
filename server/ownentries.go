package server

import (
	"net/http"

	"github.com/healthcode/healthcode/tlog"
)

// handleResidentEntries lists every log entry about a resident, each
// with the opening of its personal part and its inclusion proof in the
// checkpoint /log/checkpoint serves (with witnessing, the newest one the
// witnesses cosigned; entries after it are listed once it is), for the
// resident's client to check offline
// (tlog.VerifyOwnEntries). An official's read is logged.
func (s *Server) handleResidentEntries(w http.ResponseWriter, r *http.Request) {
	list, err := s.db.ResidentEntries(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Read after the entries: without witnessing the checkpoint covers
	// every one of them.
	signed, cp, err := s.latest(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]tlog.OwnEntry, 0, len(list))
	for _, e := range list {
		if e.Index >= cp.Size {
			continue
		}
		p, err := tlog.NewInclusionProof(s.hashReader(r.Context()), cp.Size, e.Index, cp.Size)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out = append(out, tlog.OwnEntry{Index: e.Index, Leaf: e.Leaf, Salt: e.Salt, Personal: e.Personal, Proof: *p})
	}
	writeJSON(w, http.StatusOK, ownEntriesJSON{Checkpoint: string(signed), Entries: out})
}
