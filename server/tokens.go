package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/token"
)

// Token issuing (GET /v1/residents/{id}/token). Tokens are valid for
// token.DefaultValidity (15 minutes) and served from a token.Presigner
// while at least TokenMinFresh of that remains, so a resident's app that
// polls costs one signature per five minutes, not one per request.
const (
	TokenMinFresh  = 10 * time.Minute
	DefaultKeyPoll = 5 * time.Second
)

// tokenService signs tokens with the active key and follows rotations.
type tokenService struct {
	presigner *token.Presigner
	mu        sync.Mutex
	keyID     string
}

// StartTokens enables token issuing: it creates the signing keys if the
// database has none (key.added entries, trust list version 1), opens the
// active token key with cfg.KeySecret, and, until ctx ends, polls the store
// every cfg.KeyPoll for a rotation or revocation made by another process
// ('healthcode keys rotate'), switching to the new active key. Without a
// secret the token route answers 503.
func (s *Server) StartTokens(ctx context.Context) error {
	if len(s.cfg.KeySecret) == 0 {
		return healthcode.Errorf(healthcode.EINVALID, "no key secret: set HEALTHCODE_KEY_SECRET")
	}
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "server", Name: "server start-up"})
	if err := s.db.EnsureKeys(sys, s.cfg.KeySecret, s.cfg.Issuer); err != nil {
		return err
	}
	priv, id, err := s.db.SigningKey(ctx, s.cfg.KeySecret)
	if err != nil {
		return err
	}
	svc := &tokenService{presigner: token.NewPresigner(token.NewIssuer(priv, time.Now), TokenMinFresh), keyID: id}
	s.tokens.Store(svc)
	poll := s.cfg.KeyPoll
	if poll <= 0 {
		poll = DefaultKeyPoll
	}
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.refreshKey(ctx, svc); err != nil && ctx.Err() == nil {
				s.logger.Error("token key refresh failed", "err", err)
			}
			svc.presigner.Sweep()
		}
	}()
	return nil
}

// refreshKey switches to the active key if it changed.
func (s *Server) refreshKey(ctx context.Context, svc *tokenService) error {
	id, err := s.db.ActiveKeyID(ctx)
	if err != nil {
		return err
	}
	svc.mu.Lock()
	same := id == svc.keyID
	svc.mu.Unlock()
	if same {
		return nil
	}
	priv, id, err := s.db.SigningKey(ctx, s.cfg.KeySecret)
	if err != nil {
		return err
	}
	svc.presigner.SetIssuer(token.NewIssuer(priv, time.Now))
	svc.mu.Lock()
	svc.keyID = id
	svc.mu.Unlock()
	s.logger.Info("switched token signing key", "key_id", id)
	return nil
}

type tokenJSON struct {
	Token     string            `json:"token"`
	Colour    healthcode.Colour `json:"colour"`
	Label     string            `json:"label"`
	Name      string            `json:"name"`
	IssuedAt  time.Time         `json:"issued_at"`
	ExpiresAt time.Time         `json:"expires_at"`
	LogIndex  int64             `json:"log_index"`
}

// handleToken serves the resident's own signed token, as JSON or, with
// ?format=png, as a QR code framed in the code's colour (?lang=en for an
// English label; zh-CN by default).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := healthcode.Authorize(healthcode.ActorFrom(r.Context()), healthcode.OpIssueToken, "", id); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	lang, ok := web.MatchLang(q.Get("lang"))
	switch {
	case format != "" && format != "json" && format != "png":
		s.writeError(w, r, healthcode.FieldErrorf("format", "must be json or png, not %q", format))
		return
	case q.Get("lang") != "" && !ok:
		s.writeError(w, r, healthcode.FieldErrorf("lang", "must be zh-CN or en, not %q", q.Get("lang")))
		return
	}
	svc := s.tokens.Load()
	if svc == nil {
		s.writeError(w, r, healthcode.Errorf(healthcode.EUNAVAIL, "token issuing is not configured on this server (no key secret)"))
		return
	}
	c, err := s.codeFor(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	text, claims, err := svc.presigner.Token(token.Request{Subject: id, Name: c.name, Colour: c.colour, LogIndex: c.index})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h["Cache-Control"] = noStore
	// The same token is served many times: encode its body once.
	slot, ctype := bodyJSON, jsonContentType
	if format == "png" {
		slot, ctype = bodyPNG, pngContentType
	}
	body, ok := s.cachedBodyFor(slot, id, text, lang)
	if !ok {
		var err error
		if slot == bodyPNG {
			body, err = token.PNG(text, claims.Colour, lang)
		} else {
			body, err = json.Marshal(tokenJSON{Token: text, Colour: claims.Colour, Label: claims.Colour.Label(lang), Name: claims.Name,
				IssuedAt: claims.IssuedAt, ExpiresAt: claims.ExpiresAt, LogIndex: c.index})
			body = append(body, '\n')
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.keepBody(slot, id, text, lang, body)
	}
	h["Content-Type"] = ctype
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	s.metrics.tokens.Inc()
}

// Header values shared by every token response (never modified).
var (
	noStore         = []string{"no-store"}
	jsonContentType = []string{"application/json; charset=utf-8"}
	pngContentType  = []string{"image/png"}
)
