package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/healthcode/healthcode"
	"path/filepath"
	"testing"
)

// TestJobResumesAfterRestart interrupts a re-evaluation job after its first
// chunk (as a crash or shutdown would), reopens the database and checks
// that the job finishes from where it stopped, evaluating every resident
// exactly once.
func TestJobResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, fmt.Sprintf("r_%02d", i))
	}
	db := newProvince(t, path, Options{}, ids...)
	db.jobChunk = 3
	stop, cancel := context.WithCancel(ctx)
	_, err := db.RunJobs(stop, func(p healthcode.JobProgress) { cancel() })
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
	n, err := db.RunJobs(ctx, func(p healthcode.JobProgress) { seen = append(seen, p.Done) })
	if err != nil || n != 1 {
		t.Fatalf("resumed run: %d jobs, %v", n, err)
	}
	// 3 were done before the restart; then 6, 7, and the finish at 7.
	if fmt.Sprint(seen) != "[6 7 7]" {
		t.Errorf("progress after restart %v, want [6 7 7]", seen)
	}
	rep, err := db.verifyLog(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
}
