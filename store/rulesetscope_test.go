package store_test

import (
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
)

// TestRulesetOneProvince: a ruleset is scoped to a province (一省一码); a
// draft scoped to a city or a county is refused with the reason, whoever
// drafts it.
func TestRulesetOneProvince(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		for _, tc := range []struct {
			scope string
			by    healthcode.Actor
		}{
			{"410100", cmdProvince1},
			{"410105", cmdProvince1},
			{"410105", cmdCounty},
		} {
			src := strings.Replace(string(rules.DefaultSource()), `scope: "410000"`, `scope: "`+tc.scope+`"`, 1)
			src = strings.Replace(src, "id: henan-health-code", "id: local-"+tc.scope, 1)
			_, err := w.db.DraftRuleset(as(tc.by), "local.yaml", []byte(src))
			var he *healthcode.Error
			if !errorsAs(err, &he) || he.Code != healthcode.EINVALID || he.Field != "scope" || !strings.Contains(he.Message, tc.scope) || !strings.Contains(he.Message, "province") {
				t.Errorf("draft scoped %s by %s: %v, want EINVALID on scope naming it and the province rule", tc.scope, tc.by.ID, err)
			}
		}
	})
}
