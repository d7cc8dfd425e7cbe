package token

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports enforces the package's dependency rule: the standard
// library, the root package and the libraries named in the package doc
// (with their own dependencies), nothing else from this module.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	allowed := []string{
		"github.com/healthcode/healthcode/token",
		"github.com/healthcode/healthcode/internal/atomicfile", // standard library only
		"golang.org/x/crypto/", "golang.org/x/sys/",            // argon2
		"rsc.io/qr",
		"github.com/makiuchi-d/gozxing", "golang.org/x/text/", "golang.org/x/xerrors", // gozxing and its dependencies
	}
	for _, pkg := range strings.Fields(string(out)) {
		first := strings.SplitN(pkg, "/", 2)[0]
		if !strings.Contains(first, ".") || pkg == "github.com/healthcode/healthcode" {
			continue // standard library, root package
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(pkg, a)
		}
		if !ok {
			t.Errorf("token depends on %s", pkg)
		}
	}
}
