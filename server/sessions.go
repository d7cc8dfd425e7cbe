package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
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

type sessionEntry struct {
	actor healthcode.Actor
	at    time.Time
}

type sessionCache struct {
	mu sync.Mutex
	m  map[string]sessionEntry
}

func newSessionCache() *sessionCache { return &sessionCache{m: make(map[string]sessionEntry)} }

func (c *sessionCache) get(token string, now time.Time) (healthcode.Actor, bool) {
	c.mu.Lock()
	e, ok := c.m[token]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) >= SessionCacheTTL || now.Before(e.at) {
		return healthcode.Actor{}, false
	}
	return e.actor, true
}

func (c *sessionCache) put(token string, a healthcode.Actor, now time.Time) {
	c.mu.Lock()
	if len(c.m) >= cacheMaxEntries {
		c.m = make(map[string]sessionEntry)
	}
	c.m[token] = sessionEntry{a, now}
	c.mu.Unlock()
}

func (c *sessionCache) forget(token string) {
	c.mu.Lock()
	delete(c.m, token)
	c.mu.Unlock()
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
		actor, ok := s.sessions.get(token, now)
		if !ok {
			a, err := s.db.Authenticate(r.Context(), token)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			s.sessions.put(token, a, now)
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
	at     time.Time

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

type codeCache struct {
	mu sync.Mutex
	m  map[string]codeEntry
}

func newCodeCache() *codeCache { return &codeCache{m: make(map[string]codeEntry)} }

// get returns a resident's name and code state, from the cache if fresh,
// else read through the store as the context's actor (which authorises).
func (s *Server) codeFor(ctx context.Context, id string) (codeEntry, error) {
	c := s.codes
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < CodeCacheTTL && !now.Before(e.at) {
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
	e = codeEntry{name: res.Name, colour: st.Colour, index: st.LogIndex, at: now}
	c.mu.Lock()
	if old, ok := c.m[id]; ok {
		e.bodies = old.bodies
	}
	if len(c.m) >= cacheMaxEntries {
		c.m = make(map[string]codeEntry)
	}
	c.m[id] = e
	c.mu.Unlock()
	return e, nil
}

// body returns the body (JSON or PNG, by slot) cached for the resident's
// token text and language.
func (c *codeCache) body(slot int, id, text, lang string) ([]byte, bool) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	b := e.bodies[slot]
	if !ok || b.text != text || b.lang != lang || b.body == nil {
		return nil, false
	}
	return b.body, true
}

func (c *codeCache) setBody(slot int, id, text, lang string, body []byte) {
	c.mu.Lock()
	if e, ok := c.m[id]; ok {
		e.bodies[slot] = cachedBody{text, lang, body}
		c.m[id] = e
	}
	c.mu.Unlock()
}
