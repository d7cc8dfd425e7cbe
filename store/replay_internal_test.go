package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// TestReplayCatchesASetColour plays a rogue writer with database access
// who turns a code red without any fact: log verification recomputes the
// code from the logged facts and rulesets and names the entry.
func TestReplayCatchesASetColour(t *testing.T) {
	ctx := context.Background()
	db := newProvince(t, filepath.Join(t.TempDir(), "x.db"), Options{}, "r_victim")
	defer db.Close()
	rep, err := db.verifyLog(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("clean: %v %v", rep.Problems, err)
	}
	var rogue int64
	err = db.write(ctx, func(tx *Tx) error {
		res := rules.Result{Colour: healthcode.Red, Rule: "case", FactIDs: []string{}}
		rs, _ := rules.Parse("x", rules.DefaultSource())
		if err := tx.writeCode("r_victim", currentCode{colour: healthcode.Green}, res, rs, CauseFact); err != nil {
			return err
		}
		rogue = tx.b.size + int64(len(tx.b.entries)) - 1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = db.verifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		if p.Index == rogue && strings.Contains(p.What, "does not follow from the logged facts and rules") {
			found = true
		}
	}
	if !found {
		t.Fatalf("rogue code change at %d not reported: %v", rogue, rep.Problems)
	}
	_ = tlog.KindCodeChanged
}
