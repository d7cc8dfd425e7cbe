package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestOutlookFollowsTheLog: the outlook of a stored resident says when the
// code changes, and at that time the store's own re-evaluation changes it
// to the colour the outlook said.
func TestOutlookFollowsTheLog(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		r := "r_test000002"
		sampled := w.now.Add(-2 * time.Hour)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", r, "positive", sampled)}); err != nil {
			t.Fatal(err)
		}
		ex := mustColour(t, w, r, healthcode.Red)
		o := ex.Outlook
		want := sampled.Add(14 * 24 * time.Hour)
		if o == nil || o.ChangeAt == nil || !o.ChangeAt.Equal(want) || o.Next != healthcode.Green || o.NotBefore {
			t.Fatalf("outlook %+v, want green at %v", o, want)
		}
		if len(o.Holding) != 1 || o.Holding[0].Rule != "positive-pcr" || o.Holding[0].Until == nil || !o.Holding[0].Until.Equal(want) || o.Holding[0].Reason["zh-CN"] == "" {
			t.Errorf("holding %+v", o.Holding)
		}
		// Just before, the store still says red; at that time, green.
		w.now = want.Add(-time.Second)
		if _, err := w.db.ReevaluateDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		mustColour(t, w, r, healthcode.Red)
		w.now = want
		if _, err := w.db.ReevaluateDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ex := mustColour(t, w, r, healthcode.Green); ex.Outlook == nil || ex.Outlook.ChangeAt != nil || len(ex.Outlook.Holding) != 0 {
			t.Errorf("green outlook %+v", ex.Outlook)
		}
	})
}
