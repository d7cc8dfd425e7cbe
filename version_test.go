package healthcode

import "testing"

func TestBuildString(t *testing.T) {
	for _, tt := range []struct {
		b    Build
		want string
	}{
		{Build{Version: "(devel)", GoVersion: "go1.26.8"}, "healthcode (devel) go1.26.8"},
		{Build{Version: "v1.2.0", Revision: "abc123", Time: "2026-12-02T14:41:03Z", GoVersion: "go1.26.8"},
			"healthcode v1.2.0 (revision abc123, 2026-12-02T14:41:03Z) go1.26.8"},
		{Build{Version: "v0.0.0-x+dirty", Revision: "abc123", Modified: true, GoVersion: "go1.26.8"},
			"healthcode v0.0.0-x+dirty (revision abc123, modified) go1.26.8"},
	} {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.b, got, tt.want)
		}
	}
	if b := ReadBuild(); b.Version == "" || b.GoVersion == "" {
		t.Errorf("ReadBuild() = %+v: no version", b)
	}
}
