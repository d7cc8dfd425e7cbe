package store_test

import (
	"context"
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

// failingRuleset is the default ruleset as version 2 with a positive-pcr
// rule that fails at run time for a resident who also has a vaccination
// (an index out of range): it passes the check and its examples.
func failingRuleset(t *testing.T) []byte {
	t.Helper()
	src := string(rules.DefaultSource())
	src = strings.Replace(src, "version: 1", "version: 2", 1)
	i := strings.Index(src, "id: positive-pcr")
	old := "now - t.sampled_at < duration('336h'))"
	j := i + strings.Index(src[i:], old)
	src = src[:j] + "now - t.sampled_at < duration('336h') && [true][size(facts.vaccinations)])" + src[j+len(old):]
	return []byte(src)
}

// TestQueueDoesNotStall is the queue stall of issue 13 (21 designations
// of one area made every evaluation of a visitor fail, and the failing
// oldest job was retried every 2 s while every job behind it stayed
// pending). A resident whose evaluation fails is skipped, recorded
// (evaluation.failed) and alerted, and the job finishes; a job that fails
// as a whole is retried later while the jobs behind it run; GET /v1/jobs
// (Jobs) shows both.
func TestQueueDoesNotStall(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		vax := healthcode.Source{ID: "s_vax", Name: "免疫规划信息系统", Kinds: []string{"vaccination"}, Jurisdiction: "410000"}
		if err := w.db.CreateSource(system, vax, "hck_vaxkeyvaxkeyvaxkeyvaxkey"); err != nil {
			t.Fatal(err)
		}
		lab := as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"})
		sampled := w.now.Add(-2 * time.Hour)
		if _, err := w.db.RecordFacts(lab, []healthcode.Fact{w.pcr("p1", "r_test000001", "positive", sampled), w.pcr("p2", "r_test000002", "positive", sampled)}); err != nil {
			t.Fatal(err)
		}
		dose := w.fact("d1", "vaccination", "r_test000001", sampled, fmt.Sprintf(`{"dose":1,"product":"科兴","administered_at":%q}`, sampled.Format(time.RFC3339)))
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_vax"}), []healthcode.Fact{dose}); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, "r_test000001", healthcode.Red)

		// Version 2 fails for r_test000001. A second job, behind it, is
		// queued by a county's designation... here simply a second
		// ruleset publication's job: both must finish.
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", failingRuleset(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
			t.Fatal(err)
		}
		n, err := w.db.RunJobs(context.Background(), nil)
		if err != nil || n != 1 {
			t.Fatalf("RunJobs = %d, %v: want the job finished despite the failing resident", n, err)
		}
		jobs, err := w.db.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		j := jobOf(jobs, "henan-health-code@2")
		if j.Status != healthcode.JobDone || j.Done != 6 || j.Failed != 1 || len(j.Failures) != 1 {
			t.Fatalf("job %+v: want done with 6 residents, 1 failed and listed", j)
		}
		if f := j.Failures[0]; f.Ruleset != "henan-health-code" || f.RulesetVersion != 2 || !strings.Contains(f.Error, "henan-health-code@2:") || !strings.Contains(f.Error, "rule positive-pcr") {
			t.Errorf("failure %+v: want the ruleset version and the rule's line named", f)
		}
		mustColour(t, w, "r_test000001", healthcode.Red) // left as it was
		mustColour(t, w, "r_test000002", healthcode.Red)
		alerts, _, err := w.db.Alerts(system, healthcode.AlertEvalFailed, 1)
		if err != nil || len(alerts) != 1 || alerts[0].Subject != "henan-health-code@2" {
			t.Fatalf("alerts %v, %v: want one evaluation_failed alert for henan-health-code@2", alerts, err)
		}
		// The alert is public: no error text (it may cite a resident's
		// facts), no place finer than a county; it cites the entry.
		if a := alerts[0]; a.Detail["error"] != nil || len(a.Jurisdiction) > 6 || a.Detail["entry"] == nil {
			t.Errorf("evaluation_failed alert %+v: want the entry cited, no error, the county at most", a)
		}
		if got := w.entriesOfKind(t, "evaluation.failed"); len(got) != 1 {
			t.Errorf("%d evaluation.failed entries, want 1", len(got))
		}

		// A job that fails as a whole does not hold up the job behind it.
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v3.yaml", []byte(strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 3", 1))); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 3, true, ""); err != nil {
			t.Fatal(err)
		}
		w.now = w.now.Add(time.Second)
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v4.yaml", []byte(strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 4", 1))); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 4, true, ""); err != nil {
			t.Fatal(err)
		}
		jobs, err = w.db.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stuck := jobOf(jobs, "henan-health-code@3").ID // the older of the two pending
		store.SetJobHook(func(job string) error {
			if job == stuck {
				return errors.New("the disk is full")
			}
			return nil
		})
		t.Cleanup(func() { store.SetJobHook(nil) })
		n, err = w.db.RunJobs(context.Background(), nil)
		if n != 1 || err == nil || !strings.Contains(err.Error(), "the disk is full") {
			t.Fatalf("RunJobs = %d, %v: want the job behind the failing one finished and the failure reported", n, err)
		}
		jobs, err = w.db.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range []*healthcode.Job{jobOf(jobs, "henan-health-code@3"), jobOf(jobs, "henan-health-code@4")} {
			switch {
			case j.ID == stuck && (j.Status != healthcode.JobPending || j.Attempts != 1 || !strings.Contains(j.LastError, "the run failed") || strings.Contains(j.LastError, "the disk is full") || !j.RetryAt.After(w.now)):
				t.Errorf("failing job %+v: want pending with one attempt, its error's code (not its text: the server's log has it) and a later retry", j)
			case j.ID != stuck && j.Status != healthcode.JobDone:
				t.Errorf("job behind the failing one: %+v, want done", j)
			}
		}
		if alerts, _, err := w.db.Alerts(system, healthcode.AlertJobFailed, 1); err != nil || len(alerts) != 1 || alerts[0].Subject != stuck {
			t.Errorf("alerts %v, %v: want one job_failed alert", alerts, err)
		}
		store.SetJobHook(nil)
		if n, err := w.db.RunJobs(context.Background(), nil); n != 0 || err != nil {
			t.Errorf("before its retry time: RunJobs = %d, %v; want nothing run", n, err)
		}
		w.now = w.now.Add(time.Minute)
		if n, err := w.db.RunJobs(context.Background(), nil); n != 1 || err != nil {
			t.Errorf("after its retry time: RunJobs = %d, %v; want the job finished", n, err)
		}
		mustVerified(t, w.db)
	})
}

// jobOf finds the job of a ruleset publication (id@version).
func jobOf(jobs []*healthcode.Job, ruleset string) *healthcode.Job {
	for _, j := range jobs {
		if j.Params["ruleset"] == ruleset {
			return j
		}
	}
	return &healthcode.Job{}
}

// TestHundredNegativesStore is the 100-negatives suppression of issue 13:
// a lab that files 100 negative tests for a resident made every other
// lab's positive PCR for them refused, with its whole batch, by an error
// naming neither line nor resident. Now the positive is recorded and
// counts, the explanation says how many facts were left out, and the
// flooding lab is named in a facts_near_bound alert.
func TestHundredNegativesStore(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		other := healthcode.Source{ID: "s_lab_b", Name: "金域医学检验所", Kinds: []string{"test_result"}, Jurisdiction: "410000"}
		if err := w.db.CreateSource(system, other, "hck_labbkeylabbkeylabbkeylab"); err != nil {
			t.Fatal(err)
		}
		var negs []healthcode.Fact
		for i := range 100 {
			negs = append(negs, w.pcr(fmt.Sprintf("n%03d", i), "r_test000001", "negative", w.now.Add(-time.Hour).Add(time.Duration(i)*time.Second)))
		}
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"}), negs); err != nil {
			t.Fatal(err)
		}
		pos := w.pcr("pos", "r_test000001", "positive", w.now.Add(-2*time.Hour))
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab_b"}), []healthcode.Fact{pos}); err != nil {
			t.Fatalf("the other lab's positive: %v, want it recorded", err)
		}
		ex := mustColour(t, w, "r_test000001", healthcode.Red)
		if ex.Rule != "positive-pcr" || ex.Omitted["test_result"] != 1 {
			t.Errorf("explanation: rule %s, omitted %v; want positive-pcr with 1 test_result left out", ex.Rule, ex.Omitted)
		}
		alerts, _, err := w.db.Alerts(system, healthcode.AlertNearBound, 1)
		if err != nil || len(alerts) != 1 || alerts[0].Subject != "s_lab" {
			t.Fatalf("alerts %v, %v: want one facts_near_bound alert naming s_lab", alerts, err)
		}
		mustVerified(t, w.db)
	})
}
