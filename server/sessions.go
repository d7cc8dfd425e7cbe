package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/ttlcache"
)

// The token route is what every resident's app polls, so it must not cost
// database round trips per request (BENCHMARKS.md). Two short-lived
// in-memory caches take them off its path:
//
//   - sessionCache: a session token's actor, for SessionCacheTTL. Logging
//     out through this server forgets the entry at once; a logout on
//     another replica, an expired session or a disabled account takes
//     effect here within SessionCacheTTL.
//   - codeCache: a resident's code state and name, for CodeCacheTTL, so a
//     code change reaches the tokens served within that time.
//
// Only the token route uses them; every other route authenticates against
// the database on each request.
const (
	SessionCacheTTL = 2 * time.Second
	CodeCacheTTL    = time.Second
	cacheMaxEntries = 1 << 17 // then start afresh, bounding memory
)

// sessionCache maps a session token to its actor.
type sessionCache = ttlcache.Cache[string, healthcode.Actor]

func newSessionCache() *sessionCache {
	return ttlcache.New[string, healthcode.Actor](SessionCacheTTL, cacheMaxEntries)
}

// authenticateCached is authenticate with the session cache in front of
// the database, for the token route.
func (s *Server) authenticateCached(h http.HandlerFunc) http.HandlerFunc {
	slow := s.authenticate(h)
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !strings.HasPrefix(token, "hcs_") {
			slow(w, r)
			return
		}
		now := time.Now()
		actor, ok := s.sessions.Get(token, now)
		if !ok {
			a, err := s.db.Authenticate(r.Context(), token)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			s.sessions.Put(token, a, now)
			actor = a
		}
		noteActor(r.Context(), actor)
		h(w, r.WithContext(healthcode.NewContext(r.Context(), actor)))
	}
}

type codeEntry struct {
	name   string
	colour healthcode.Colour
	index  int64

	// The bodies last served for this resident, JSON and PNG: the same
	// token is served for minutes, so each is encoded once.
	bodies [2]cachedBody
}

type cachedBody struct {
	text, lang string
	body       []byte
}

// Slots of codeEntry.bodies.
const (
	bodyJSON = iota
	bodyPNG
)

// codeCache maps a resident id to their code state and the bodies last
// served.
type codeCache = ttlcache.Cache[string, codeEntry]

func newCodeCache() *codeCache { return ttlcache.New[string, codeEntry](CodeCacheTTL, cacheMaxEntries) }

// get returns a resident's name and code state, from the cache if fresh,
// else read through the store as the context's actor (which authorises).
func (s *Server) codeFor(ctx context.Context, id string) (codeEntry, error) {
	now := time.Now()
	if e, ok := s.codes.Get(id, now); ok {
		return e, nil
	}
	res, err := s.db.Resident(ctx, id)
	if err != nil {
		return codeEntry{}, err
	}
	st, err := s.db.Code(ctx, id)
	if err != nil {
		return codeEntry{}, err
	}
	e := codeEntry{name: res.Name, colour: st.Colour, index: st.LogIndex}
	if old, ok := s.codes.Peek(id); ok {
		e.bodies = old.bodies // still valid while the token text is the same
	}
	s.codes.Put(id, e, now)
	return e, nil
}

// cachedBodyFor returns the body (JSON or PNG, by slot) cached for the
// resident's token text and language.
func (s *Server) cachedBodyFor(slot int, id, text, lang string) ([]byte, bool) {
	e, ok := s.codes.Peek(id)
	b := e.bodies[slot]
	if !ok || b.text != text || b.lang != lang || b.body == nil {
		return nil, false
	}
	return b.body, true
}

// keepBody caches the body served for the resident's token text and
// language.
func (s *Server) keepBody(slot int, id, text, lang string, body []byte) {
	s.codes.Update(id, func(e *codeEntry) { e.bodies[slot] = cachedBody{text, lang, body} })
}
