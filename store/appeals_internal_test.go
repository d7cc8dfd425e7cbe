package store

import (
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// TestAppealStepKinds keeps the root package's appeal step kinds (which
// the pure decisions compare, and which cannot import tlog) equal to the
// log's entry kinds that appeal() reads them from.
func TestAppealStepKinds(t *testing.T) {
	for step, kind := range map[string]tlog.Kind{
		healthcode.AppealStepFiled:     tlog.KindAppealFiled,
		healthcode.AppealStepConsented: tlog.KindAppealConsented,
		healthcode.AppealStepEscalated: tlog.KindAppealEscalated,
		healthcode.AppealStepDecided:   tlog.KindAppealDecided,
	} {
		if step != string(kind) {
			t.Errorf("step kind %q, log kind %q", step, kind)
		}
	}
}
