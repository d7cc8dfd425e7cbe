package server

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
)

type rulesetJSON struct {
	ID          string     `json:"id"`
	Version     int        `json:"version"`
	Scope       string     `json:"scope"`
	Status      string     `json:"status"`
	LegalNumber string     `json:"legal_number"`
	LegalTitle  string     `json:"legal_title"`
	EffectiveAt time.Time  `json:"effective_at"`
	DraftedBy   string     `json:"drafted_by"`
	DraftedAt   time.Time  `json:"drafted_at"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	LogIndex    int64      `json:"log_index"`
	DecidedLog  *int64     `json:"decided_log,omitempty"`
	Source      string     `json:"source,omitempty"`
	// Impact is a draft's dry run, for a command officer who may approve
	// it (store.RulesetImpact).
	Impact *impactJSON `json:"impact,omitempty"`
}

func toRulesetJSON(r *healthcode.RulesetInfo) rulesetJSON {
	out := rulesetJSON{ID: r.ID, Version: r.Version, Scope: r.Scope, Status: r.Status, LegalNumber: r.LegalNumber, LegalTitle: r.LegalTitle,
		EffectiveAt: r.EffectiveAt, DraftedBy: r.DraftedBy, DraftedAt: r.DraftedAt, DecidedBy: r.DecidedBy, Reason: r.Reason,
		LogIndex: r.LogIndex, Source: r.Source}
	if r.DecidedLog >= 0 {
		t, l := r.DecidedAt, r.DecidedLog
		out.DecidedAt, out.DecidedLog = &t, &l
	}
	return out
}

func (s *Server) handleRulesets(w http.ResponseWriter, r *http.Request) {
	list, err := s.db.Rulesets(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]rulesetJSON, len(list))
	for i, rs := range list {
		out[i] = toRulesetJSON(rs)
	}
	writeJSON(w, http.StatusOK, rulesetsJSON{Rulesets: out})
}

func (s *Server) rulesetKey(r *http.Request) (string, int, error) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		return "", 0, healthcode.FieldErrorf("version", "must be a positive integer, not %q", r.PathValue("version"))
	}
	return r.PathValue("id"), v, nil
}

func (s *Server) handleRuleset(w http.ResponseWriter, r *http.Request) {
	id, v, err := s.rulesetKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rs, err := s.db.Ruleset(r.Context(), id, v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toRulesetJSON(rs)
	// A draft's approver sees what it would do before deciding; anyone
	// else reads the ruleset without it (authorised before the dry run).
	actor := healthcode.ActorFrom(r.Context())
	if rs.Status == healthcode.RulesetDraft && healthcode.Authorize(actor, healthcode.OpApproveRuleset, rs.Scope, "") == nil && actor.ID != rs.DraftedBy {
		impact, err := s.db.RulesetImpact(r.Context(), id, v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Impact = wirePtr(impact, toImpactJSON)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDraftRuleset takes the ruleset YAML as the body (any content type
// but JSON), or JSON {"name": "...", "source": "..."}.
func (s *Server) handleDraftRuleset(w http.ResponseWriter, r *http.Request) {
	name, source := "ruleset.yaml", []byte(nil)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var req struct {
			Name   string `json:"name"`
			Source string `json:"source"`
		}
		if err := s.decodeJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.Name != "" {
			name = req.Name
		}
		source = []byte(req.Source)
	} else {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
		if err != nil {
			s.writeError(w, r, healthcode.Errorf(healthcode.EINVALID, "ruleset is larger than 256 KiB"))
			return
		}
		source = b
	}
	info, err := s.db.DraftRuleset(r.Context(), name, source)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAnswer(w, r, answerDraft, info)
}

// answerDraft is the answer to drafting a ruleset: the draft.
func answerDraft(_ *http.Request, v any) (int, any) {
	return http.StatusCreated, toRulesetJSON(v.(*healthcode.RulesetInfo))
}

func (s *Server) handleDecideRuleset(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, v, err := s.rulesetKey(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		reason, err := s.decodeReason(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		info, err := s.db.DecideRuleset(r.Context(), id, v, approve, reason)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toRulesetJSON(info))
	}
}
