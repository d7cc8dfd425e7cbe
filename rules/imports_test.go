package rules

import (
	"os/exec"
	"strings"
	"testing"
)

// Package rules imports only the standard library, the root package,
// cel-go, yaml.v3 and jsontext (and what they import).
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case !strings.Contains(strings.Split(imp, "/")[0], "."): // standard library
		case imp == "github.com/healthcode/healthcode":
		case strings.HasPrefix(imp, "cel.dev/cel-go/"):
		case imp == "gopkg.in/yaml.v3":
		case imp == "github.com/go-json-experiment/json/jsontext":
		default:
			t.Errorf("package rules imports %s", imp)
		}
	}
}
