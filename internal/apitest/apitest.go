// Package apitest holds the server's tests to its API description,
// api/openapi.yaml: Handler wraps a server so that every response to an API
// request is validated with kin-openapi's openapi3filter, and a status,
// header, content type or body field the description does not document
// fails the test. Only tests import it; it imports api and kin-openapi.
package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/healthcode/healthcode/api"
)

// Load parses api/openapi.yaml and validates it as an OpenAPI document.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	return doc, nil
}

// checker is the description made strict for tests, and its router.
type checker struct {
	doc    *openapi3.T
	router routers.Router
	errs   *openapi3.Schema // the Error schema, for answers to undocumented routes
}

var strict = sync.OnceValues(func() (*checker, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	// Requests in tests go to httptest servers, not to the documented one.
	doc.Servers = nil
	// kin-openapi validates a 3.1 document's bodies by compiling the
	// schema anew for every response (about 5 ms each, which slows the
	// suite tenfold and its timing tests with it); its own validator, used
	// for 3.0, reads the same schemas (the document was validated as 3.1
	// above) without that cost.
	doc.OpenAPI = "3.0.3"
	closeObjects(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	errs := doc.Components.Schemas["Error"]
	if errs == nil || errs.Value == nil {
		return nil, errors.New("api/openapi.yaml: no components.schemas.Error")
	}
	// The binary bodies the API serves: a QR code, an attachment.
	openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
	return &checker{doc: doc, router: router, errs: errs.Value}, nil
})

// closeObjects forbids undocumented fields in tests: every object schema
// that lists its properties and says nothing of others gets
// additionalProperties: false. The published document leaves them open,
// so that clients ignore fields added later; the server's own answers must
// document every field they send.
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, l := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range l {
				walk(x)
			}
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, res := range op.Responses.Map() {
				if res.Value == nil {
					continue
				}
				for _, mt := range res.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

// Server is httptest.NewServer(Handler(t, h)), closed when the test ends.
func Server(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(Handler(t, h))
	t.Cleanup(ts.Close)
	return ts
}

// Handler serves h and checks each response to an API request (a path the
// description lists, or any path under /v1/) against api/openapi.yaml,
// failing t on a mismatch. Other paths (pages, metrics, log tiles) pass
// through unchecked.
func Handler(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	c, err := strict()
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, rerr := c.router.FindRoute(r)
		if rerr != nil && !strings.HasPrefix(r.URL.Path, "/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())

		var err error
		if rerr != nil {
			err = c.checkUnrouted(rec)
		} else {
			err = c.check(r, route, params, rec)
		}
		if err != nil {
			t.Errorf("%s %s answered %d %s, which api/openapi.yaml does not document:\n%v\nbody: %.500s",
				r.Method, r.URL.RequestURI(), rec.Code, rec.Header().Get("Content-Type"), err, rec.Body.Bytes())
		}
	})
}

// check validates the answer to a documented operation.
func (c *checker) check(r *http.Request, route *routers.Route, params map[string]string, rec *httptest.ResponseRecorder) error {
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	opts.WithCustomSchemaErrorFunc(schemaError)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Options:                opts,
	}
	in.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if res := route.Operation.Responses.Status(rec.Code); res != nil && len(res.Value.Content) == 0 && rec.Body.Len() > 0 && r.Method != http.MethodHead {
		return fmt.Errorf("a body, where the %d response documents none", rec.Code)
	}
	// An operation that serves the public must say so: its security
	// declaration may not require credentials.
	sec := c.doc.Security
	if route.Operation.Security != nil {
		sec = *route.Operation.Security
	}
	anonymous := r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == ""
	if anonymous && needsCredentials(sec) && rec.Code < 300 {
		return fmt.Errorf("answered %d without credentials, but its security requires them", rec.Code)
	}
	return nil
}

// schemaError says where in the body a schema error is, without the
// schema's dump.
func schemaError(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}

// needsCredentials reports whether a security declaration excludes the
// public: it has requirements, none of them empty.
func needsCredentials(sec openapi3.SecurityRequirements) bool {
	for _, req := range sec {
		if len(req) == 0 {
			return false
		}
	}
	return len(sec) > 0
}

// checkUnrouted validates the answer to a request the description has no
// operation for: the server says 404 or 405 as a JSON error.
func (c *checker) checkUnrouted(rec *httptest.ResponseRecorder) error {
	if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		return errors.New("a status other than 404 or 405 for an undocumented path or method")
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q, want an application/json error", ct)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return c.errs.VisitJSON(v, openapi3.VisitAsResponse())
}
