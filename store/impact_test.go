package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// antigenRedRuleset is the default ruleset as version 2 with an
// unconfirmed positive antigen test red instead of yellow.
func antigenRedRuleset() []byte {
	src := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
	i := strings.Index(src, "id: positive-antigen")
	j := i + strings.Index(src[i:], "colour: yellow")
	src = src[:j] + "colour: red" + src[j+len("colour: yellow"):]
	return []byte(strings.ReplaceAll(src, "colour: yellow, rule: positive-antigen", "colour: red, rule: positive-antigen"))
}

// TestRulesetImpact: the approver sees a draft's impact before deciding (a
// dry run: how many codes change, from which colour to which, by county),
// the counts equal the changes the approval then makes, and an approval
// above Limits.MassChange raises mass_change naming both officials. A
// resident may not ask for the dry run.
func TestRulesetImpact(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{MassChange: 2}, 8)
		lab := as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"})
		var facts []healthcode.Fact
		for i := 1; i <= 3; i++ {
			sampled := w.now.Add(-time.Hour)
			facts = append(facts, w.fact(fmt.Sprint("ag", i), "test_result", fmt.Sprintf("r_test%06d", i), sampled,
				fmt.Sprintf(`{"method":"antigen","result":"positive","sampled_at":%q,"lab":"郑州市疾控中心"}`, sampled.Format(time.RFC3339))))
		}
		facts = append(facts, w.pcr("p5", "r_test000005", "positive", w.now.Add(-time.Hour)))
		if _, err := w.db.RecordFacts(lab, facts); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, "r_test000001", healthcode.Yellow)
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", antigenRedRuleset()); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RulesetImpact(self("r_test000001"), "henan-health-code", 2); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("a resident's dry run: %v, want forbidden", err)
		}
		imp, err := w.db.RulesetImpact(as(cmdProvince2), "henan-health-code", 2)
		if err != nil {
			t.Fatal(err)
		}
		want := &healthcode.Impact{Residents: 8, Changed: 3, Colours: map[string]map[string]int64{"410105": {"yellow→red": 3}}}
		if diff := cmp.Diff(want, imp); diff != "" {
			t.Fatalf("impact (-want +got):\n%s", diff)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		jobs, err := w.db.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if j := jobOf(jobs, "henan-health-code@2"); j.Changed != imp.Changed {
			t.Errorf("the approval changed %d codes, the preview said %d", j.Changed, imp.Changed)
		}
		got := map[string]int64{}
		for i := range 8 {
			id := fmt.Sprintf("r_test%06d", i)
			h, _, err := w.db.History(as(healthcode.Actor{Kind: healthcode.ActorResident, ID: id}), id, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) > 0 && h[0].Cause == store.CauseRuleset {
				got[string(h[0].Previous)+"→"+string(h[0].Colour)]++
			}
		}
		if !cmp.Equal(got, imp.Colours["410105"]) {
			t.Errorf("changes after approval %v, preview %v", got, imp.Colours["410105"])
		}
		ex := mustColour(t, w, "r_test000001", healthcode.Red)
		if ex.RulesetDraftedBy == nil || ex.RulesetDraftedBy.ID != cmdProvince1.ID || ex.RulesetApprovedBy == nil || ex.RulesetApprovedBy.ID != cmdProvince2.ID {
			t.Errorf("explanation names %+v and %+v, want both officials of the ruleset", ex.RulesetDraftedBy, ex.RulesetApprovedBy)
		}
		alerts, _, err := w.db.Alerts(system, healthcode.AlertMassChange, 1)
		if err != nil || len(alerts) != 1 {
			t.Fatalf("alerts %v, %v: want one mass_change", alerts, err)
		}
		if d := alerts[0].Detail; alerts[0].Subject != "henan-health-code@2" || d["drafted_by"] != cmdProvince1.ID || d["approved_by"] != cmdProvince2.ID {
			t.Errorf("mass_change %+v: want the ruleset and both officials named", alerts[0])
		}
		mustVerified(t, w.db)
	})
}

// TestDesignationImpact: the approver of a pending designation sees its
// impact before deciding (a dry run of the area's residents with it in
// force), the counts equal the changes its approval then makes, and an
// approval above Limits.MassChange raises mass_change naming the recorder
// and the approver. A resident may not ask for the dry run.
func TestDesignationImpact(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{MassChange: 2})
		arrived := w.now.Add(-30 * time.Minute)
		var visits []healthcode.Fact
		for _, i := range []int{1, 2} {
			visits = append(visits, w.fact(fmt.Sprint("v-r", i), "area_visit", fmt.Sprintf("r_test%06d", i), arrived, fmt.Sprintf(`{"area":"410105001002","arrived_at":%q,"departed_at":%q}`,
				arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339))))
		}
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), visits); err != nil {
			t.Fatal(err)
		}
		key := w.pendingDesignation(t)
		if _, err := w.db.DesignationImpact(self("r_test000001"), key); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("a resident's dry run: %v, want forbidden", err)
		}
		imp, err := w.db.DesignationImpact(as(cmdProvince1), key)
		if err != nil {
			t.Fatal(err)
		}
		want := &healthcode.Impact{Residents: 6, Changed: 3, Colours: map[string]map[string]int64{"410105": {"green→red": 3}}}
		if diff := cmp.Diff(want, imp); diff != "" {
			t.Fatalf("impact (-want +got):\n%s", diff)
		}
		for i := 1; i <= 3; i++ {
			mustColour(t, w, fmt.Sprintf("r_test%06d", i), healthcode.Green) // a dry run changes nothing
		}
		if _, err := w.db.DecideFact(as(cmdProvince1), key, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		var changed int64
		for i := range 6 {
			id := fmt.Sprintf("r_test%06d", i)
			h, _, err := w.db.History(self(id), id, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) > 0 && h[0].Cause == store.CauseRiskArea {
				changed++
				got[string(h[0].Previous)+"→"+string(h[0].Colour)]++
			}
		}
		if changed != imp.Changed || !cmp.Equal(got, imp.Colours["410105"]) {
			t.Errorf("the approval changed %d codes %v, the preview said %d %v", changed, got, imp.Changed, imp.Colours["410105"])
		}
		alerts, _, err := w.db.Alerts(system, healthcode.AlertMassChange, 1)
		if err != nil || len(alerts) != 1 {
			t.Fatalf("alerts %v, %v: want one mass_change", alerts, err)
		}
		if d := alerts[0].Detail; alerts[0].Subject != key || d["recorded_by"] != cmdCounty.ID || d["approved_by"] != cmdProvince1.ID {
			t.Errorf("mass_change %+v: want the designation and both officials named", alerts[0])
		}
		if _, err := w.db.DesignationImpact(as(cmdProvince1), key); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
			t.Errorf("dry run of an approved designation: %v, want conflict", err)
		}
		mustVerified(t, w.db)
	})
}

// TestImpactReused: a dry run costs about a re-evaluation of the scope, so
// the approver's GETs and the approval share one while the log has not
// grown; a new entry (a fact recorded) makes the next one run again.
func TestImpactReused(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		key := w.pendingDesignation(t)
		runs := store.DryRuns(w.db)
		first, err := w.db.DesignationImpact(as(cmdProvince1), key)
		if err != nil {
			t.Fatal(err)
		}
		again, err := w.db.DesignationImpact(as(cmdProvince2), key)
		if err != nil || !cmp.Equal(first, again) {
			t.Fatalf("second dry run %+v, %v; want %+v", again, err, first)
		}
		if n := store.DryRuns(w.db) - runs; n != 1 {
			t.Errorf("two GETs at one log size made %d dry runs, want 1", n)
		}
		arrived := w.now.Add(-30 * time.Minute)
		visit := w.fact("v-r1", "area_visit", "r_test000001", arrived, fmt.Sprintf(`{"area":"410105001002","arrived_at":%q,"departed_at":%q}`,
			arrived.Format(time.RFC3339), arrived.Add(10*time.Minute).Format(time.RFC3339)))
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
			t.Fatal(err)
		}
		after, err := w.db.DesignationImpact(as(cmdProvince1), key)
		if err != nil || after.Changed != first.Changed+1 {
			t.Fatalf("dry run after a new visit: %+v, %v; want one more change than %+v", after, err, first)
		}
		if _, err := w.db.DecideFact(as(cmdProvince1), key, true, ""); err != nil {
			t.Fatal(err)
		}
		if n := store.DryRuns(w.db) - runs; n != 2 {
			t.Errorf("GET, new fact, GET, approval made %d dry runs, want 2", n)
		}
	})
}

// TestDesignationReachesVisitors: a designation re-evaluates the residents
// who visited the area, not only those who live there. A resident living
// in another county visits the area; the dry run of a raising designation
// counts them, its approval's job raises their code, and the counts equal
// the changes. Small chunks: a visitor with more visits than a chunk holds
// and the area's residents are each evaluated once, none skipped.
func TestDesignationReachesVisitors(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		if err := w.db.CreateJurisdictions(system, []healthcode.Jurisdiction{
			{Code: "410102", Name: "中原区", Level: healthcode.County, Parent: "410100"},
			{Code: "410102001", Name: "林山寨街道", Level: healthcode.Street, Parent: "410102"},
			{Code: "410102001001", Name: "建设路社区", Level: healthcode.Community, Parent: "410102001"},
		}); err != nil {
			t.Fatal(err)
		}
		const visitor, frequent = "r_test000099", "r_test000050"
		if err := w.db.CreateResidents(system, []healthcode.Resident{resident(99, "410102001001"), resident(50, "410102001001")}); err != nil {
			t.Fatal(err)
		}
		var visits []healthcode.Fact
		for i, who := range []string{visitor, frequent, frequent, frequent} {
			arrived := w.now.Add(-time.Duration(40+i*10) * time.Minute)
			visits = append(visits, w.fact(fmt.Sprint("v-", 99+i), "area_visit", who, arrived, fmt.Sprintf(`{"area":"410105001002","arrived_at":%q,"departed_at":%q}`,
				arrived.Format(time.RFC3339), arrived.Add(5*time.Minute).Format(time.RFC3339))))
		}
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), visits); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, visitor, healthcode.Green)
		store.SetJobChunk(w.db, 2)
		key := w.pendingDesignation(t)
		imp, err := w.db.DesignationImpact(as(cmdProvince1), key)
		if err != nil {
			t.Fatal(err)
		}
		want := &healthcode.Impact{Residents: 8, Changed: 3, Colours: map[string]map[string]int64{
			"410105": {"green→red": 1}, "410102": {"green→red": 2}}}
		if diff := cmp.Diff(want, imp); diff != "" {
			t.Fatalf("impact (-want +got):\n%s", diff)
		}
		if _, err := w.db.DecideFact(as(cmdProvince1), key, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, frequent, healthcode.Red)
		mustColour(t, w, "r_test000003", healthcode.Red)
		ex := mustColour(t, w, visitor, healthcode.Red)
		if ex.Designation != key || ex.DesignationApprovedBy == nil || ex.DesignationApprovedBy.ID != cmdProvince1.ID {
			t.Errorf("the visitor's explanation cites %q approved by %+v, want designation %s approved by %s", ex.Designation, ex.DesignationApprovedBy, key, cmdProvince1.ID)
		}
		jobs, err := w.db.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		j := &healthcode.Job{}
		for _, jj := range jobs {
			if jj.Params["designation"] == key {
				j = jj
			}
		}
		if j.Done != imp.Residents || j.Total != imp.Residents || j.Changed != imp.Changed {
			t.Errorf("job %+v: want the designation's job, %d residents and %d changes as previewed", j, imp.Residents, imp.Changed)
		}
		// Retracting it re-evaluates the visitor too.
		if _, err := w.db.RetractFact(as(cmdCounty), key, "designated in error"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, visitor, healthcode.Green)
		mustColour(t, w, frequent, healthcode.Green)
		mustVerified(t, w.db)
	})
}
