package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/verify"
)

var (
	worker   = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_worker", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"}
	cmdCity1 = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdcity1", Role: healthcode.RoleCommand, Jurisdiction: "410100"}
	cmdCity2 = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_cmdcity2", Role: healthcode.RoleCommand, Jurisdiction: "410100"}
	operator = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_operator", Role: healthcode.RoleOperator, Jurisdiction: "410000"}
	auditor  = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_auditor", Role: healthcode.RoleAuditor, Jurisdiction: "410000"}
)

func self(id string) context.Context {
	return as(healthcode.Actor{Kind: healthcode.ActorResident, ID: id, Role: healthcode.RoleResident, Jurisdiction: "410105001001"})
}

// mustAccWorld is mustWorld with limits, n residents (at least 6) and the
// officials accountability needs.
// setup, if any, is called on the database right after it is opened.
func mustAccWorld(t *testing.T, dsn string, lim store.Limits, n int, setup ...func(*store.DB)) *world {
	t.Helper()
	w := &world{now: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}
	db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return w.now }, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, f := range setup {
		f(db)
	}
	w.db = db
	mustSeedTree(t, db)
	rs := make([]healthcode.Resident, max(n, 6))
	for i := range rs {
		rs[i] = resident(i, "410105001001")
	}
	if err := db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	for _, a := range []healthcode.Actor{cmdProvince1, cmdProvince2, cmdCounty, tracer, worker, cmdCity1, cmdCity2, operator, auditor} {
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

func (w *world) contact(id, subject, caseID string, exposed time.Time, evidence string) healthcode.Fact {
	f := w.fact(id, "contact", subject, exposed, fmt.Sprintf(`{"level":"close","case_id":%q,"exposed_at":%q}`, caseID, exposed.Format(time.RFC3339)))
	f.Evidence = evidence
	return f
}

func mustCode(t *testing.T, err error, want string, what string) {
	t.Helper()
	if got := healthcode.ErrorCode(err); got != want {
		t.Fatalf("%s: got %q (%v), want %q", what, got, err, want)
	}
}

func mustVerified(t *testing.T, db *store.DB) {
	t.Helper()
	rep, err := verify.Log(context.Background(), db.VerifyView(), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("verify: %+v", rep.Problems)
	}
}

func alertsOf(t *testing.T, db *store.DB, kind string) []*healthcode.Alert {
	t.Helper()
	as, _, err := db.Alerts(as(auditor), kind, 1)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// mustContacted gives r a case (lab) and a close contact approved by the
// county command: r is then not green.
func mustCase(t *testing.T, w *world, r string) {
	t.Helper()
	day := w.now.Add(-24 * time.Hour)
	if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.fact("case-1", "case_status", r, day, `{"status":"confirmed","case_id":"C-1"}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestAppealGrantAndReraiseGuard(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		r0, r1, r2 := "r_test000000", "r_test000001", "r_test000002"
		mustCase(t, w, r0)
		day := w.now.Add(-24 * time.Hour)
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-1", r1, "C-1", day, "flow report 7")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("contact: %+v %v", res, err)
		}
		key := res.Facts[0].Key
		if _, err := w.db.DecideFact(as(cmdCounty), key, true, ""); err != nil {
			t.Fatal(err)
		}
		if ex := mustColour(t, w, r1, healthcode.Red); ex.Rule == "" {
			t.Fatal("no rule")
		}

		// Filing: the resident for themself; a worker with consent; no one else.
		req := healthcode.AppealRequest{Resident: r1, FactKeys: []string{key}, Statement: "我没有去过那里",
			Attachments: []healthcode.Attachment{{Name: "ticket.jpg", MediaType: "image/jpeg", Data: []byte("jpeg bytes")}}}
		_, err = w.db.FileAppeal(self(r2), req)
		mustCode(t, err, healthcode.EFORBIDDEN, "other resident filing")
		_, err = w.db.FileAppeal(as(cmdCounty), req)
		mustCode(t, err, healthcode.EFORBIDDEN, "command officer filing")
		big := req
		big.Attachments = []healthcode.Attachment{{Name: "x", Data: make([]byte, healthcode.MaxAttachmentSize+1)}}
		_, err = w.db.FileAppeal(self(r1), big)
		mustCode(t, err, healthcode.EINVALID, "oversized attachment")
		a, err := w.db.FileAppeal(as(worker), req)
		if err != nil || a.Status != healthcode.AppealAwaitingConsent || a.Deadline != nil {
			t.Fatalf("worker filing without consent: %+v %v", a, err)
		}
		if h := sha256.Sum256([]byte("jpeg bytes")); a.Attachments[0].SHA256 != hex.EncodeToString(h[:]) || a.Attachments[0].Size != 10 {
			t.Errorf("attachment hash %q", a.Attachments[0].SHA256)
		}
		_, err = w.db.DecideAppeal(as(cmdProvince1), a.ID, true, "")
		mustCode(t, err, healthcode.ECONFLICT, "deciding before consent")
		_, err = w.db.ConsentAppeal(self(r2), a.ID)
		mustCode(t, err, healthcode.EFORBIDDEN, "another resident consenting")
		a, err = w.db.ConsentAppeal(self(r1), a.ID)
		if err != nil || a.Status != healthcode.AppealOpen || a.Deadline == nil || !a.Deadline.Equal(w.now.Add(24*time.Hour)) {
			t.Fatalf("consent: %+v %v", a, err)
		}

		// Deciding: a command officer over the resident who had no hand in the facts.
		for _, x := range []healthcode.Actor{operator, tracer, worker, auditor} {
			_, err = w.db.DecideAppeal(as(x), a.ID, true, "")
			mustCode(t, err, healthcode.EFORBIDDEN, string(x.Role)+" deciding")
		}
		_, err = w.db.DecideAppeal(as(cmdCounty), a.ID, true, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "the fact's approver deciding")
		_, err = w.db.DecideAppeal(as(cmdProvince1), a.ID, false, "")
		mustCode(t, err, healthcode.EINVALID, "denial without reason")
		a, err = w.db.DecideAppeal(as(cmdProvince1), a.ID, true, "")
		if err != nil || a.Status != healthcode.AppealGranted || len(a.Steps) != 3 {
			t.Fatalf("grant: %+v %v", a, err)
		}
		mustColour(t, w, r1, healthcode.Green)
		hist, _, err := w.db.History(self(r1), r1, 1)
		if err != nil || hist[0].Cause != store.CauseAppeal {
			t.Fatalf("history: %+v %v", hist, err)
		}
		if f, _ := w.db.Fact(self(r1), key); f.Status != healthcode.FactRetracted {
			t.Errorf("disputed fact is %s", f.Status)
		}

		// An hour later the same office re-raises: the same evidence or
		// content is refused; new evidence is held for the parent command.
		w.now = w.now.Add(time.Hour)
		_, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-2", r1, "C-1", day.Add(time.Hour), "flow report 7")})
		mustCode(t, err, healthcode.EINVALID, "re-raise with the same evidence")
		_, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-2", r1, "C-1", day, "flow report 8")})
		mustCode(t, err, healthcode.EINVALID, "re-raise with the same content")
		res, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-2", r1, "C-1", day.Add(time.Hour), "flow report 8")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("re-raise: %+v %v", res, err)
		}
		key2 := res.Facts[0].Key
		_, pending, err := w.db.ResidentAppeals(self(r1), r1)
		if err != nil || len(pending) != 1 || pending[0].ApprovalScope != "410100" || pending[0].Why != "reraise" {
			t.Fatalf("resident's view of the pending fact: %+v %v", pending, err)
		}
		if n := len(alertsOf(t, w.db, healthcode.AlertReraise)); n != 1 {
			t.Errorf("%d re-raise alerts", n)
		}
		_, err = w.db.DecideFact(as(cmdCounty), key2, true, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "same office approving a re-raise")
		if _, err := w.db.DecideFact(as(cmdCity1), key2, true, ""); err != nil {
			t.Fatalf("parent command approving: %v", err)
		}
		mustColour(t, w, r1, healthcode.Red)

		// A registered lab's result applies at once, cooling period or not.
		res, err = w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-9", r1, "positive", day)})
		if err != nil || res.Facts[0].Status != "active" {
			t.Fatalf("lab result in the cooling period: %+v %v", res, err)
		}

		// After the cooling period the guard no longer applies.
		if _, err := w.db.RetractFact(as(lab), res.Facts[0].Key, "sample mix-up"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RetractFact(as(tracer), key2, "entered in error"); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r1, healthcode.Green)
		w.now = w.now.Add(7*24*time.Hour + time.Millisecond)
		res, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-3", r1, "C-1", w.now.Add(-time.Hour), "flow report 9")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("after the cooling period: %+v %v", res, err)
		}
		if _, err := w.db.DecideFact(as(cmdCounty), res.Facts[0].Key, true, ""); err != nil {
			t.Errorf("the county approving after the cooling period: %v", err)
		}
		if n := len(alertsOf(t, w.db, healthcode.AlertReraise)); n != 1 {
			t.Errorf("%d re-raise alerts after the cooling period", n)
		}
		mustVerified(t, w.db)
	})
}

func TestAppealEscalation(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{AppealDeadline: 2 * time.Hour}, 6)
		r0, r1 := "r_test000000", "r_test000001"
		mustCase(t, w, r0)
		ex := mustColour(t, w, r0, healthcode.Red)
		a, err := w.db.FileAppeal(self(r0), healthcode.AppealRequest{Resident: r0, FactKeys: []string{ex.Facts[0].Key}, Statement: "检测有误"})
		if err != nil || a.Assigned != "410105" {
			t.Fatalf("file: %+v %v", a, err)
		}
		w.now = w.now.Add(2*time.Hour - time.Millisecond)
		if n, err := w.db.EscalateOverdue(context.Background()); n != 0 || err != nil {
			t.Fatalf("before the deadline: %d %v", n, err)
		}
		w.now = w.now.Add(time.Millisecond)
		if n, err := w.db.EscalateOverdue(context.Background()); n != 1 || err != nil {
			t.Fatalf("at the deadline: %d %v", n, err)
		}
		if n, _ := w.db.EscalateOverdue(context.Background()); n != 0 {
			t.Fatalf("escalated twice: %d", n)
		}
		a, err = w.db.Appeal(self(r0), a.ID)
		if err != nil || a.Assigned != "410100" || a.Escalations != 1 || a.Steps[len(a.Steps)-1].Kind != "appeal.escalated" {
			t.Fatalf("after escalation: %+v %v", a, err)
		}
		if al := alertsOf(t, w.db, healthcode.AlertAppealOverdue); len(al) != 1 || al[0].Subject != a.ID {
			t.Fatalf("overdue alerts: %+v", al)
		}
		_, err = w.db.DecideAppeal(as(cmdCounty), a.ID, true, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "county command after escalation")
		queue, _, err := w.db.AppealQueue(as(cmdCity1), "open", 1)
		if err != nil || len(queue) != 1 {
			t.Fatalf("city queue: %d %v", len(queue), err)
		}
		if q, _, _ := w.db.AppealQueue(as(cmdCounty), "open", 1); len(q) != 0 {
			t.Errorf("county queue has %d", len(q))
		}
		_, _, err = w.db.AppealQueue(as(operator), "open", 1)
		mustCode(t, err, healthcode.EFORBIDDEN, "operator's queue")
		a, err = w.db.DecideAppeal(as(cmdCity1), a.ID, false, "检测报告真实有效")
		if err != nil || a.Status != healthcode.AppealDenied {
			t.Fatalf("deny: %+v %v", a, err)
		}
		mustColour(t, w, r0, healthcode.Red)
		// The resident of another appeal cannot read this one.
		_, err = w.db.Appeal(self(r1), a.ID)
		mustCode(t, err, healthcode.EFORBIDDEN, "another resident reading")
		mustVerified(t, w.db)
	})
}

func TestAlertThresholds(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		lim := store.Limits{OfficialRaisesPerHour: 3, PlausibleContacts: 3, BulkReadAlert: 3, ReadsPerHour: 5, SourceSurgeMin: 2}
		w := mustAccWorld(t, dsn, lim, 10)
		r := func(i int) string { return fmt.Sprintf("r_test%06d", i) }
		mustCase(t, w, r(0))
		day := w.now.Add(-24 * time.Hour)

		// Three raising facts by one official citing one case: no alert.
		var batch []healthcode.Fact
		for i := 1; i <= 3; i++ {
			batch = append(batch, w.contact(fmt.Sprint("c-", i), r(i), "C-1", day, fmt.Sprint("report ", i)))
		}
		if _, err := w.db.RecordFacts(as(tracer), batch); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{healthcode.AlertOfficialVolume, healthcode.AlertCaseContacts} {
			if n := len(alertsOf(t, w.db, k)); n != 0 {
				t.Errorf("%s at the threshold: %d alerts", k, n)
			}
		}
		// The fourth: both fire, and the fourth is held for the parent command.
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-4", r(4), "C-1", day, "report 4")})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{healthcode.AlertOfficialVolume, healthcode.AlertCaseContacts} {
			if n := len(alertsOf(t, w.db, k)); n != 1 {
				t.Errorf("%s above the threshold: %d alerts", k, n)
			}
		}
		_, err = w.db.DecideFact(as(cmdCounty), res.Facts[0].Key, true, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "same office approving above the volume")
		if _, err := w.db.DecideFact(as(cmdCity2), res.Facts[0].Key, true, ""); err != nil {
			t.Fatal(err)
		}

		// Bulk reads: 3 reads no alert, the 4th alerts, the 6th is refused.
		for i := 1; i <= 5; i++ {
			if _, err := w.db.Resident(as(cmdCounty), r(i)); err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			if n := len(alertsOf(t, w.db, healthcode.AlertBulkReads)); (i <= 3) != (n == 0) {
				t.Errorf("after %d reads: %d bulk-read alerts", i, n)
			}
		}
		_, err = w.db.Resident(as(cmdCounty), r(6))
		mustCode(t, err, healthcode.ETOOMANY, "sixth read in an hour")
		w.now = w.now.Add(time.Hour + time.Second)
		if _, err := w.db.Resident(as(cmdCounty), r(6)); err != nil {
			t.Fatalf("an hour later: %v", err)
		}

		// A source: two codes raised this hour is its floor; the third alerts.
		for i := 5; i <= 7; i++ {
			if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr(fmt.Sprint("p-", i), r(i), "positive", day)}); err != nil {
				t.Fatal(err)
			}
			if n := len(alertsOf(t, w.db, healthcode.AlertSourceSurge)); (i < 7) != (n == 0) {
				t.Errorf("after %d codes raised: %d surge alerts", i-4, n)
			}
		}
		_, _, err = w.db.Alerts(as(cmdProvince1), "", 1)
		mustCode(t, err, healthcode.EFORBIDDEN, "command officer reading alerts")
		// The counts by kind (healthcode_alerts_raised_total) are the
		// alerts listed.
		counts, err := w.db.AlertCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for _, a := range alertsOf(t, w.db, "") {
			want[a.Kind]++
		}
		if len(want) < 4 || !maps.Equal(counts, want) {
			t.Errorf("alert counts %v, want %v", counts, want)
		}
		mustVerified(t, w.db)
	})
}

func TestAccessLogEveryReadPath(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		r0, r1 := "r_test000000", "r_test000001"
		mustCase(t, w, r0)
		day := w.now.Add(-24 * time.Hour)
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-1", r1, "C-1", day, "x")})
		if err != nil {
			t.Fatal(err)
		}
		a, err := w.db.FileAppeal(self(r0), healthcode.AppealRequest{Resident: r0, FactKeys: []string{mustColour(t, w, r0, healthcode.Red).Facts[0].Key}, Statement: "错误"})
		if err != nil {
			t.Fatal(err)
		}
		// The resident's own reads are not logged; officials' are.
		reads := []struct {
			what string
			read func() error
		}{
			{"resident", func() error { _, err := w.db.Resident(as(cmdCounty), r0); return err }},
			{"code", func() error { _, err := w.db.Explain(as(cmdCounty), r0); return err }},
			{"history", func() error { _, _, err := w.db.History(as(cmdCounty), r0, 1); return err }},
			{"fact", func() error { _, err := w.db.Fact(as(cmdCounty), a.FactKeys[0]); return err }},
			{"appeal", func() error { _, err := w.db.Appeal(as(cmdCounty), a.ID); return err }},
			{"appeals", func() error { _, _, err := w.db.ResidentAppeals(as(worker), r0); return err }},
			{"appeal_queue", func() error { _, _, err := w.db.AppealQueue(as(cmdCounty), "", 1); return err }},
		}
		for _, rd := range reads {
			if err := rd.read(); err != nil {
				t.Fatalf("%s: %v", rd.what, err)
			}
		}
		if _, err := w.db.Explain(self(r0), r0); err != nil {
			t.Fatal(err)
		}
		got, _, err := w.db.AccessLog(self(r0), r0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(reads) {
			t.Fatalf("%d reads logged, want %d: %+v", len(got), len(reads), got)
		}
		for i, rd := range reads {
			g := got[len(got)-1-i]
			if g.What != rd.what || g.By.Name == "" || g.By.Post == "" || g.At.IsZero() {
				t.Errorf("read %d: %+v, want %s with name and post", i, g, rd.what)
			}
		}
		// The pending-facts list logs the residents it shows.
		if _, _, err := w.db.PendingFacts(as(cmdCounty), 1); err != nil {
			t.Fatal(err)
		}
		got1, _, _ := w.db.AccessLog(self(r1), r1, 1)
		if len(got1) != 1 || got1[0].What != "pending_facts" {
			t.Errorf("pending list reads of %s: %+v (fact %s)", r1, got1, res.Facts[0].Key)
		}
		_, _, err = w.db.AccessLog(self(r1), r0, 1)
		mustCode(t, err, healthcode.EFORBIDDEN, "another resident's access log")
		_, _, err = w.db.AccessLog(as(cmdCounty), r0, 1)
		mustCode(t, err, healthcode.EFORBIDDEN, "an official reading the access log")
		mustVerified(t, w.db)
	})
}

func TestStatsSuppression(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 22)
		st, err := w.db.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if g := st.Codes["410105001001"]["green"]; g == nil || *g != 22 {
			t.Errorf("22 green: %v", g)
		}
		if st.Codes["410105001001"]["red"] != nil || st.Appeals["filed"] != nil || st.Alerts[healthcode.AlertBulkReads] != nil {
			t.Errorf("zero counts not suppressed: %+v", st)
		}
		// Nine red codes are suppressed, and with them the green ones
		// (the population minus the green ones would give them away).
		// Ten are still suppressed: no one is yellow, and a lone
		// suppressed zero beside a published red count would give the
		// red count away too.
		day := w.now.Add(-24 * time.Hour)
		for i := 0; i < 10; i++ {
			if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr(fmt.Sprint("p-", i), fmt.Sprintf("r_test%06d", i), "positive", day)}); err != nil {
				t.Fatal(err)
			}
			st, _ = w.db.Stats(context.Background())
			red := st.Codes["410000"]["red"]
			if red != nil {
				t.Errorf("%d red: %v", i+1, red)
			}
			if green := st.Codes["410000"]["green"]; (i < 9) != (green == nil) {
				t.Errorf("%d red: green %v", i+1, green)
			}
		}
		if c := st.ChangesByDay["2026-11-01"][store.CauseFact]; c == nil || *c != 10 {
			t.Errorf("changes by day: %+v", st.ChangesByDay)
		}
		if c := st.ChangesByRule["2026-11-01"]["positive-pcr"]; c == nil || *c != 10 {
			t.Errorf("changes by rule: %+v", st.ChangesByRule)
		}
		if st.HandEntered["2026-11-01"] != nil {
			t.Errorf("hand-entered changes: %+v", st.HandEntered)
		}
	})
}

// TestDeskCounts: a command officer's desk counts its own jurisdiction's
// codes and code changes (its whole subtree) exactly, small counts too,
// while the public statistics suppress them; no one else reads them.
func TestDeskCounts(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 12)
		var others []healthcode.Resident
		for i := 0; i < 3; i++ {
			others = append(others, resident(100+i, "410105001002"))
		}
		if err := w.db.CreateResidents(system, others); err != nil {
			t.Fatal(err)
		}
		day := w.now.Add(-24 * time.Hour)
		var fs []healthcode.Fact
		for i := 0; i < 12; i++ {
			fs = append(fs, w.pcr(fmt.Sprint("p-", i), resident(i, "").ID, "positive", day))
		}
		for i := 0; i < 3; i++ {
			fs = append(fs, w.pcr(fmt.Sprint("q-", i), others[i].ID, "positive", day))
		}
		if _, err := w.db.RecordFacts(as(lab), fs); err != nil {
			t.Fatal(err)
		}
		officer := func(j string) context.Context {
			return as(healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_desk", Role: healthcode.RoleCommand, Jurisdiction: j})
		}
		for _, tc := range []struct {
			jurisdiction string
			want         int64 // red codes, and changes by a fact on 2026-11-01
		}{
			{"410105001001", 12},
			{"410105001002", 3},
			{"410105001", 15},
			{"410000", 15},
			{"410102", 0},
		} {
			got, err := w.db.DeskCounts(officer(tc.jurisdiction))
			if err != nil {
				t.Fatal(err)
			}
			if c := got.ChangesByDay["2026-11-01"][store.CauseFact]; c != tc.want || got.Codes[string(healthcode.Red)] != tc.want {
				t.Errorf("%s: %+v, want %d red codes and changes by a fact on 2026-11-01", tc.jurisdiction, got, tc.want)
			}
		}
		// The public statistics still suppress the community of three.
		st, err := w.db.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c := st.Codes["410105001002"][string(healthcode.Red)]; c != nil {
			t.Errorf("the public statistics show %d red codes of a community of three", *c)
		}
		for _, a := range []healthcode.Actor{
			{},
			{Kind: healthcode.ActorResident, ID: resident(0, "").ID, Role: healthcode.RoleResident},
			{Kind: healthcode.ActorOfficial, ID: "o_w", Role: healthcode.RoleWorker, Jurisdiction: "410105001002"},
			{Kind: healthcode.ActorOfficial, ID: "o_aud", Role: healthcode.RoleAuditor, Jurisdiction: "410000"},
		} {
			if _, err := w.db.DeskCounts(as(a)); err == nil {
				t.Errorf("%+v read the desk's exact counts", a)
			}
		}
	})
}

func TestLoginLimitsAndDisabling(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{LoginFailuresPerAccount: 3, LoginFailuresPerAddress: 5}, 6)
		ctx := context.Background()
		sess, err := w.db.LoginFrom(ctx, "login-o_tracer", "correct horse battery", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			_, err := w.db.LoginFrom(ctx, "login-o_cmdc", "wrong password!", "10.0.0.2")
			mustCode(t, err, healthcode.EUNAUTH, "wrong password")
		}
		_, err = w.db.LoginFrom(ctx, "login-o_cmdc", "correct horse battery", "10.0.0.2")
		mustCode(t, err, healthcode.ETOOMANY, "fourth attempt on the account from the address")
		if _, err := w.db.LoginFrom(ctx, "login-o_cmdc", "correct horse battery", "10.0.0.3"); err != nil {
			t.Fatalf("the owner from another address: %v", err)
		}
		for i := 0; i < 2; i++ {
			_, err := w.db.LoginFrom(ctx, fmt.Sprint("nobody", i), "wrong password!", "10.0.0.2")
			mustCode(t, err, healthcode.EUNAUTH, "a wrong password for an unknown login")
		}
		_, err = w.db.LoginFrom(ctx, "login-o_cmdp1", "correct horse battery", "10.0.0.2")
		mustCode(t, err, healthcode.ETOOMANY, "sixth attempt from the address")
		w.now = w.now.Add(16 * time.Minute)
		if _, err := w.db.LoginFrom(ctx, "login-o_cmdc", "correct horse battery", "10.0.0.2"); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		// Disabling an official ends their sessions at once.
		if _, err := w.db.Authenticate(ctx, sess.Token); err != nil {
			t.Fatal(err)
		}
		_, err = w.db.DisableOfficial(as(cmdProvince1), tracer.ID, "left the post")
		mustCode(t, err, healthcode.EFORBIDDEN, "command officer disabling")
		_, err = w.db.DisableOfficial(as(operator), tracer.ID, "")
		mustCode(t, err, healthcode.EINVALID, "no reason")
		if pending, err := w.db.DisableOfficial(as(operator), tracer.ID, "left the post"); err != nil || pending {
			t.Fatalf("disable a flow tracer: pending %v, %v", pending, err)
		}
		_, err = w.db.Authenticate(ctx, sess.Token)
		mustCode(t, err, healthcode.EUNAUTH, "disabled official's session")
		_, err = w.db.Login(ctx, "login-o_tracer", "correct horse battery")
		mustCode(t, err, healthcode.EUNAUTH, "disabled official's login")
		mustVerified(t, w.db)
	})
}

func TestAppealsPerResident(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		r0 := "r_test000000"
		mustCase(t, w, r0)
		req := healthcode.AppealRequest{Resident: r0, FactKeys: []string{mustColour(t, w, r0, healthcode.Red).Facts[0].Key}, Statement: "错误"}
		for i := 0; i < 5; i++ {
			if _, err := w.db.FileAppeal(self(r0), req); err != nil {
				t.Fatalf("appeal %d: %v", i+1, err)
			}
		}
		_, err := w.db.FileAppeal(self(r0), req)
		mustCode(t, err, healthcode.ECONFLICT, "a sixth undecided appeal")
		req.FactKeys = []string{"f_nosuchfact"}
		_, err = w.db.FileAppeal(self("r_test000001"), healthcode.AppealRequest{Resident: "r_test000001", FactKeys: req.FactKeys, Statement: "x"})
		mustCode(t, err, healthcode.EINVALID, "a fact that does not exist")
	})
}

// TestAccountManagement: disabling an official is scoped to the
// operator's post, takes two operators for a command officer or an admin,
// spares the operator's own account and the last admin, and can be undone,
// each step in the log (issue 16).
func TestAccountManagement(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		ctx := context.Background()
		cityOperator := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_op_city", Role: healthcode.RoleOperator, Jurisdiction: "410100"}
		operator2 := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_operator2", Role: healthcode.RoleOperator, Jurisdiction: "410000"}
		admin := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_admin", Role: healthcode.RoleAdmin, Jurisdiction: "410000"}
		for _, a := range []healthcode.Actor{cityOperator, operator2, admin} {
			o := healthcode.Official{ID: a.ID, Name: "官员" + a.ID, Role: a.Role, Jurisdiction: a.Jurisdiction}
			if err := w.db.CreateOfficial(system, o, "login-"+a.ID, "correct horse battery"); err != nil {
				t.Fatal(err)
			}
		}

		// Scope: a city's operator cannot disable the province's officials.
		_, err := w.db.DisableOfficial(as(cityOperator), cmdProvince1.ID, "left the post")
		mustCode(t, err, healthcode.EFORBIDDEN, "outside the operator's post")
		// Nobody disables their own account, nor the last admin.
		_, err = w.db.DisableOfficial(as(operator), operator.ID, "leaving")
		mustCode(t, err, healthcode.EFORBIDDEN, "one's own account")
		_, err = w.db.DisableOfficial(as(operator), admin.ID, "compromised")
		mustCode(t, err, healthcode.ECONFLICT, "the last admin")

		// A command officer's account takes two operators.
		pending, err := w.db.DisableOfficial(as(operator), cmdProvince1.ID, "compromised account")
		if err != nil || !pending {
			t.Fatalf("first operator: pending %v, %v", pending, err)
		}
		if _, err := w.db.LoginFrom(ctx, "login-"+cmdProvince1.ID, "correct horse battery", "10.0.0.9"); err != nil {
			t.Fatalf("a requested account still logs in: %v", err)
		}
		_, err = w.db.DisableOfficial(as(operator), cmdProvince1.ID, "compromised account")
		mustCode(t, err, healthcode.ECONFLICT, "the same operator twice")
		if pending, err := w.db.DisableOfficial(as(operator2), cmdProvince1.ID, "confirmed: compromised"); err != nil || pending {
			t.Fatalf("second operator: pending %v, %v", pending, err)
		}
		_, err = w.db.LoginFrom(ctx, "login-"+cmdProvince1.ID, "correct horse battery", "10.0.0.9")
		mustCode(t, err, healthcode.EUNAUTH, "disabled command officer's login")
		_, err = w.db.DisableOfficial(as(operator2), cmdProvince1.ID, "again")
		mustCode(t, err, healthcode.ECONFLICT, "already disabled")

		// The way back: an audited re-enable.
		err = w.db.EnableOfficial(as(cityOperator), cmdProvince1.ID, "cleared")
		mustCode(t, err, healthcode.EFORBIDDEN, "re-enable outside the post")
		err = w.db.EnableOfficial(as(operator), cmdCity1.ID, "nothing to undo")
		mustCode(t, err, healthcode.ECONFLICT, "re-enable an enabled account")
		if err := w.db.EnableOfficial(as(operator), cmdProvince1.ID, "investigation cleared the account"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.LoginFrom(ctx, "login-"+cmdProvince1.ID, "correct horse battery", "10.0.0.9"); err != nil {
			t.Fatalf("a re-enabled account logs in: %v", err)
		}
		// A withdrawn request must be asked again from the start.
		if pending, err := w.db.DisableOfficial(as(operator), cmdCity1.ID, "suspicious approvals"); err != nil || !pending {
			t.Fatalf("request: pending %v, %v", pending, err)
		}
		if err := w.db.EnableOfficial(as(operator2), cmdCity1.ID, "the approvals were in order"); err != nil {
			t.Fatal(err)
		}
		if pending, err := w.db.DisableOfficial(as(operator2), cmdCity1.ID, "suspicious approvals"); err != nil || !pending {
			t.Fatalf("after a withdrawn request: pending %v, %v", pending, err)
		}

		// Each step is an entry naming who acted, and the projection holds.
		entries := w.entriesOfKind(t, "official.disable_requested", "official.disabled", "official.enabled")
		if len(entries) != 6 {
			t.Fatalf("%d account entries, want 6: %v", len(entries), entries)
		}
		mustVerified(t, w.db)
	})
}

// entriesOfKind returns "kind actor" for each log entry of the kinds.
func (w *world) entriesOfKind(t *testing.T, kinds ...string) []string {
	t.Helper()
	var out []string
	for _, e := range w.logEntries(t) {
		if slices.Contains(kinds, string(e.Kind)) {
			out = append(out, string(e.Kind)+" "+e.Actor.ID)
		}
	}
	return out
}

// logEntries reads and parses every entry of the log (their public parts).
func (w *world) logEntries(t *testing.T) []*tlog.Entry {
	t.Helper()
	ctx := context.Background()
	rep, err := verify.Log(ctx, w.db.VerifyView(), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := w.db.ReadLeaves(ctx, 0, rep.Size)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*tlog.Entry, len(leaves))
	for i, l := range leaves {
		if out[i], err = tlog.ParseEntry(l); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestOfficialLogins: every checked login attempt on an official's
// account (success, wrong password, disabled) is recorded with its
// address where auditors, and only they, can read it; residents' logins
// and attempts on unknown logins are not (issue 16).
func TestOfficialLogins(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		ctx := context.Background()
		if err := w.db.CreateResidentAccount(system, "r_test000001", "res-1", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		_, err := w.db.LoginFrom(ctx, "login-"+tracer.ID, "wrong password!", "203.0.113.7")
		mustCode(t, err, healthcode.EUNAUTH, "wrong password")
		if _, err := w.db.LoginFrom(ctx, "login-"+tracer.ID, "correct horse battery", "198.51.100.2"); err != nil {
			t.Fatal(err)
		}
		_, err = w.db.LoginFrom(ctx, "nobody", "wrong password!", "203.0.113.7")
		mustCode(t, err, healthcode.EUNAUTH, "unknown login")
		if _, err := w.db.LoginFrom(ctx, "res-1", "correct horse battery", "198.51.100.3"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DisableOfficial(as(operator), tracer.ID, "left the post"); err != nil {
			t.Fatal(err)
		}
		_, err = w.db.LoginFrom(ctx, "login-"+tracer.ID, "correct horse battery", "198.51.100.2")
		mustCode(t, err, healthcode.EUNAUTH, "disabled account")

		_, err = w.db.OfficialLogins(as(operator), "", 10)
		mustCode(t, err, healthcode.EFORBIDDEN, "an operator reading logins")
		_, err = w.db.OfficialLogins(as(auditor), "", 0)
		mustCode(t, err, healthcode.EINVALID, "limit 0")
		all, err := w.db.OfficialLogins(as(auditor), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range all {
			got = append(got, l.Official+" "+l.Address+" "+l.Outcome)
		}
		want := []string{
			"o_tracer 198.51.100.2 disabled",
			"o_tracer 198.51.100.2 ok",
			"o_tracer 203.0.113.7 wrong_password",
		}
		// The world's own logins come first in time; compare the newest.
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Fatalf("logins, newest first:\n%v\nwant to begin with\n%v", got, want)
		}
		for _, g := range got {
			if strings.Contains(g, "198.51.100.3") || strings.HasPrefix(g, "nobody") {
				t.Errorf("recorded %q: not an official's account", g)
			}
		}
		one, err := w.db.OfficialLogins(as(auditor), cmdCity1.ID, 100)
		if err != nil || len(one) != 0 {
			t.Fatalf("logins of an official who never logged in: %v, %v", one, err)
		}
	})
}
