package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// factJSON is a fact as submitted.
type factJSON struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Subject    string          `json:"subject"`
	ObservedAt time.Time       `json:"observed_at"`
	Evidence   string          `json:"evidence,omitempty"`
	Payload    json.RawMessage `json:"payload"`
}

func (s *Server) handleRecordFacts(w http.ResponseWriter, r *http.Request) {
	// Authorise before parsing and validating the batch (up to
	// maxFactsBody of JSON): the store checks the details again.
	if err := healthcode.MayAttempt(healthcode.ActorFrom(r.Context()), healthcode.OpRecordFact); err != nil {
		s.writeError(w, r, err)
		return
	}
	facts, lines, err := parseFacts(http.MaxBytesReader(w, r.Body, maxFactsBody))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The store numbers facts from 1; report the submitter's lines.
	relines := func(n int) int {
		if n >= 1 && n <= len(lines) {
			return lines[n-1]
		}
		return n
	}
	res, err := s.db.RecordFacts(r.Context(), facts)
	var he *healthcode.Error
	if errors.As(err, &he) {
		he.Line = relines(he.Line)
		for _, d := range he.Details {
			d.Line = relines(d.Line)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for i := range res.Facts {
		res.Facts[i].Line = relines(res.Facts[i].Line)
	}
	writeJSON(w, http.StatusOK, toRecordResultJSON(res))
}

type storedFactJSON struct {
	Key        string          `json:"key"`
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Subject    string          `json:"subject"`
	ObservedAt time.Time       `json:"observed_at"`
	RecordedAt time.Time       `json:"recorded_at"`
	Source     string          `json:"source,omitempty"`
	RecordedBy string          `json:"recorded_by,omitempty"`
	ApprovedBy string          `json:"approved_by,omitempty"`
	Evidence   string          `json:"evidence,omitempty"`
	Payload    json.RawMessage `json:"payload"`
	Status     string          `json:"status"`
	LogIndex   int64           `json:"log_index"`
	// Impact is a pending designation's dry run, for a command officer
	// who may approve it (store.DesignationImpact); GET only.
	Impact *impactJSON `json:"impact,omitempty"`
}

func toFactJSON(f *healthcode.Fact) storedFactJSON {
	return storedFactJSON{Key: f.Key, ID: f.ID, Kind: f.Kind, Subject: f.Subject, ObservedAt: f.ObservedAt, RecordedAt: f.RecordedAt,
		Source: f.Source, RecordedBy: f.RecordedBy, ApprovedBy: f.ApprovedBy, Evidence: f.Evidence, Payload: f.Payload,
		Status: string(f.Status), LogIndex: f.LogIndex}
}

func (s *Server) handleFact(w http.ResponseWriter, r *http.Request) {
	f, err := s.db.Fact(r.Context(), r.PathValue("key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toFactJSON(f)
	// A pending designation's approver sees what it would do before
	// deciding (authorised before the dry run; the recorder cannot
	// approve it, so does not get it).
	actor := healthcode.ActorFrom(r.Context())
	if f.Kind == rules.KindRiskArea && f.Status == healthcode.FactPending && actor.ID != f.RecordedBy &&
		healthcode.Authorize(actor, healthcode.OpApproveFact, f.Subject, "") == nil {
		impact, err := s.db.DesignationImpact(r.Context(), f.Key)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Impact = wirePtr(impact, toImpactJSON)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handlePendingFacts(w http.ResponseWriter, r *http.Request) {
	page, err := pageParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fs, more, err := s.db.PendingFacts(r.Context(), page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]storedFactJSON, len(fs))
	for i, f := range fs {
		out[i] = toFactJSON(f)
	}
	writeJSON(w, http.StatusOK, factsPageJSON{Facts: out, More: more, Page: page})
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// decodeReason reads an optional {"reason": "..."} body.
func (s *Server) decodeReason(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.ContentLength == 0 {
		return "", nil
	}
	var req reasonRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return "", err
	}
	return req.Reason, nil
}

func (s *Server) handleDecideFact(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reason, err := s.decodeReason(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		f, err := s.db.DecideFact(r.Context(), r.PathValue("key"), approve, reason)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toFactJSON(f))
	}
}

func (s *Server) handleRetractFact(w http.ResponseWriter, r *http.Request) {
	reason, err := s.decodeReason(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := s.db.RetractFact(r.Context(), r.PathValue("key"), reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAnswer(w, r, answerRetract, f)
}

// answerRetract is the answer to retracting a fact: the fact.
func answerRetract(_ *http.Request, v any) (int, any) {
	return http.StatusOK, toFactJSON(v.(*healthcode.Fact))
}

// jobJSON is a job as GET /v1/jobs lists it.
type jobJSON struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	Params     map[string]string `json:"params"`
	Status     string            `json:"status"`
	RunAt      time.Time         `json:"run_at"`
	Done       int64             `json:"done"`
	Total      int64             `json:"total"`
	Changed    int64             `json:"changed"`
	Failed     int64             `json:"failed"`
	Failures   []evalFailureJSON `json:"failures,omitempty"`
	Attempts   int64             `json:"attempts,omitempty"`
	LastError  string            `json:"last_error,omitempty"`
	RetryAt    *time.Time        `json:"retry_at,omitempty"`
	FinishedAt *time.Time        `json:"finished_at,omitempty"`
	LogIndex   int64             `json:"log_index"`
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	if healthcode.ActorFrom(r.Context()).Kind != healthcode.ActorOfficial {
		s.writeError(w, r, healthcode.Errorf(healthcode.EFORBIDDEN, "officials only"))
		return
	}
	jobs, err := s.db.Jobs(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]jobJSON, len(jobs))
	for i, j := range jobs {
		out[i] = jobJSON{ID: j.ID, Kind: j.Kind, Params: j.Params, Status: j.Status, RunAt: j.RunAt, Done: j.Done, Total: j.Total, Changed: j.Changed,
			Failed: j.Failed, Failures: wireList(j.Failures, toEvalFailureJSON), Attempts: j.Attempts, LastError: j.LastError, LogIndex: j.LogIndex}
		if j.Attempts > 0 && j.Status != healthcode.JobDone {
			t := j.RetryAt
			out[i].RetryAt = &t
		}
		if j.Status == healthcode.JobDone {
			t := j.FinishedAt
			out[i].FinishedAt = &t
		}
	}
	writeJSON(w, http.StatusOK, jobsJSON{Jobs: out})
}
