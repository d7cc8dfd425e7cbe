package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// TestJobResumesAfterRestart interrupts a re-evaluation job after its first
// chunk (as a crash or shutdown would), reopens the database and checks
// that the job finishes from where it stopped, evaluating every resident
// exactly once.
func TestJobResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	if err := db.CreateJurisdictions(sys, []healthcode.Jurisdiction{
		{Code: "410000", Name: "中原省", Level: healthcode.Province},
		{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
	}); err != nil {
		t.Fatal(err)
	}
	var rs []healthcode.Resident
	for i := 0; i < 7; i++ {
		h := make([]byte, 32)
		h[0] = byte(i)
		rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_%02d", i), IDHash: h, Name: "居民", Jurisdiction: "410100"})
	}
	if err := db.CreateResidents(sys, rs); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o_a", "o_b"} {
		if err := db.CreateOfficial(sys, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-"+id, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	cmd := func(id string) context.Context {
		return healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"})
	}
	if _, err := db.DraftRuleset(cmd("o_a"), "d.yaml", rules.DefaultSource()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideRuleset(cmd("o_b"), "henan-health-code", 1, true, ""); err != nil {
		t.Fatal(err)
	}
	db.jobChunk = 3
	stop, cancel := context.WithCancel(ctx)
	_, err = db.RunJobs(stop, func(p JobProgress) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	db.Close()

	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.jobChunk = 3
	var seen []int64
	n, err := db.RunJobs(ctx, func(p JobProgress) { seen = append(seen, p.Done) })
	if err != nil || n != 1 {
		t.Fatalf("resumed run: %d jobs, %v", n, err)
	}
	// 3 were done before the restart; then 6, 7, and the finish at 7.
	if fmt.Sprint(seen) != "[6 7 7]" {
		t.Errorf("progress after restart %v, want [6 7 7]", seen)
	}
	rep, err := db.VerifyLog(ctx, nil)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
}
