package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// Creates that are safe to retry: the Idempotency-Key request header
// (IETF draft-ietf-httpapi-idempotency-key-header). With a key, the
// store keeps the answer with the key in the create's own transaction
// (store/idempotency.go), so a client whose answer was lost retries with
// the same key and body and gets the same answer, with
// Idempotent-Replayed: true, and nothing is created twice. The same key
// with another request is 422; while the first is being processed, 409.
// Without the header a route behaves as it always did.

// maxIdempotencyKey bounds a key's length.
const maxIdempotencyKey = 255

// maxReplayDrain bounds how much of a replayed request's body is read to
// compare it with the first: the largest body a keyed route accepts.
const maxReplayDrain = maxAppealBody

// answerFunc renders a store method's result as a route's answer to r:
// the status and the value encoded as JSON (nil: no body).
type answerFunc func(r *http.Request, result any) (status int, body any)

// inFlight is the keys whose first request this process is serving.
type inFlight struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (f *inFlight) take(k string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys[k] {
		return false
	}
	if f.keys == nil {
		f.keys = map[string]bool{}
	}
	f.keys[k] = true
	return true
}

func (f *inFlight) release(k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, k)
}

// parseIdempotencyKey reads the header's one value: a structured-field
// string ("..."), as the draft has it, or the bare key.
func parseIdempotencyKey(vals []string) (string, error) {
	if len(vals) != 1 {
		return "", healthcode.FieldErrorf("Idempotency-Key", "is given %d times: give it once", len(vals))
	}
	k := strings.TrimSpace(vals[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if k == "" || len(k) > maxIdempotencyKey {
		return "", healthcode.FieldErrorf("Idempotency-Key", "must be 1 to %d characters (a UUID is best)", maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "", healthcode.FieldErrorf("Idempotency-Key", "holds a character other than printable ASCII at byte %d", i+1)
		}
	}
	return k, nil
}

// teeBody hashes what is read of a request's body.
type teeBody struct {
	io.ReadCloser
	h hash.Hash
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n]) // a hash.Hash never fails
	return n, err
}

// keyed makes a create route honour an Idempotency-Key: route names it
// (as in the route table), answer renders its store method's result the
// way its handler does (writeAnswer), so that what is kept is what was
// sent.
func (s *Server) keyed(route string, answer answerFunc, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values("Idempotency-Key")
		actor := healthcode.ActorFrom(r.Context())
		if len(vals) == 0 || actor.ID == "" {
			h(w, r) // no key, or no actor to keep it for (the handler says 401)
			return
		}
		key, err := parseIdempotencyKey(vals)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		flight := string(actor.Kind) + ":" + actor.ID + "\x00" + key
		if !s.inFlight.take(flight) {
			s.writeError(w, r, healthcode.Errorf(healthcode.ECONFLICT,
				"a request with Idempotency-Key %q is still being processed: retry once it has been answered", key))
			return
		}
		defer s.inFlight.release(flight)
		body := &teeBody{ReadCloser: r.Body, h: sha256.New()}
		body.h.Write([]byte(route + "\n" + r.URL.Path + "\n" + r.Header.Get("Content-Type") + "\n")) // never fails
		r.Body = body
		fingerprint := func() string {
			// What the handler left unread (nothing, for a strict JSON
			// decode, which reads to the end) is part of the request.
			// A read error fails the request anyway: the hash is moot.
			_, _ = io.Copy(io.Discard, io.LimitReader(body, maxReplayDrain))
			return hex.EncodeToString(body.h.Sum(nil))
		}
		// A retry after the first was answered: reply without doing the
		// work again (a ruleset check costs seconds). The create's
		// transaction looks again, for requests that race.
		kept, err := s.db.IdempotentAnswer(r.Context(), key)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if kept != nil {
			s.writeError(w, r, kept.Check(key, fingerprint()))
			return
		}
		claim := &store.Claim{Key: key, Route: route, Fingerprint: fingerprint,
			Answer: func(v any) (int, []byte, error) {
				status, b := answer(r, v)
				enc, err := encodeAnswer(b)
				return status, enc, err
			}}
		h(w, r.WithContext(store.WithClaim(r.Context(), claim)))
	}
}

// encodeAnswer is the JSON of an answer's body, as writeJSON writes it;
// nil for none.
func encodeAnswer(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return encodeJSON(v)
}

// writeAnswer writes a keyed route's answer to r: result, as answer
// renders it (and the store kept it, with a key).
func writeAnswer(w http.ResponseWriter, r *http.Request, answer answerFunc, result any) {
	status, v := answer(r, result)
	b, err := encodeAnswer(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	writeBytes(w, status, b)
}

func writeBytes(w http.ResponseWriter, status int, b []byte) {
	if len(b) > 0 {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	w.Write(b)
}

// writeKeyedError writes the answer to a request whose key was used
// before, and reports whether err was that.
func writeKeyedError(w http.ResponseWriter, err error) bool {
	var rep *store.Replayed
	var reused *store.KeyReused
	switch {
	case errors.As(err, &rep):
		w.Header().Set("Idempotent-Replayed", "true")
		writeBytes(w, rep.Status, rep.Body)
		return true
	case errors.As(err, &reused):
		writeJSON(w, http.StatusUnprocessableEntity, errorJSON(healthcode.EINVALID, reused.Error()))
		return true
	}
	return false
}
