package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// countyRuleset is a ruleset scoped to a county, as could be published
// before 一省一码: it keeps only the case rule, so a positive PCR stays
// green in the county, and it is effective after the provincial one, so
// it is the one in force for the county's residents.
const countyRuleset = `id: local-410105
version: 1
scope: "410105"
legal_basis:
  number: 金水区〔2022〕1号
  title: 金水区健康码规则
effective_at: 2023-01-01T00:00:00+08:00
rules:
  - id: case
    colour: red
    reason:
      zh-CN: 确诊病例或无症状感染者
      en: Confirmed case or asymptomatic infection
    condition: |
      facts.case_statuses.exists(c, c.status in ['confirmed', 'asymptomatic'])
examples:
  - name: no facts is green
    now: 2023-07-01T12:00:00+08:00
    want: {colour: green}
  - name: a confirmed case is red
    now: 2023-07-01T12:00:00+08:00
    facts:
      - {id: s1, kind: case_status, observed_at: 2023-06-30T20:00:00+08:00, payload: {status: confirmed, case_id: HN-2023-0630-017}}
    want: {colour: red, rule: case, facts: [s1]}
`

// TestWithdrawSubProvince: a county ruleset published before 一省一码 is
// withdrawn by the start-up migration with a logged ruleset.withdrawn
// entry (by the migration's system actor), its residents are re-evaluated
// under the provincial ruleset, the log verifies (the replayer drops it
// too), and opening again withdraws nothing more.
func TestWithdrawSubProvince(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		store.SetOldScopes(w.db, true)
		r0 := "r_test000000"
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", r0, "positive", w.now.Add(-24*time.Hour))}); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r0, healthcode.Red)
		if _, err := w.db.DraftRuleset(as(cmdCounty), "county.yaml", []byte(countyRuleset)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince1), "local-410105", 1, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r0, healthcode.Green) // the county ruleset in force: the old harm
		mustVerified(t, w.db)

		reopen := func() {
			t.Helper()
			if err := w.db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return w.now }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			w.db = db
		}
		w.now = w.now.Add(time.Minute)
		reopen()
		if got, want := w.entriesOfKind(t, "ruleset.withdrawn"), []string{"ruleset.withdrawn " + store.WithdrawActor.ID}; !slices.Equal(got, want) {
			t.Fatalf("withdrawal entries %v, want %v", got, want)
		}
		info, err := w.db.Ruleset(context.Background(), "local-410105", 1)
		if err != nil || info.Status != healthcode.RulesetWithdrawn || info.Reason == "" {
			t.Fatalf("county ruleset after the migration: %+v, %v; want withdrawn with a reason", info, err)
		}
		if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		ex := mustColour(t, w, r0, healthcode.Red)
		if ex.RuleSet != "henan-health-code" || ex.Rule != "positive-pcr" {
			t.Errorf("r0 is red by %s rule %q, want the provincial ruleset's positive-pcr", ex.RuleSet, ex.Rule)
		}
		h, _, err := w.db.History(self(r0), r0, 1)
		if err != nil || len(h) == 0 || h[0].Cause != store.CauseRuleset {
			t.Errorf("r0's latest change %+v, %v: want caused by the ruleset", h, err)
		}
		mustColour(t, w, "r_test000001", healthcode.Green)
		mustVerified(t, w.db)

		w.now = w.now.Add(time.Minute)
		reopen()
		if got := w.entriesOfKind(t, "ruleset.withdrawn"); len(got) != 1 {
			t.Errorf("after a second start-up: withdrawal entries %v, want one", got)
		}
	})
}

// TestWithdrawWaitsForSigner: a store opened without its key secret (for
// reading) cannot log the withdrawal: it opens, leaves the ruleset, and
// the next start with the secret withdraws it.
func TestWithdrawWaitsForSigner(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		secret := []byte("a key secret of at least 32 bytes, for the test")
		reopen := func(secret []byte) {
			t.Helper()
			if err := w.db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return w.now }, KeySecret: secret})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			w.db = db
		}
		reopen(secret) // seals the keys
		store.SetOldScopes(w.db, true)
		if _, err := w.db.DraftRuleset(as(cmdCounty), "county.yaml", []byte(countyRuleset)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince1), "local-410105", 1, true, ""); err != nil {
			t.Fatal(err)
		}
		reopen(nil)
		if info, err := w.db.Ruleset(context.Background(), "local-410105", 1); err != nil || info.Status != healthcode.RulesetPublished {
			t.Fatalf("opened without the secret: %+v, %v; want the ruleset left published", info, err)
		}
		reopen(secret)
		if got := w.entriesOfKind(t, "ruleset.withdrawn"); len(got) != 1 {
			t.Errorf("opened with the secret: withdrawal entries %v, want one", got)
		}
	})
}
