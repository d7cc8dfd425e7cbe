package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/healthcode/healthcode/api"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/tlog"
)

// TestOpenAPIValid loads api/openapi.yaml with kin-openapi and validates it
// as an OpenAPI 3.1 document.
func TestOpenAPIValid(t *testing.T) {
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
}

// TestOpenAPINoStrayKeys finds keys without a value: in one-line YAML an
// unquoted comma or colon turns the rest of a description into such keys,
// which validators do not always notice.
func TestOpenAPINoStrayKeys(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal(api.OpenAPI, &root); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					t.Errorf("api/openapi.yaml:%d: key %q has no value (quote the text it was cut from)", n.Content[i].Line, n.Content[i].Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}

// TestOpenAPIConventions holds every operation to the conventions the
// API's clients rely on: an operationId, an explicit security declaration
// (empty for public operations), 401 where credentials are needed, 500
// everywhere, Retry-After on every 429 and 503, WWW-Authenticate
// on every 401, and a required list on every response object.
func TestOpenAPIConventions(t *testing.T) {
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			at := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", at)
			}
			if op.Security == nil {
				t.Errorf("%s: no security declaration (security: [] if public)", at)
			}
			public := op.Security != nil && (len(*op.Security) == 0 || slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 }))
			if !public && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s: needs credentials but documents no 401", at)
			}
			if op.Responses.Status(http.StatusInternalServerError) == nil {
				t.Errorf("%s: documents no 500", at)
			}
			for code, res := range op.Responses.Map() {
				want := map[string]string{"429": "Retry-After", "503": "Retry-After", "401": "WWW-Authenticate"}[code]
				if hd := res.Value.Headers[want]; want != "" && (hd == nil || !hd.Value.Required) {
					t.Errorf("%s: %s response without a required %s header", at, code, want)
				}
				for ct, mt := range res.Value.Content {
					if s := mt.Schema.Value; s.Type.Is("object") && len(s.Properties) > 0 && len(s.Required) == 0 {
						t.Errorf("%s: %s %s: an object that lists no required fields", at, code, ct)
					}
				}
			}
		}
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if prev, ok := ids[op.OperationID]; ok && op.OperationID != "" {
				t.Errorf("operationId %s is used by %s and %s %s", op.OperationID, prev, method, path)
			}
			ids[op.OperationID] = strings.TrimSpace(method + " " + path)
		}
	}
}

// TestOpenAPILogKinds: the kinds a log entry may have, as the document
// lists them, are exactly the kinds the log writes (tlog.Kinds).
func TestOpenAPILogKinds(t *testing.T) {
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	entry := doc.Components.Schemas["LogEntry"]
	if entry == nil || entry.Value == nil || entry.Value.Properties["kind"] == nil {
		t.Fatal("components.schemas.LogEntry.properties.kind is missing")
	}
	var documented []string
	for _, v := range entry.Value.Properties["kind"].Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	var written []string
	for _, k := range tlog.Kinds() {
		written = append(written, string(k))
	}
	slices.Sort(documented)
	slices.Sort(written)
	if !slices.Equal(documented, written) {
		for _, k := range written {
			if !slices.Contains(documented, k) {
				t.Errorf("LogEntry.kind does not list %s, which the log writes", k)
			}
		}
		for _, k := range documented {
			if !slices.Contains(written, k) {
				t.Errorf("LogEntry.kind lists %s, which the log does not write", k)
			}
		}
	}
}
