package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// TestConcurrentAppends appends from several goroutines in this process
// and from two writer processes at once, all on one database, then checks
// that the log is one log: indices contiguous from 0, each acknowledged to
// exactly one append, the log verifies, and every stored checkpoint is
// consistent with the one before it (a linear history, no fork).
func TestConcurrentAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	testdb.Engines(t, func(t *testing.T, dsn string) {
		const (
			workers  = 6  // per process
			appends  = 60 // per goroutine
			children = 2
		)
		db := mustOpen(t, dsn) // migrates before the children open

		var procs []*helperProc
		for c := 0; c < children; c++ {
			procs = append(procs, startHelper(t, dsn, fmt.Sprint("child", c), workers, appends))
		}
		var (
			mu   sync.Mutex
			acks []ack
		)
		// Start appending here once both children are appending, so that
		// all three processes overlap.
		for c, p := range procs {
			a, ok := <-p.acks
			if !ok {
				p.cmd.Wait()
				t.Fatalf("child %d acknowledged nothing; stderr:\n%s", c, p.stderr)
			}
			acks = append(acks, a)
		}
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for a := range p.acks {
					mu.Lock()
					acks = append(acks, a)
					mu.Unlock()
				}
			}()
		}
		err := runWriter(system, db, "parent", workers, appends, func(a ack) {
			mu.Lock()
			acks = append(acks, a)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for c, p := range procs {
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("child %d: %v; stderr:\n%s", c, err, p.stderr)
			}
			select {
			case line := <-p.bad:
				t.Errorf("child %d printed %q", c, line)
			default:
			}
		}

		var want int64
		for g := 0; g < workers; g++ {
			for n := 0; n < appends; n++ {
				want += int64(helperBatch(g, n))
			}
		}
		want *= 1 + children
		if got := int64(len(acks)); got != (1+children)*workers*appends {
			t.Fatalf("%d appends acknowledged, want %d", got, (1+children)*workers*appends)
		}
		mustCheckAcks(t, db, acks) // disjoint, and each entry what its writer wrote
		var covered int64
		for _, a := range acks {
			covered += a.count
		}
		rep := mustVerifyLog(t, db)
		if rep.Size != want || covered != want {
			t.Errorf("log size %d, acknowledged entries %d; want both %d (contiguous from 0)", rep.Size, covered, want)
		}
		n := mustCheckCheckpointHistory(t, db, dsn)
		// The processes' entries interleave in the log: they did append at once.
		writer := make([]string, want)
		for _, a := range acks {
			for i := a.first; i < a.first+a.count; i++ {
				writer[i] = a.w
			}
		}
		runs, run, longest := 1, 1, 1
		for i := 1; i < len(writer); i++ {
			if writer[i] != writer[i-1] {
				runs, run = runs+1, 0
			}
			run++
			longest = max(longest, run)
		}
		// On SQLite a process waiting for the write lock polls for it
		// (busy_timeout) and the one holding it usually takes it again
		// first, so runs are long there: only PostgreSQL, which queues
		// lock waiters, is asked to interleave.
		if engine, _, _ := store.ParseDSN(dsn); engine == store.Postgres && runs <= 1+children {
			t.Errorf("the log holds each process's entries in %d runs: the processes did not append concurrently", runs)
		}
		t.Logf("%d entries in %d appends by %d processes, in %d runs of one process (longest %d entries); %d checkpoints",
			want, len(acks), 1+children, runs, longest, n)
	})
}

// mustCheckCheckpointHistory reads every stored checkpoint straight from
// the database and checks, against the stored hashes and not the server's
// word, that each opens with the log's key, names the size and root it is
// stored under, and is consistent with the one before it; the last is the
// current checkpoint. It returns how many there are.
func mustCheckCheckpointHistory(t *testing.T, db *store.DB, dsn string) int {
	t.Helper()
	ctx := context.Background()
	raw, _ := openRaw(t, dsn)
	defer raw.Close()
	rows, err := raw.QueryContext(ctx, "SELECT size, root, signed FROM log_checkpoints ORDER BY size")
	if err != nil {
		t.Fatal(err)
	}
	type stored struct {
		size   int64
		root   []byte
		signed []byte
	}
	var cps []stored
	for rows.Next() {
		var s stored
		if err := rows.Scan(&s.size, &s.root, &s.signed); err != nil {
			t.Fatal(err)
		}
		cps = append(cps, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(cps) == 0 {
		t.Fatal("no checkpoints stored")
	}

	verifier, err := note.NewVerifier(db.LogVerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	hashes := sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) { return db.ReadHashes(ctx, idx) })
	prev := tlog.Checkpoint{Origin: db.LogOrigin()} // the empty tree: every tree is consistent with it
	for _, s := range cps {
		cp, err := tlog.OpenCheckpoint(s.signed, verifier, db.LogOrigin())
		if err != nil {
			t.Fatalf("checkpoint stored at size %d: %v", s.size, err)
		}
		if cp.Size != s.size || !bytes.Equal(cp.Root[:], s.root) {
			t.Fatalf("checkpoint stored at size %d with root %x signs size %d, root %x", s.size, s.root, cp.Size, cp.Root)
		}
		root, err := sumtlog.TreeHash(cp.Size, hashes)
		if err != nil {
			t.Fatalf("tree hash at %d: %v", cp.Size, err)
		}
		if root != cp.Root {
			t.Fatalf("checkpoint at size %d signs root %x; the stored hashes give %x", cp.Size, cp.Root, root)
		}
		if prev.Size > 0 {
			proof, err := sumtlog.ProveTree(cp.Size, prev.Size, hashes)
			if err != nil {
				t.Fatalf("prove %d → %d: %v", prev.Size, cp.Size, err)
			}
			if err := sumtlog.CheckTree(proof, cp.Size, cp.Root, prev.Size, prev.Root); err != nil {
				t.Fatalf("checkpoint at size %d is not consistent with the one at %d: the history forks: %v", cp.Size, prev.Size, err)
			}
		}
		prev = cp
	}
	latest, err := db.LogCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(latest, cps[len(cps)-1].signed) {
		t.Errorf("the current checkpoint is not the last one stored:\n%s\nvs\n%s", latest, cps[len(cps)-1].signed)
	}
	return len(cps)
}
