package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
)

// TestCorruptStoredJSON: a stored JSON value that does not decode is an
// error of the request that reads it, naming the value, never read as
// empty. (Each case was once skipped silently: a history citing no facts,
// a re-evaluation comparing against no facts, a job without a scope
// re-evaluating every resident.)
func TestCorruptStoredJSON(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		r0 := "r_test000000"
		day := w.now.Add(-24 * time.Hour)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", r0, "positive", day)}); err != nil {
			t.Fatal(err)
		}
		raw, _ := openRaw(t, dsn)
		defer raw.Close()
		mustExec := func(q string) {
			t.Helper()
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		wantStoredJSONError := func(what string, err error) {
			t.Helper()
			if err == nil || !strings.Contains(err.Error(), "stored JSON") {
				t.Errorf("%s: got %v, want an error about the stored JSON", what, err)
			}
		}

		// The history cites the facts of each change.
		mustExec(`UPDATE code_changes SET fact_ids = '["s_lab:pcr-1"' WHERE resident = '` + r0 + `'`)
		_, _, err := w.db.History(as(healthcode.Actor{Kind: healthcode.ActorResident, ID: r0}), r0, 1)
		wantStoredJSONError("history", err)

		// Re-evaluation compares with the current code's facts; the
		// request that would re-evaluate fails whole.
		size := mustVerify(t, w.db).Size
		mustExec(`UPDATE codes SET fact_ids = 'not json' WHERE resident = '` + r0 + `'`)
		_, err = w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-2", r0, "negative", day)})
		wantStoredJSONError("recording a fact", err)
		if got := mustVerify(t, w.db).Size; got != size {
			t.Errorf("log size %d after the failed request, want %d", got, size)
		}

		// A job's parameters say which residents it re-evaluates.
		src := strings.Replace(string(rules.DefaultSource()), "version: 1", "version: 2", 1)
		if _, err := w.db.DraftRuleset(as(cmdProvince1), "v2.yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideRuleset(as(cmdProvince2), "henan-health-code", 2, true, ""); err != nil {
			t.Fatal(err)
		}
		mustExec(`UPDATE jobs SET params = '{"scope":' WHERE status = 'pending'`)
		_, err = w.db.Jobs(context.Background())
		wantStoredJSONError("listing jobs", err)
		_, err = w.db.RunJobs(context.Background(), nil)
		wantStoredJSONError("running jobs", err)
	})
}
