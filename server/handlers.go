package server

import (
	"context"
	"net/http"
	"time"

	"github.com/healthcode/healthcode"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, statusJSON{Status: "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.db.Ready(ctx); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statusJSON{Status: "ready"})
}

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

type sessionResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Actor     actorJSON `json:"actor"`
}

type actorJSON struct {
	Kind         string `json:"kind"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	Jurisdiction string `json:"jurisdiction"`
}

func toActorJSON(a healthcode.Actor) actorJSON {
	return actorJSON{Kind: a.Kind, ID: a.ID, Name: a.Name, Role: string(a.Role), Jurisdiction: a.Jurisdiction}
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case req.Login == "":
		s.writeError(w, r, healthcode.FieldErrorf("login", "is required"))
		return
	case req.Password == "":
		s.writeError(w, r, healthcode.FieldErrorf("password", "is required"))
		return
	}
	sess, err := s.db.LoginFrom(r.Context(), req.Login, req.Password, s.clientAddr(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sessionResponse{Token: sess.Token, ExpiresAt: sess.ExpiresAt, Actor: toActorJSON(sess.Actor)})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if healthcode.ActorFrom(r.Context()).Kind == "" {
		s.writeError(w, r, healthcode.Errorf(healthcode.EUNAUTH, "no session to end"))
		return
	}
	token := r.Header.Get("Authorization")[len("Bearer "):]
	if err := s.db.Logout(r.Context(), token); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.sessions.Forget(token)
	w.WriteHeader(http.StatusNoContent)
}

type jurisdictionJSON struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Level  string `json:"level"`
	Parent string `json:"parent,omitempty"`
}

func (s *Server) handleJurisdictions(w http.ResponseWriter, r *http.Request) {
	js, err := s.db.Jurisdictions(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]jurisdictionJSON, len(js))
	for i, j := range js {
		out[i] = jurisdictionJSON{Code: j.Code, Name: j.Name, Level: j.Level.String(), Parent: j.Parent}
	}
	writeJSON(w, http.StatusOK, jurisdictionsJSON{Jurisdictions: out})
}

type residentJSON struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Phone        string    `json:"phone"`
	Jurisdiction string    `json:"jurisdiction"`
	CreatedAt    time.Time `json:"created_at"`
}

func (s *Server) handleResident(w http.ResponseWriter, r *http.Request) {
	res, err := s.db.Resident(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, residentJSON{ID: res.ID, Name: res.Name, Phone: res.Phone, Jurisdiction: res.Jurisdiction, CreatedAt: res.CreatedAt})
}
