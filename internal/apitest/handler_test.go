package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the errors Handler reports.
type recorder struct {
	*testing.T
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestHandlerRefusesUndocumented: the middleware passes answers the
// description documents and fails the test on each kind of answer it does
// not: a status, a field, a missing required field, a content type, a
// missing Retry-After, a body where none is documented, a 200 without
// credentials from an operation that needs them, and an undocumented /v1
// path answering other than a JSON 404.
func TestHandlerRefusesUndocumented(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, bearer string
		status                     int
		ctype, body                string
		header                     map[string]string
		want                       string // "" for a documented answer
	}{
		{"documented", "GET", "/healthz", "", 200, "application/json", `{"status":"ok"}`, nil, ""},
		{"documented error", "GET", "/readyz", "", 503, "application/json", `{"error":{"code":"unavailable","message":"x"}}`, map[string]string{"Retry-After": "1"}, ""},
		{"unrouted 404", "GET", "/v1/nothing", "", 404, "application/json", `{"error":{"code":"not_found","message":"x"}}`, nil, ""},
		{"status", "GET", "/healthz", "", 418, "application/json", `{"status":"ok"}`, nil, "418"},
		{"field", "GET", "/healthz", "", 200, "application/json", `{"status":"ok","extra":1}`, nil, "extra"},
		{"required field", "GET", "/healthz", "", 200, "application/json", `{}`, nil, "status"},
		{"content type", "GET", "/healthz", "", 200, "text/plain", `ok`, nil, "text/plain"},
		{"no Retry-After", "GET", "/readyz", "", 503, "application/json", `{"error":{"code":"unavailable","message":"x"}}`, nil, "Retry-After"},
		{"body where none", "DELETE", "/v1/sessions", "hcs_x", 204, "application/json", `{}`, nil, "a body"},
		{"public answer", "GET", "/v1/jobs", "", 200, "application/json", `{"jobs":[]}`, nil, "without credentials"},
		{"unrouted 200", "GET", "/v1/nothing", "", 200, "application/json", `{}`, nil, "other than 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{T: t}
			h := Handler(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			got := strings.Join(rec.errs, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("a documented answer failed the test:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("errors %q, want one naming %q", got, tc.want)
			}
		})
	}
}
