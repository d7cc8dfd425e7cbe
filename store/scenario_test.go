package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// storeHashes reads stored hashes for proofs.
type storeHashes struct{ db *store.DB }

func (h storeHashes) ReadHashes(indexes []int64) ([]sumtlog.Hash, error) {
	return h.db.ReadHashes(context.Background(), indexes)
}

// TestScenarioZhengzhou replays June 2022 in Zhengzhou: codes of 1,317
// depositors turned red on two officials' order, with no epidemiological
// reason, and one restored code red again an hour later. Here each step is
// refused, held or visible at once.
func TestScenarioZhengzhou(t *testing.T) {
	const depositors = 1317
	testdb.Engines(t, func(t *testing.T, dsn string) {
		start := time.Now()
		w := mustAccWorld(t, dsn, store.Limits{}, depositors+1)
		ctx := context.Background()
		patient := fmt.Sprintf("r_test%06d", depositors)
		day := w.now.Add(-24 * time.Hour)
		contacts := func(caseID string) []healthcode.Fact {
			fs := make([]healthcode.Fact, depositors)
			for i := range fs {
				fs[i] = w.contact(fmt.Sprint("order-", caseID, "-", i), fmt.Sprintf("r_test%06d", i), caseID, day, "order 2022-6")
			}
			return fs
		}

		// 1. Close contacts with no real case behind them: refused. A
		// command officer may not enter contacts at all; a flow tracer on
		// the officer's order must cite a real case.
		_, err := w.db.RecordFacts(as(cmdCity1), contacts("C-NONE")[:1])
		mustCode(t, err, healthcode.EINVALID, "a command officer entering contacts")
		_, err = w.db.RecordFacts(as(tracer), contacts("C-NONE"))
		mustCode(t, err, healthcode.EINVALID, "contacts citing no case")

		// 2. A fabricated case: held for a second official's approval.
		res, err := w.db.RecordFacts(as(cmdCity1), []healthcode.Fact{w.fact("fake-case", "case_status", patient, day, `{"status":"confirmed","case_id":"C-FAKE"}`)})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("fabricated case: %+v %v", res, err)
		}
		caseKey := res.Facts[0].Key
		if _, err := w.db.DecideFact(as(cmdCity2), caseKey, true, ""); err != nil { // the colluding second officer
			t.Fatal(err)
		}
		res, err = w.db.RecordFacts(as(tracer), contacts("C-FAKE"))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Facts {
			if o.Status != "pending" {
				t.Fatalf("contact %s is %s, want pending", o.Key, o.Status)
			}
		}
		for _, k := range []string{healthcode.AlertOfficialVolume, healthcode.AlertCaseContacts} {
			al := alertsOf(t, w.db, k)
			if len(al) != 1 {
				t.Fatalf("%s: %d alerts", k, len(al))
			}
		}
		// Above 50 an hour, the county's own command may not approve.
		_, err = w.db.DecideFact(as(cmdCounty), res.Facts[depositors-1].Key, true, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "the county approving the 1317th")

		// 3. The two colluding officers approve everything.
		var wg sync.WaitGroup
		errs := make(chan error, depositors)
		sem := make(chan struct{}, 32)
		for i, o := range res.Facts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				approver := cmdCity1
				if i%2 == 1 {
					approver = cmdCity2
				}
				if _, err := w.db.DecideFact(as(approver), o.Key, true, ""); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		// 4. Every depositor sees who did it, under which rule, with a
		// proof against the signed checkpoint; auditors have the alerts.
		signed, err := w.db.LogCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(w.db.LogVerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		cp, err := tlog.OpenCheckpoint(signed, v, w.db.LogOrigin())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < depositors; i++ {
			id := fmt.Sprintf("r_test%06d", i)
			ex, err := w.db.Explain(self(id), id)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Colour == healthcode.Green || ex.Rule == "" || ex.LegalBasis == nil || len(ex.Facts) != 1 {
				t.Fatalf("%s: %s, rule %q, %d facts", id, ex.Colour, ex.Rule, len(ex.Facts))
			}
			f := ex.Facts[0]
			if f.RecordedBy.ID != tracer.ID || f.RecordedBy.Post != tracer.Jurisdiction || f.ApprovedBy == nil ||
				(f.ApprovedBy.ID != cmdCity1.ID && f.ApprovedBy.ID != cmdCity2.ID) {
				t.Fatalf("%s: recorded by %+v, approved by %+v", id, f.RecordedBy, f.ApprovedBy)
			}
			if i%100 != 0 && i != depositors-1 {
				continue // a proof for every hundredth keeps the test fast
			}
			for _, idx := range []int64{f.LogIndex, ex.LogIndex} {
				leaves, err := w.db.ReadLeaves(ctx, idx, idx+1)
				if err != nil {
					t.Fatal(err)
				}
				p, err := tlog.NewInclusionProof(storeHashes{w.db}, cp.Size, idx, cp.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Verify(cp.Root, sumtlog.RecordHash(leaves[0])); err != nil {
					t.Fatalf("%s: entry %d does not verify: %v", id, idx, err)
				}
				e, _, err := w.db.OpenedEntry(ctx, idx)
				if err != nil || e.Subject != id {
					t.Fatalf("%s: entry %d: %+v %v", id, idx, e, err)
				}
				if idx == f.LogIndex && (e.Kind != tlog.KindFactRecorded || e.Actor.ID != tracer.ID) {
					t.Fatalf("%s: fact entry %+v", id, e)
				}
			}
		}

		st, err := w.db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := st.HandEntered["2026-11-01"]; n == nil || *n != depositors+1 {
			t.Errorf("public statistics: %v code changes on hand-entered facts, want %d", n, depositors+1)
		}

		// 5. One depositor appeals; the county command grants it; the
		// same office re-raises an hour later: held for the city.
		victim := "r_test000007"
		ex, _ := w.db.Explain(self(victim), victim)
		a, err := w.db.FileAppeal(self(victim), healthcode.AppealRequest{Resident: victim, FactKeys: []string{ex.Facts[0].Key}, Statement: "我是储户，不是密接"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideAppeal(as(cmdCounty), a.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, victim, healthcode.Green)
		w.now = w.now.Add(time.Hour)
		res, err = w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("again", victim, "C-FAKE", day.Add(time.Hour), "order 2022-6-b")})
		if err != nil || res.Facts[0].Status != "pending" {
			t.Fatalf("re-raise: %+v %v", res, err)
		}
		_, err = w.db.DecideFact(as(cmdCounty), res.Facts[0].Key, true, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "the same office approving the re-raise")
		_, pending, err := w.db.ResidentAppeals(self(victim), victim)
		if err != nil || len(pending) != 1 || pending[0].ApprovalScope != "410100" {
			t.Fatalf("the resident's view: %+v %v", pending, err)
		}
		mustColour(t, w, victim, healthcode.Green)
		if n := len(alertsOf(t, w.db, healthcode.AlertReraise)); n != 1 {
			t.Errorf("%d re-raise alerts", n)
		}
		t.Logf("scenario on %s: %v", w.db.Engine(), time.Since(start))
	})
}
