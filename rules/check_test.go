package rules

import "testing"

func TestDefaultChecks(t *testing.T) {
	for _, err := range Check(DefaultName, defaultYAML) {
		t.Error(err)
	}
}
