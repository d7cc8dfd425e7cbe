package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/healthcode/healthcode"
)

// checkPost bounds a posted form's body, parses it and checks its CSRF
// token; on failure it has already answered.
func (p *Pages) checkPost(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			p.error(w, r, healthcode.Errorf(healthcode.EINVALID, "the form is too large or malformed"))
			return false
		}
	}
	if !p.checkCSRF(r) {
		p.error(w, r, errCSRF)
		return false
	}
	return true
}

// mustLogIn answers EUNAUTH when nobody is logged in.
func (p *Pages) mustLogIn(w http.ResponseWriter, r *http.Request) bool {
	if healthcode.ActorFrom(r.Context()).Kind == "" {
		p.error(w, r, healthcode.Errorf(healthcode.EUNAUTH, "log in first"))
		return false
	}
	return true
}

// newID returns a random id for a hand-entered fact from a form that
// carries no key (see formkey.go): the recorder's own id space.
func (p *Pages) newID(prefix string) (string, error) {
	var b [8]byte
	src := p.opts.Rand
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, b[:]); err != nil {
		return "", fmt.Errorf("new fact id: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
