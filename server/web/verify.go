package web

import "net/http"

// Verify is the checkpoint verifier: a page that takes a pasted token or
// scans a QR code with the camera and verifies it in the browser (WebCrypto
// Ed25519) against trust lists it keeps in localStorage, so it keeps
// working when the server cannot be reached. static/verify.js implements
// docs/token.md: the token format, trust-list envelopes and the verifier
// rules, in their order.
func (p *Pages) Verify(w http.ResponseWriter, r *http.Request) {
	p.renderWithScript(w, r, p.newPage(w, r, "verify", nil), "verify.")
}
