package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// taskObserver records the scheduler's failed tasks.
type taskObserver struct {
	mu     sync.Mutex
	failed []string
	all    chan struct{} // closed once every task has failed
}

func (o *taskObserver) FactsRecorded(string, string, int)     {}
func (o *taskObserver) Evaluated(int, time.Duration)          {}
func (o *taskObserver) CodeChanged(healthcode.Colour, string) {}
func (o *taskObserver) LoginFailed(bool)                      {}
func (o *taskObserver) TaskFailed(task string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed = append(o.failed, task)
	if len(o.failed) == 3 {
		close(o.all)
	}
}

// TestScheduleReportsFailures: each of the scheduler's tasks that fails
// (here: the store is closed under it) is reported to the observer, for
// healthcode_job_failures_total.
func TestScheduleReportsFailures(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		o := &taskObserver{all: make(chan struct{})}
		db.Observe(o)
		db.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { db.Schedule(ctx, time.Hour); close(done) }()
		select {
		case <-o.all:
		case <-time.After(30 * time.Second):
			t.Error("the scheduler's tasks on a closed store were not all reported within 30 s")
		}
		cancel()
		<-done
		o.mu.Lock()
		defer o.mu.Unlock()
		want := []string{store.TaskJobs, store.TaskEscalate, store.TaskReevaluateDue}
		if !slices.Equal(o.failed, want) {
			t.Errorf("failed tasks %v, want %v", o.failed, want)
		}
	})
}
