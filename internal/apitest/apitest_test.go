package apitest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// history is a GET /v1/residents/{id}/history answer with two changes.
const history = `{"changes":[` + change + `,` + change + `]}`

const change = `{"resident":"r_res1","colour":"red","previous":"green","since":"2026-12-02T10:00:00Z","cause":"fact","log_index":42,
"ruleset":"henan-health-code","ruleset_version":1,"legal_basis":{"Number":"综发〔2022〕71号","Title":"防控方案"},"rule":"close-contact",
"reason":{"zh-CN":"密切接触者","en":"Close contact"},"label":"红码","reason_text":"密切接触者",
"facts":[{"key":"o_tracer:c-0","kind":"contact","observed_at":"2026-12-01T10:00:00Z","payload":{"level":"close"},"status":"active",
"recorded_by":{"kind":"official","id":"o_tracer","name":"流调","role":"flow_tracer","post":"410105"},"log_index":40}]}`

// BenchmarkValidateHistory measures what Handler adds to one request,
// validating the body as kin-openapi does for a 3.0 document (what Handler
// uses) and for a 3.1 one.
func BenchmarkValidateHistory(b *testing.B) {
	c, err := strict()
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/residents/r_res1/history", nil)
	r.Header.Set("Authorization", "Bearer hcs_x")
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json; charset=utf-8")
	rec.WriteHeader(http.StatusOK)
	rec.Body.WriteString(history)
	for _, version := range []string{"3.0.3", "3.1.0"} {
		b.Run(version, func(b *testing.B) {
			saved := c.doc.OpenAPI
			c.doc.OpenAPI = version
			defer func() { c.doc.OpenAPI = saved }()
			for range b.N {
				if err := c.check(r, route, params, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
