package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// world is a store with a tree, residents, officials, a lab source and the
// default ruleset published, and a clock the test moves.
type world struct {
	db  *store.DB
	now time.Time
}

var (
	cmdProvince1 = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdp1", Role: healthcode.RoleCommand, Jurisdiction: "410000"}
	cmdProvince2 = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdp2", Role: healthcode.RoleCommand, Jurisdiction: "410000"}
	cmdCounty    = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdc", Role: healthcode.RoleCommand, Jurisdiction: "410105"}
	tracer       = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_tracer", Role: healthcode.RoleTracer, Jurisdiction: "410105"}
	lab          = healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab", Jurisdiction: "410100"}
)

func as(a healthcode.Actor) context.Context { return healthcode.NewContext(context.Background(), a) }

func mustWorld(t *testing.T, dsn string) *world {
	t.Helper()
	w := &world{now: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}
	db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.db = db
	mustSeedTree(t, db)
	var rs []healthcode.Resident
	for i := 0; i < 6; i++ {
		rs = append(rs, resident(i, "410105001001"))
	}
	if err := db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	for _, a := range []healthcode.Actor{cmdProvince1, cmdProvince2, cmdCounty, tracer} {
		o := healthcode.Official{ID: a.ID, Name: "官员" + a.ID, Role: a.Role, Jurisdiction: a.Jurisdiction}
		if err := db.CreateOfficial(system, o, "login-"+a.ID, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	src := healthcode.Source{ID: "s_lab", Name: "郑州市疾控中心实验室", Kinds: []string{"test_result", "case_status"}, Jurisdiction: "410100"}
	if err := db.CreateSource(system, src, "hck_labkeylabkeylabkeylabkey"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DraftRuleset(as(cmdProvince1), "default.yaml", rules.DefaultSource()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideRuleset(as(cmdProvince2), "henan-health-code", 1, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RunJobs(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) fact(id, kind, subject string, observed time.Time, payload string) healthcode.Fact {
	return healthcode.Fact{ID: id, Kind: kind, Subject: subject, ObservedAt: observed, Evidence: "report " + id, Payload: json.RawMessage(payload)}
}

func (w *world) pcr(id, subject, result string, sampled time.Time) healthcode.Fact {
	return w.fact(id, "test_result", subject, sampled,
		fmt.Sprintf(`{"method":"pcr","result":%q,"sampled_at":%q,"lab":"郑州市疾控中心"}`, result, sampled.Format(time.RFC3339)))
}

func mustColour(t *testing.T, w *world, id string, want healthcode.Colour) *store.Explanation {
	t.Helper()
	ex, err := w.db.Explain(as(healthcode.Actor{Kind: healthcode.ActorResident, ID: id}), id)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Colour != want {
		t.Fatalf("%s is %s (rule %q), want %s", id, ex.Colour, ex.Rule, want)
	}
	return ex
}

func TestRulesetTwoPersons(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		src := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
		if _, err := w.db.DraftRuleset(as(tracer), "v2.yaml", []byte(src)); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("tracer drafting: %v", err)
		}
		if _, err := w.db.DraftRuleset(as(cmdCounty), "v2.yaml", []byte(src)); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("county officer drafting a province ruleset: %v", err)
		}
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v1.yaml", rules.DefaultSource()); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
			t.Errorf("same version again: %v", err)
		}
		bad := strings.Replace(src, "facts.case_statuses", "facts.bank_deposits", 1)
		_, err := w.db.DraftRuleset(as(cmdProvince1), "bad.yaml", []byte(bad))
		if healthcode.ErrorCode(err) != healthcode.EINVALID || !strings.Contains(err.Error(), "bad.yaml:") {
			t.Errorf("out-of-schema draft: %v", err)
		}
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince1), "henan-health-code", 2, true, ""); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("self-approval: %v", err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, false, ""); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("refusal without reason: %v", err)
		}
		info, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, "")
		if err != nil || info.Status != healthcode.RulesetPublished || info.DecidedBy != cmdProvince2.ID {
			t.Fatalf("approve: %+v %v", info, err)
		}
		// The same decision again is a retry (its answer lost): the
		// same answer; another decision is a conflict.
		if again, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil || again.DecidedLog != info.DecidedLog || again.Status != info.Status {
			t.Errorf("the approval retried: %+v %v, want the first answer", again, err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, false, "not needed"); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
			t.Errorf("second decision: %v", err)
		}
	})
}

func TestFactsAndCodes(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		r0, r1 := "r_test000000", "r_test000001"
		day := w.now.Add(-24 * time.Hour)

		// A lab's positive PCR turns r0 red, with an explanation.
		batch := []healthcode.Fact{w.pcr("pcr-1", r0, "positive", day), w.pcr("pcr-2", r1, "negative", day)}
		res, err := w.db.RecordFacts(as(lab), batch)
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed != 1 || len(res.Facts) != 2 || res.Facts[0].Status != "active" || res.Facts[0].Key != "s_lab:pcr-1" {
			t.Errorf("result %+v", res)
		}
		ex := mustColour(t, w, r0, healthcode.Red)
		if ex.Rule != "positive-pcr" || ex.Reason["zh-CN"] == "" || ex.LegalBasis == nil || len(ex.Facts) != 1 ||
			ex.Facts[0].RecordedBy.Name != "郑州市疾控中心实验室" || ex.Cause != store.CauseFact {
			t.Errorf("explanation %+v", ex)
		}
		mustColour(t, w, r1, healthcode.Green)

		// A retried batch is idempotent; a reused id with other content is refused whole.
		res, err = w.db.RecordFacts(as(lab), batch)
		if err != nil || res.Facts[0].Status != "duplicate" || res.Changed != 0 {
			t.Errorf("retry: %+v %v", res, err)
		}
		_, err = w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-3", r1, "negative", day), w.pcr("pcr-1", r0, "negative", day)})
		var he *healthcode.Error
		if healthcode.ErrorCode(err) != healthcode.EINVALID || !errorsAs(err, &he) || he.Line != 2 || he.Field != "id" {
			t.Errorf("reused id: %v", err)
		}

		// Bad input: every error, with its line and field; nothing stored.
		_, err = w.db.RecordFacts(as(lab), []healthcode.Fact{
			w.pcr("ok-1", r1, "negative", day),
			w.fact("bad-kind", "bank_deposit", r1, day, `{}`),
			w.fact("bad-field", "test_result", r1, day, `{"method":"pcr","result":"maybe","sampled_at":"2026-10-31T08:00:00Z","lab":"x"}`),
			w.pcr("future", r1, "negative", w.now.Add(time.Hour)),
			w.fact("vacc", "vaccination", r1, day, `{"dose":1,"product":"x","administered_at":"2026-10-31T08:00:00Z"}`),
			w.pcr("nobody", "r_nobody", "negative", day),
			w.pcr("pcr 7/8", r1, "negative", day),
		})
		if !errorsAs(err, &he) || len(he.Details) != 5 {
			t.Fatalf("bad batch: %v", err)
		}
		wantLines := []int{2, 3, 4, 5, 7}
		for i, d := range he.Details {
			if d.Line != wantLines[i] {
				t.Errorf("detail %d at line %d, want %d: %v", i, d.Line, wantLines[i], d)
			}
		}
		if he.Details[1].Field != "payload.result" || he.Details[4].Field != "id" {
			t.Errorf("bad enum field: %q", he.Details[1].Field)
		}
		_, err = w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("nobody", "r_nobody", "negative", day)})
		if !errorsAs(err, &he) || he.Field != "subject" {
			t.Errorf("unknown subject: %v", err)
		}
		if f, err := w.db.Fact(as(lab), healthcode.FactKey("s_lab", "ok-1")); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
			t.Errorf("fact from a rejected batch was stored: %v %v", f, err)
		}

		// A contact must cite a real case.
		contact := w.fact("c-1", "contact", r1, day, fmt.Sprintf(`{"level":"close","case_id":"C-404","exposed_at":%q}`, day.Format(time.RFC3339)))
		if _, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{contact}); !errorsAs(err, &he) || he.Field != "payload.case_id" {
			t.Errorf("contact citing no case: %v", err)
		}
		caseFact := w.fact("case-1", "case_status", r0, day, `{"status":"confirmed","case_id":"C-1"}`)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{caseFact}); err != nil {
			t.Fatal(err)
		}
		contact = w.fact("c-1", "contact", r1, day, fmt.Sprintf(`{"level":"close","case_id":"C-1","exposed_at":%q}`, day.Format(time.RFC3339)))
		res, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{contact})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("hand-entered raising contact: %+v %v", res, err)
		}
		mustColour(t, w, r1, healthcode.Green) // pending facts do not count
		key := res.Facts[0].Key
		if _, err := w.db.DecideFact(as(tracer), key, true, ""); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("recorder approving: %v", err)
		}
		pending, _, err := w.db.PendingFacts(as(cmdCounty), 1)
		if err != nil || len(pending) != 1 || pending[0].Key != key {
			t.Errorf("pending: %v %v", pending, err)
		}
		if _, err := w.db.DecideFact(as(cmdCounty), key, true, ""); err != nil {
			t.Fatal(err)
		}
		ex = mustColour(t, w, r1, healthcode.Red)
		if ex.Rule != "close-contact" || ex.Facts[0].ApprovedBy == nil || ex.Facts[0].ApprovedBy.ID != cmdCounty.ID || ex.Facts[0].RecordedBy.Post != "410105" {
			t.Errorf("approved contact explanation: %+v", ex)
		}

		// Retraction: the code follows; the fact stays in history.
		if _, err := w.db.RetractFact(as(tracer), key, "wrong person"); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r1, healthcode.Green)
		hist, _, err := w.db.History(as(healthcode.Actor{Kind: healthcode.ActorResident, ID: r1}), r1, 1)
		if err != nil || len(hist) != 2 || hist[0].Cause != store.CauseRetraction || hist[1].Colour != healthcode.Red {
			t.Errorf("history: %+v %v", hist, err)
		}

		// Ageing: 7 days after exposure the close contact would have lapsed;
		// 14 days after sampling the positive PCR lapses: r0 stays red while a
		// confirmed case, so test with r2.
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-9", "r_test000002", "positive", day)}); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, "r_test000002", healthcode.Red)
		w.now = w.now.Add(14 * 24 * time.Hour)
		if n, err := w.db.ReevaluateDue(context.Background()); err != nil || n < 1 {
			t.Fatalf("reevaluate due: %d %v", n, err)
		}
		ex = mustColour(t, w, "r_test000002", healthcode.Green)
		if ex.Cause != "" && ex.Cause != store.CauseTime {
			t.Errorf("cause %q", ex.Cause)
		}

		rep := mustVerify(t, w.db)
		if len(rep.Problems) != 0 {
			t.Fatalf("verify: %v", rep.Problems)
		}
		if rep.CodeChanges != 6 { // r0 red, r0 case, r1 red, r1 green, r2 red, r2 green
			t.Errorf("replayed %d code changes, want 6", rep.CodeChanges)
		}
	})
}

func TestRiskAreaJob(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		day := w.now.Add(-24 * time.Hour)
		itin := healthcode.Source{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"}
		if err := w.db.CreateSource(system, itin, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
			t.Fatal(err)
		}
		visit := w.fact("v-1", "area_visit", "r_test000003", day, fmt.Sprintf(`{"area":"410105001002","arrived_at":%q,"departed_at":%q}`,
			day.Format(time.RFC3339), day.Add(2*time.Hour).Format(time.RFC3339)))
		if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.fact("case-2", "case_status", "r_test000004", day, `{"status":"confirmed","case_id":"C-2"}`)}); err != nil {
			t.Fatal(err)
		}
		area := w.fact("ra-1", "risk_area", "410105001", day.Add(-time.Hour), fmt.Sprintf(`{"level":"high","from":%q,"until":%q,"case_ids":["C-2"]}`,
			day.Add(-time.Hour).Format(time.RFC3339), w.now.Add(72*time.Hour).Format(time.RFC3339)))
		res, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{area})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("risk area: %+v %v", res, err)
		}
		if _, err := w.db.DecideFact(as(cmdProvince1), res.Facts[0].Key, true, ""); err != nil {
			t.Fatal(err)
		}
		// The designation's job waits in the queue (healthcode_jobs_*)
		// until a scheduler runs it.
		w.now = w.now.Add(time.Minute)
		if q, err := w.db.JobQueue(context.Background()); err != nil || q.Pending != 1 || q.OldestDueAge != time.Minute {
			t.Errorf("job queue before the run: %+v %v, want 1 pending, due a minute ago", q, err)
		}
		var last healthcode.JobProgress
		if n, err := w.db.RunJobs(context.Background(), func(p healthcode.JobProgress) { last = p }); err != nil || n != 1 {
			t.Fatalf("jobs: %d %v", n, err)
		}
		if q, err := w.db.JobQueue(context.Background()); err != nil || q.Pending != 0 || q.OldestDueAge != 0 {
			t.Errorf("job queue after the run: %+v %v, want empty", q, err)
		}
		// The log head: the job's last entry is the newest checkpoint's
		// (healthcode_log_size_entries, healthcode_log_checkpoint_age_seconds).
		w.now = w.now.Add(30 * time.Second)
		if h, err := w.db.LogHead(context.Background()); err != nil || h.Size == 0 || h.Age != 30*time.Second {
			t.Errorf("log head: %+v %v, want the last entry 30 s old", h, err)
		}
		if !last.Finished || last.Done != 6 || last.Changed != 1 {
			t.Errorf("job progress %+v", last)
		}
		ex := mustColour(t, w, "r_test000003", healthcode.Red)
		if ex.Rule != "high-risk-area" || ex.Cause != store.CauseRiskArea {
			t.Errorf("explanation %+v", ex)
		}
		rep := mustVerify(t, w.db)
		if len(rep.Problems) != 0 {
			t.Fatalf("verify: %v", rep.Problems)
		}
	})
}

// TestEvidenceErasure: a fact's evidence reference is the erasable personal
// part of its entry, kept in the fact's row. Nothing but erasure changes it,
// verification opens its commitment (and notices a forged reference), and
// erasing the resident blanks it.
func TestEvidenceErasure(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		r := "r_test000001"
		res, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-e", r, "negative", w.now.Add(-time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		key := res.Facts[0].Key
		f, err := w.db.Fact(as(lab), key)
		if err != nil || f.Evidence != "report pcr-e" {
			t.Fatalf("stored fact: %+v %v", f, err)
		}
		if rep := mustVerify(t, w.db); len(rep.Problems) != 0 {
			t.Fatalf("verify: %v", rep.Problems)
		}

		raw, engine := openRaw(t, dsn)
		defer raw.Close()
		untrigger := "DROP TRIGGER facts_evidence_erase_only"
		if engine == store.Postgres {
			untrigger = "ALTER TABLE facts DISABLE TRIGGER USER"
		}
		forge := "UPDATE facts SET evidence = 'forged' WHERE uid = '" + key + "'"
		if _, err := raw.Exec(forge); err == nil {
			t.Error("changing a fact's evidence succeeded, want the trigger to refuse it")
		}
		if _, err := raw.Exec(untrigger); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(forge); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range mustVerify(t, w.db).Problems {
			found = found || p.Index == f.LogIndex && strings.Contains(p.What, "evidence does not open")
		}
		if !found {
			t.Error("verify missed a forged evidence reference")
		}

		if _, err := w.db.EraseResident(system, r, "test erasure"); err != nil {
			t.Fatal(err)
		}
		if f, err := w.db.Fact(as(lab), key); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
			t.Errorf("after erasure: %+v %v", f, err)
		}
		if rep := mustVerify(t, w.db); len(rep.Problems) != 0 {
			t.Fatalf("verify after erasure: %v", rep.Problems)
		}
	})
}
