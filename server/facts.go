package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// maxFactsBody bounds a fact batch: 10,000 facts of about a kilobyte.
const maxFactsBody = 16 << 20

// factJSON is a fact as submitted.
type factJSON struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Subject    string          `json:"subject"`
	ObservedAt time.Time       `json:"observed_at"`
	Evidence   string          `json:"evidence,omitempty"`
	Payload    json.RawMessage `json:"payload"`
}

// parseFacts reads a JSON array of facts, or NDJSON (one fact per line).
// Every malformed item is reported with its line (NDJSON) or position
// (array), and none is returned if any is malformed.
func parseFacts(body []byte) ([]healthcode.Fact, []int, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, nil, healthcode.Errorf(healthcode.EINVALID, "the body is empty: want a JSON array of facts or NDJSON")
	}
	if trimmed[0] != '[' {
		if facts, lines, ok := parseNDJSON(body); ok {
			return facts, lines, nil
		}
	}
	var items []json.RawMessage
	var lines []int
	if trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, nil, jsonError(err, maxFactsBody)
		}
		for i := range items {
			lines = append(lines, i+1)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				items = append(items, append(json.RawMessage(nil), line...))
				lines = append(lines, n)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, nil, healthcode.Errorf(healthcode.EINVALID, "line %d: %v", n+1, err)
		}
	}
	facts := make([]healthcode.Fact, len(items))
	var errs []*healthcode.Error
	for i, item := range items {
		var fj factJSON
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.DisallowUnknownFields()
		err := dec.Decode(&fj)
		if err == nil {
			if _, err2 := dec.Token(); !errors.Is(err2, io.EOF) {
				err = fmt.Errorf("data after the fact object")
			}
		}
		if err != nil {
			he := healthcode.Error{Code: healthcode.EINVALID}
			var e *healthcode.Error
			if errors.As(jsonError(err, maxFactsBody), &e) {
				he = *e
			}
			he.Line = lines[i]
			errs = append(errs, &he)
			continue
		}
		facts[i] = healthcode.Fact{ID: fj.ID, Kind: fj.Kind, Subject: fj.Subject, ObservedAt: fj.ObservedAt, Evidence: fj.Evidence, Payload: fj.Payload}
	}
	if len(errs) > 0 {
		return nil, nil, &healthcode.Error{Code: healthcode.EINVALID, Line: errs[0].Line, Field: errs[0].Field,
			Message: fmt.Sprintf("%s (batch rejected: %d malformed fact(s), nothing stored)", errs[0].Message, len(errs)), Details: errs}
	}
	return facts, lines, nil
}

// parseNDJSON is parseFacts for a well-formed NDJSON body, with one
// decoder for the whole body rather than one per line. It returns false
// for anything else (a malformed fact, an object spanning lines, data after
// an object on its line), which parseFacts then takes line by line to
// report every error.
func parseNDJSON(body []byte) ([]healthcode.Fact, []int, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var facts []healthcode.Fact
	var lines []int
	line, pos := 1, 0
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }
	for {
		for pos < len(body) && (space(body[pos]) || body[pos] == '\n') {
			if body[pos] == '\n' {
				line++
			}
			pos++
		}
		if pos == len(body) {
			return facts, lines, true
		}
		if body[pos] != '{' {
			return nil, nil, false
		}
		var fj factJSON
		if err := dec.Decode(&fj); err != nil {
			return nil, nil, false
		}
		end := int(dec.InputOffset())
		if end > len(body) || bytes.IndexByte(body[pos:end], '\n') >= 0 {
			return nil, nil, false
		}
		for pos = end; pos < len(body) && body[pos] != '\n'; pos++ {
			if !space(body[pos]) {
				return nil, nil, false
			}
		}
		facts = append(facts, healthcode.Fact{ID: fj.ID, Kind: fj.Kind, Subject: fj.Subject, ObservedAt: fj.ObservedAt, Evidence: fj.Evidence, Payload: fj.Payload})
		lines = append(lines, line)
	}
}

func (s *Server) handleRecordFacts(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFactsBody))
	if err != nil {
		s.writeError(w, r, healthcode.Errorf(healthcode.EINVALID, "request body is larger than %d bytes: split the batch", maxFactsBody))
		return
	}
	facts, lines, err := parseFacts(body)
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
	writeJSON(w, http.StatusOK, res)
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
	writeJSON(w, http.StatusOK, toFactJSON(f))
}

func (s *Server) handlePendingFacts(w http.ResponseWriter, r *http.Request) {
	fs, err := s.db.PendingFacts(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]storedFactJSON, len(fs))
	for i, f := range fs {
		out[i] = toFactJSON(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"facts": out})
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
	writeJSON(w, http.StatusOK, toFactJSON(f))
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
	type jobJSON struct {
		ID         string            `json:"id"`
		Kind       string            `json:"kind"`
		Params     map[string]string `json:"params"`
		Status     string            `json:"status"`
		RunAt      time.Time         `json:"run_at"`
		Done       int64             `json:"done"`
		Total      int64             `json:"total"`
		Changed    int64             `json:"changed"`
		FinishedAt *time.Time        `json:"finished_at,omitempty"`
		LogIndex   int64             `json:"log_index"`
	}
	out := make([]jobJSON, len(jobs))
	for i, j := range jobs {
		out[i] = jobJSON{ID: j.ID, Kind: j.Kind, Params: j.Params, Status: j.Status, RunAt: j.RunAt, Done: j.Done, Total: j.Total, Changed: j.Changed, LogIndex: j.LogIndex}
		if j.Status == store.JobDone {
			t := j.FinishedAt
			out[i].FinishedAt = &t
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}
