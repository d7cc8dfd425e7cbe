package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestSourceFactRaisesShortcuts covers the shortcuts a source's batch
// takes to answer raises (store/raising.go): one batch mixes residents
// with and without stored facts, in both orders (the evaluation without
// facts is shared only by those with none), and one resident whose
// evaluation with the new fact fails (their fact's raises is unknown, and
// its entry is still written: the snapshot answered nothing for it).
func TestSourceFactRaisesShortcuts(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		vax := healthcode.Source{ID: "s_vax", Name: "接种平台", Kinds: []string{"vaccination"}, Jurisdiction: "410100"}
		if err := w.db.CreateSource(system, vax, "hck_vaxkeyvaxkeyvaxkeyvaxkeyvax"); err != nil {
			t.Fatal(err)
		}
		record := func(who healthcode.Actor, facts ...healthcode.Fact) {
			t.Helper()
			if _, err := w.db.RecordFacts(as(who), facts); err != nil {
				t.Fatal(err)
			}
		}
		day := w.now.Add(-24 * time.Hour)
		r := func(i int) string { return fmt.Sprintf("r_test%06d", i) }
		record(lab, w.pcr("p-0", r(0), "positive", day)) // r0 red
		record(lab, w.pcr("p-1", r(1), "positive", day), w.pcr("p-2", r(0), "positive", day))
		record(lab, w.pcr("p-3", r(0), "positive", day), w.pcr("p-4", r(2), "positive", day), w.pcr("n-5", r(3), "negative", day))

		// The failing ruleset fails for a resident with a vaccination and
		// a positive PCR test.
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", failingRuleset(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		record(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_vax"}, w.fact("v-5", "vaccination", r(5), day,
			fmt.Sprintf(`{"dose":3,"product":"科兴克尔来福","administered_at":%q}`, day.Format(time.RFC3339))))
		record(lab, w.pcr("p-6", r(4), "positive", day), w.pcr("p-7", r(5), "positive", day))

		want := map[string]string{"s_lab:p-0": "true", "s_lab:p-1": "true", "s_lab:p-2": "false", "s_lab:p-3": "false",
			"s_lab:p-4": "true", "s_lab:n-5": "false", "s_vax:v-5": "false", "s_lab:p-6": "true", "s_lab:p-7": "unknown"}
		if diff := cmp.Diff(want, store.SourceRaises(t, w.db)); diff != "" {
			t.Errorf("raises in the public leaves of the sources' facts (-want +got):\n%s", diff)
		}
		mustVerified(t, w.db)
	})
}
