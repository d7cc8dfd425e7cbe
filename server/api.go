package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// statusOf is the one table mapping error codes to HTTP statuses.
var statusOf = map[string]int{
	healthcode.EINVALID:   http.StatusBadRequest,
	healthcode.EUNAUTH:    http.StatusUnauthorized,
	healthcode.EFORBIDDEN: http.StatusForbidden,
	healthcode.ENOTFOUND:  http.StatusNotFound,
	healthcode.ECONFLICT:  http.StatusConflict,
	healthcode.ETOOMANY:   http.StatusTooManyRequests,
	healthcode.EUNAVAIL:   http.StatusServiceUnavailable,
	healthcode.EINTERNAL:  http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string        `json:"code"`
		Message string        `json:"message"`
		Details []errorDetail `json:"details,omitempty"`
		// DetailsTotal is how many errors there were in all: details
		// lists at most the first maxErrorDetails.
		DetailsTotal int `json:"details_total,omitempty"`
	} `json:"error"`
}

// errorDetail is one error of a rejected batch or file.
type errorDetail struct {
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// writeError renders err as {"error": {...}} with its status. Internal
// errors are logged with the request id and shown only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if writeKeyedError(w, err) {
		return // an Idempotency-Key used before: its answer, or 422
	}
	err = store.DescribeError(err) // a full disk or a database restarting: 503, not 500
	if f := store.Fault(err); f != "" {
		s.metrics.faults.WithLabelValues(f).Inc()
	}
	code := healthcode.ErrorCode(err)
	if code == healthcode.EFORBIDDEN && healthcode.ActorFrom(r.Context()).Kind == "" {
		// No credentials were sent: say that they are needed (401), not
		// that they would not help (403).
		err = healthcode.Errorf(healthcode.EUNAUTH, "log in, or present a source's API key")
		code = healthcode.EUNAUTH
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError || status == http.StatusServiceUnavailable {
		s.logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if status == http.StatusForbidden {
		s.logger.WarnContext(r.Context(), "request denied", "path", r.URL.Path)
	}
	msg := healthcode.ErrorMessage(err)
	if status == http.StatusForbidden {
		msg = "not allowed"
	}
	body := errorJSON(code, msg)
	var he *healthcode.Error
	if errors.As(err, &he) && status < 500 {
		for _, d := range he.Details[:min(len(he.Details), maxErrorDetails)] {
			body.Error.Details = append(body.Error.Details, errorDetail{Line: d.Line, Field: d.Field, Message: d.Message})
		}
		if len(he.Details) > 0 {
			body.Error.DetailsTotal = max(he.Total, len(he.Details))
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="healthcode"`)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(healthcode.RetryAfterSeconds(err)))
	}
	writeJSON(w, status, body)
}

func errorJSON(code, message string) errorBody {
	var body errorBody
	body.Error.Code = code
	body.Error.Message = message
	return body
}

// writeJSON renders v into a buffer first, so an encoding failure never
// sends half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := encodeJSON(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// encodeJSON is v as every answer's body is: JSON, HTML not escaped, a
// newline at the end.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeJSON reads one JSON value from the body into v: the body limit
// applies, unknown or duplicate fields and trailing data are errors
// (decodeStrict), and every error names what was wrong and where.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeStrictRead(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), v, s.cfg.MaxBodyBytes)
}
