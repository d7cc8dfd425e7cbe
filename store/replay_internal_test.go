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
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	if err := db.CreateJurisdictions(sys, []healthcode.Jurisdiction{
		{Code: "410000", Name: "中原省", Level: healthcode.Province},
		{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateResidents(sys, []healthcode.Resident{{ID: "r_victim", IDHash: make([]byte, 32), Name: "储户", Jurisdiction: "410100"}}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"o_a", "o_b"} {
		if err := db.CreateOfficial(sys, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-"+id, "correct horse battery"); err != nil {
			t.Fatal(i, err)
		}
	}
	a := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_a", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	b := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_b", Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	if _, err := db.DraftRuleset(a, "default.yaml", rules.DefaultSource()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideRuleset(b, "henan-health-code", 1, true, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := db.VerifyLog(ctx, nil)
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
	rep, err = db.VerifyLog(ctx, nil)
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
