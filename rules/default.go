package rules

import (
	_ "embed"
	"sync"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultName is the file name of the default ruleset.
const DefaultName = "default.yaml"

var defaultRuleset = sync.OnceValue(func() *Ruleset {
	rs, err := Parse(DefaultName, defaultYAML)
	if err != nil {
		panic("rules: the embedded default ruleset does not parse: " + err.Error())
	}
	return rs
})

// Default returns the default ruleset, modelled on the 2022 provincial
// rules (docs/facts.md explains it). It is parsed once; a Ruleset is
// immutable, so sharing it is safe.
func Default() *Ruleset { return defaultRuleset() }

// DefaultSource returns the default ruleset's file, to publish or to start
// a new ruleset from.
func DefaultSource() []byte { return append([]byte(nil), defaultYAML...) }
