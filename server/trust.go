package server

import (
	"encoding/hex"
	"net/http"

	"github.com/healthcode/healthcode/token"
)

// Trust material for offline verifiers (docs/token.md), all public:
//
//	GET /v1/trust              our signed trust list, as token.Cache.Put takes it
//	GET /v1/trust/key          our trust-list public key, to pin (out of band!)
//	GET /v1/trust/recognised   our signed statement of the issuers we recognise, with their pins
//	GET /v1/trust/lists/{issuer}  an imported issuer's signed trust list, as received

func (s *Server) handleTrust(w http.ResponseWriter, r *http.Request) {
	m, err := s.db.Trust(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeRawJSON(w, m.List)
}

type trustKeyJSON struct {
	Issuer    string `json:"issuer"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // hex, as token.ParsePublicKey reads it
	Version   uint64 `json:"version"`    // of the current trust list
}

func (s *Server) handleTrustKey(w http.ResponseWriter, r *http.Request) {
	m, err := s.db.Trust(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, trustKeyJSON{Issuer: m.Issuer, KeyID: token.KeyID(m.TrustKey), PublicKey: hex.EncodeToString(m.TrustKey), Version: m.Version})
}

func (s *Server) handleTrustRecognised(w http.ResponseWriter, r *http.Request) {
	m, err := s.db.Trust(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeRawJSON(w, m.Recognition)
}

func (s *Server) handleTrustImported(w http.ResponseWriter, r *http.Request) {
	env, _, err := s.db.ImportedTrustList(r.Context(), r.PathValue("issuer"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeRawJSON(w, env)
}

// writeRawJSON sends a signed document byte for byte: its signature covers
// exact bytes.
func writeRawJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
