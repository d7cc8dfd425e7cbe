package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// TestCodeChangeCitesOfficials: the code.changed entries a designation's
// approval causes cite, in their public part, the two officials behind the
// ruleset and the designation's recorder and approver, and the resident's
// explanation names them from there. A forged name is caught by log
// verify: in the projection (code_changes), and in new entries written
// after an insider rewrote the ruleset's drafter in the database (the
// replayer takes the names from the ruleset's entries).
func TestCodeChangeCitesOfficials(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustDesignationWorld(t, dsn, store.Limits{})
		key := w.pendingDesignation(t)
		if _, err := w.db.DecideFact(as(cmdProvince1), key, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		r3 := "r_test000003"
		ex := mustColour(t, w, r3, healthcode.Red)
		if ex.Cause != store.CauseRiskArea || ex.Designation != key ||
			ex.DesignationRecordedBy == nil || ex.DesignationRecordedBy.ID != cmdCounty.ID || ex.DesignationRecordedBy.Name == "" ||
			ex.DesignationApprovedBy == nil || ex.DesignationApprovedBy.ID != cmdProvince1.ID ||
			ex.RulesetDraftedBy == nil || ex.RulesetDraftedBy.ID != cmdProvince1.ID || ex.RulesetApprovedBy == nil || ex.RulesetApprovedBy.ID != cmdProvince2.ID {
			t.Errorf("explanation: cause %s, designation %q by %+v and %+v, ruleset by %+v and %+v; want the designation and all four named",
				ex.Cause, ex.Designation, ex.DesignationRecordedBy, ex.DesignationApprovedBy, ex.RulesetDraftedBy, ex.RulesetApprovedBy)
		}
		h, _, err := w.db.History(self(r3), r3, 1)
		if err != nil || len(h) == 0 || h[0].DesignationApprovedBy == nil || h[0].DesignationApprovedBy.ID != cmdProvince1.ID {
			t.Errorf("history %+v, %v: want the latest change naming the designation's approver", h, err)
		}
		// The public part of the entry names them (officials are public
		// actors), and neither the resident nor the designation's key (a
		// value one resident's changes could share).
		entry := w.latestEntry(t, tlog.KindCodeChanged)
		want := fmt.Sprintf(`"ruleset_by":["%s","%s"],"designation_by":["%s","%s"]`, cmdProvince1.ID, cmdProvince2.ID, cmdCounty.ID, cmdProvince1.ID)
		if pub := string(entry.Payload); !strings.Contains(pub, want) || strings.Contains(pub, r3) || strings.Contains(pub, key) {
			t.Errorf("public part %s: want it to contain %s and neither the resident nor %s", pub, want, key)
		}
		mustVerified(t, w.db)

		raw, rebind := rawDB(t, w.db, dsn)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := raw.Exec(rebind(q), args...); err != nil {
				t.Fatal(err)
			}
		}
		exec("UPDATE code_changes SET designation_by = ? WHERE log_index = ?", `["o_tracer","o_cmdp1"]`, ex.LogIndex)
		mustProblem(t, w.db, "designation_by")
		exec("UPDATE code_changes SET designation_by = ? WHERE log_index = ?", fmt.Sprintf(`["%s","%s"]`, cmdCounty.ID, cmdProvince1.ID), ex.LogIndex)
		mustVerified(t, w.db)

		// An insider rewrites the ruleset's drafter; the next change cites
		// the scapegoat, and the replay does not.
		exec("UPDATE rulesets SET drafted_by = ? WHERE id = 'henan-health-code' AND version = 1", tracer.ID)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-9", "r_test000005", "positive", w.now.Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
		mustProblem(t, w.db, "as the officials of its ruleset")
	})
}

// latestEntry is the log's latest entry of kind, parsed (its public part).
func (w *world) latestEntry(t *testing.T, kind tlog.Kind) *tlog.Entry {
	t.Helper()
	entries := w.logEntries(t)
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Kind == kind {
			return entries[i]
		}
	}
	t.Fatalf("no %s entry", kind)
	return nil
}

// mustProblem verifies the log and wants a problem whose text contains what.
func mustProblem(t *testing.T, db *store.DB, what string) {
	t.Helper()
	for _, p := range mustVerify(t, db).Problems {
		if strings.Contains(p.What, what) {
			return
		}
	}
	t.Errorf("verify: no problem naming %q: %+v", what, mustVerify(t, db).Problems)
}

// pendingDesignation records a high designation of the street 410105001 by
// cmdCounty, for three days, and returns its key: it raises, so it waits.
func (w *world) pendingDesignation(t *testing.T) string {
	t.Helper()
	res, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{w.designation("ra-high", "410105001", "high", 72*time.Hour)})
	if err != nil || res.Facts[0].Status != "pending" {
		t.Fatalf("high designation: %+v, %v; want pending", res, err)
	}
	return res.Facts[0].Key
}
