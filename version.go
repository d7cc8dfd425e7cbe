package healthcode

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Build describes the running binary, from the build information the Go
// toolchain embeds (debug.ReadBuildInfo): the module version ("(devel)"
// for a build from a work tree) and the VCS revision, its commit time and
// whether the tree had uncommitted changes ("" when the binary was built
// without VCS stamping, as by go test or with -buildvcs=false).
type Build struct {
	Version   string
	Revision  string
	Time      string // RFC 3339, UTC
	Modified  bool
	GoVersion string
}

// ReadBuild returns the running binary's build information.
func ReadBuild() Build {
	b := Build{Version: "unknown", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if info.Main.Version != "" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the build on one line, as healthcode --version prints it:
// "healthcode VERSION (revision REV, TIME, modified) GOVERSION".
func (b Build) String() string {
	s := "healthcode " + b.Version
	if b.Revision != "" {
		s += " (revision " + b.Revision
		if b.Time != "" {
			s += ", " + b.Time
		}
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s", s, b.GoVersion)
}
