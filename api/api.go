// Package api holds the description of healthcode's HTTP API,
// openapi.yaml (OpenAPI 3.1), embedded so that tests and tools read the
// very document that is published. It imports only the standard library.
package api

import _ "embed"

// OpenAPI is the text of api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
