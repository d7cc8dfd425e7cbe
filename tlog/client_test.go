package tlog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// switchBackend serves whichever backend was set last, to model a log
// that changes its history between two visits.
type switchBackend struct{ p atomic.Pointer[memLog] }

func (b *switchBackend) set(l *memLog) { b.p.Store(l) }
func (b *switchBackend) Checkpoint(ctx context.Context) ([]byte, error) {
	return b.p.Load().Checkpoint(ctx)
}
func (b *switchBackend) ReadHashes(ctx context.Context, indexes []int64) ([]sumtlog.Hash, error) {
	return b.p.Load().ReadHashes(ctx, indexes)
}
func (b *switchBackend) ReadLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	return b.p.Load().ReadLeaves(ctx, start, end)
}

// newTestClient serves l and returns a client for it, verifying with v.
func newTestClient(t *testing.T, l *memLog, v note.Verifier) (*Client, *switchBackend) {
	t.Helper()
	b := &switchBackend{}
	b.set(l)
	mux := http.NewServeMux()
	mux.Handle("GET /log/", NewHandler(b))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL + "/log/", HTTP: srv.Client(), Verifier: v}, b
}

func TestClientProveInclusion(t *testing.T) {
	ctx := context.Background()
	s, v := mustKeys(t, "")
	l := newMemLog(t, s, 700, 700, 700, "")
	c, _ := newTestClient(t, l, v)
	cp, msg, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 700 || string(msg) != string(l.checkpoint) {
		t.Fatalf("checkpoint = %+v", cp)
	}
	for _, i := range []int64{0, 1, 255, 256, 511, 512, 600, 699} {
		e, err := c.ProveInclusion(ctx, i, cp)
		if err != nil {
			t.Fatalf("ProveInclusion(%d): %v", i, err)
		}
		if e.Index != i {
			t.Errorf("entry %d has index %d", i, e.Index)
		}
	}
	// An older checkpoint still proves, through partial tiles of its size.
	oldMsg := l.mustSign(t, s, 300)
	old, err := OpenCheckpoint(oldMsg, v, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProveInclusion(ctx, 299, old); err != nil {
		t.Errorf("ProveInclusion in older tree: %v", err)
	}
	if _, err := c.ProveInclusion(ctx, 300, old); err == nil {
		t.Error("ProveInclusion beyond the checkpoint succeeded")
	}
	if _, err := c.ProveInclusion(ctx, -1, old); err == nil {
		t.Error("ProveInclusion(-1) succeeded")
	}
}

func TestClientDetectsTamperedLeaf(t *testing.T) {
	ctx := context.Background()
	s, v := mustKeys(t, "")
	l := newMemLog(t, s, 10, 10, 10, "")
	c, _ := newTestClient(t, l, v)
	cp, _, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The server swaps the leaf it serves, keeping hashes and checkpoint.
	l.tree.leaves[4] = mustEntry(t, 4, "tampered")
	if _, err := c.ProveInclusion(ctx, 4, cp); err == nil {
		t.Error("tampered leaf was proven")
	}
	if _, err := c.ProveInclusion(ctx, 5, cp); err != nil {
		t.Errorf("untouched leaf: %v", err)
	}
}

func TestClientRejectsForeignCheckpoint(t *testing.T) {
	s, _ := mustKeys(t, "")
	_, v := mustKeys(t, "")
	l := newMemLog(t, s, 3, 3, 3, "")
	c, _ := newTestClient(t, l, v)
	if _, _, err := c.Checkpoint(context.Background()); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("checkpoint by another key: %v", err)
	}
}

func TestCheckConsistency(t *testing.T) {
	ctx := context.Background()
	s, v := mustKeys(t, "")
	l := newMemLog(t, s, 1000, 1000, 1000, "")
	c, _ := newTestClient(t, l, v)
	cps := map[int64]Checkpoint{}
	for _, n := range []int64{0, 1, 7, 256, 257, 999, 1000} {
		cps[n] = Checkpoint{DefaultOrigin, n, l.tree.mustRoot(t, n)}
	}
	for _, old := range cps {
		for _, new := range cps {
			err := c.CheckConsistency(ctx, old, new)
			switch {
			case old.Size > new.Size:
				if !errors.Is(err, ErrRollback) {
					t.Errorf("%d→%d: %v, want ErrRollback", old.Size, new.Size, err)
				}
			case err != nil:
				t.Errorf("%d→%d: %v", old.Size, new.Size, err)
			}
		}
	}
	bad := cps[257]
	bad.Root = flip(bad.Root, 9)
	if err := c.CheckConsistency(ctx, bad, cps[1000]); !errors.Is(err, ErrInconsistent) {
		t.Errorf("wrong old root: %v, want ErrInconsistent", err)
	}
	if err := c.CheckConsistency(ctx, bad, cps[257]); !errors.Is(err, ErrInconsistent) {
		t.Errorf("two roots for one size: %v, want ErrInconsistent", err)
	}
	empty := cps[0]
	empty.Root = flip(empty.Root, 0)
	if err := c.CheckConsistency(ctx, empty, cps[7]); !errors.Is(err, ErrInconsistent) {
		t.Errorf("wrong empty root: %v, want ErrInconsistent", err)
	}
}

func TestMonitor(t *testing.T) {
	ctx := context.Background()
	s, v := mustKeys(t, "")
	honest := newMemLog(t, s, 700, 700, 300, "")
	c, b := newTestClient(t, honest, v)
	dir := filepath.Join(t.TempDir(), "state")

	res, err := Monitor(ctx, c, dir)
	if err != nil || !res.First || res.New.Size != 300 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	if got := mustReadFile(t, filepath.Join(dir, "checkpoint")); got != string(honest.checkpoint) {
		t.Fatal("first run did not store the checkpoint it was served")
	}

	res, err = Monitor(ctx, c, dir) // unchanged
	if err != nil || res.First || res.Old.Size != 300 || res.New.Size != 300 {
		t.Fatalf("second run: %+v, %v", res, err)
	}

	honest.mustSign(t, s, 700) // grows
	res, err = Monitor(ctx, c, dir)
	if err != nil || res.Old.Size != 300 || res.New.Size != 700 {
		t.Fatalf("after growth: %+v, %v", res, err)
	}
	stored := mustReadFile(t, filepath.Join(dir, "checkpoint"))
	if stored != string(honest.checkpoint) {
		t.Fatal("stored checkpoint is not the latest")
	}

	forkTests := []struct {
		name string
		log  *memLog
		want error
	}{
		{"fork grows", newMemLog(t, s, 900, 500, 900, "evil"), ErrInconsistent},
		{"fork at the same size", newMemLog(t, s, 700, 699, 700, "evil"), ErrInconsistent},
		{"fork in a full tile", newMemLog(t, s, 1024, 3, 1024, "evil"), ErrInconsistent},
		{"rollback", newMemLog(t, s, 700, 700, 600, ""), ErrRollback},
	}
	for _, tt := range forkTests {
		t.Run(tt.name, func(t *testing.T) {
			b.set(tt.log)
			_, err := Monitor(ctx, c, dir)
			var ie *InconsistencyError
			if !errors.As(err, &ie) || !errors.Is(err, tt.want) {
				t.Fatalf("Monitor = %v, want *InconsistencyError wrapping %v", err, tt.want)
			}
			if string(ie.Old) != stored || string(ie.New) != string(tt.log.checkpoint) {
				t.Error("evidence is not the two signed checkpoints")
			}
			for _, msg := range [][]byte{ie.Old, ie.New} {
				if _, err := OpenCheckpoint(msg, v, ""); err != nil {
					t.Errorf("evidence does not verify: %v", err)
				}
			}
			if got := mustReadFile(t, filepath.Join(dir, "checkpoint")); got != stored {
				t.Error("state was overwritten by a bad checkpoint")
			}
		})
	}

	// Back to the honest log: the monitor carries on.
	b.set(honest)
	if _, err := Monitor(ctx, c, dir); err != nil {
		t.Fatalf("honest log after forks: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("state dir holds %v, want only the checkpoint (%v)", entries, err)
	}
}

func TestMonitorBadState(t *testing.T) {
	s, v := mustKeys(t, "")
	c, _ := newTestClient(t, newMemLog(t, s, 5, 5, 5, ""), v)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "checkpoint"), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Monitor(context.Background(), c, dir); err == nil || !strings.Contains(err.Error(), "stored checkpoint") {
		t.Errorf("Monitor with corrupt state: %v", err)
	}
}

func TestMonitorBadServer(t *testing.T) {
	_, v := mustKeys(t, "")
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Verifier: v}
	dir := t.TempDir()
	if _, err := Monitor(context.Background(), c, dir); !errors.Is(err, ErrNotFound) {
		t.Errorf("Monitor = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state written after a failed run: %v", err)
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
