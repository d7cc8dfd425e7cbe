package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// caseQuotingRuleset is the default ruleset as version 2 whose case rule
// fails at run time for a vaccinated case, with an error that quotes the
// case's status (a map lookup of it): what a failing rule's error may
// carry. (Rules cannot look identifiers up, so the case id is never
// quoted so.)
func caseQuotingRuleset(t *testing.T) []byte {
	t.Helper()
	src := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
	old := "facts.case_statuses.exists(c, c.status in ['confirmed', 'asymptomatic'] &&"
	if !strings.Contains(src, old) {
		t.Fatal("the default ruleset's case rule changed")
	}
	return []byte(strings.Replace(src, old, "facts.case_statuses.exists(c, {'': true}[size(facts.vaccinations) > 0 ? c.status : ''] && c.status in ['confirmed', 'asymptomatic'] &&", 1))
}

// TestJobFailuresNameNoOne (issue 15): what officials and auditors see of
// failing jobs (Jobs, GET /v1/jobs: last_error and the failures; Alerts,
// GET /v1/alerts: job_failed and evaluation_failed; the public log)
// names no resident and quotes none of their facts, although the rule's
// error quotes a case's status and the whole run's error names the
// resident.
func TestJobFailuresNameNoOne(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		r0 := "r_test000000"
		vax := healthcode.Source{ID: "s_vax", Name: "免疫规划信息系统", Kinds: []string{"vaccination"}, Jurisdiction: "410000"}
		if err := w.db.CreateSource(system, vax, "hck_vaxkeyvaxkeyvaxkeyvaxkey"); err != nil {
			t.Fatal(err)
		}
		mustCase(t, w, r0) // case C-1
		sampled := w.now.Add(-2 * time.Hour)
		dose := w.fact("d1", "vaccination", r0, sampled, fmt.Sprintf(`{"dose":1,"product":"科兴","administered_at":%q}`, sampled.Format(time.RFC3339)))
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_vax"}), []healthcode.Fact{dose}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", caseQuotingRuleset(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		// The whole run of the next job fails with an error naming r0.
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v3.yaml", []byte(strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 3", 1))); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 3, true, ""); err != nil {
			t.Fatal(err)
		}
		jobs, err := w.db.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stuck := jobOf(jobs, "henan-health-code@3").ID
		store.SetJobHook(func(job string) error {
			if job == stuck {
				return fmt.Errorf("read facts of %s: %w", r0, errors.New("disk I/O error"))
			}
			return nil
		})
		t.Cleanup(func() { store.SetJobHook(nil) })
		if _, err := w.db.RunJobs(context.Background(), nil); err == nil || !strings.Contains(err.Error(), r0) {
			t.Fatalf("RunJobs: %v, want the run's error (for the server's log) to name %s", err, r0)
		}
		store.SetJobHook(nil)

		if jobs, err = w.db.Jobs(context.Background()); err != nil {
			t.Fatal(err)
		}
		j := jobOf(jobs, "henan-health-code@2")
		if j.Failed != 1 || len(j.Failures) != 1 || j.Failures[0].Error != "henan-health-code@2:20: rule case" {
			t.Errorf("job %+v: want one failure naming the rule's place only", j)
		}
		if j := jobOf(jobs, "henan-health-code@3"); j.LastError == "" || j.Attempts != 1 {
			t.Errorf("job %+v: want its whole-run failure shown", j)
		}
		var alerts []*healthcode.Alert
		for _, kind := range []string{healthcode.AlertJobFailed, healthcode.AlertEvalFailed} {
			as, _, err := w.db.Alerts(system, kind, 1)
			if err != nil || len(as) != 1 {
				t.Fatalf("%s alerts %v, %v: want one", kind, as, err)
			}
			alerts = append(alerts, as...)
		}
		_, leaves := mustSignedLeaves(t, w.db)
		for what, v := range map[string]any{"jobs": jobs, "alerts": alerts, "the public log": leaves} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if what == "the public log" {
				b = []byte(fmt.Sprintf("%s", leaves))
			}
			for _, s := range []string{r0, "C-1", "s_lab:case-1", "confirmed", "disk I/O"} {
				if strings.Contains(string(b), s) {
					t.Errorf("%s hold %q", what, s)
				}
			}
		}
		mustVerified(t, w.db)
	})
}
