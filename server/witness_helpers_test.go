package server_test

import (
	"os"
	"testing"

	"github.com/healthcode/healthcode/internal/witnesstest"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// witnessDir is a witness's state directory: in memory (/dev/shm) where
// there is one. A deployment's witnesses run elsewhere, on other disks;
// here their fsyncs would otherwise queue on the log's own disk and be
// counted as the cost of witnessing to the log.
func witnessDir(tb testing.TB) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "healthcode-witness-")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := os.RemoveAll(dir); err != nil {
				tb.Error(err)
			}
		})
		return dir
	}
	return tb.TempDir()
}

// mustWitnessPolicy starts two healthcode witnesses of db's log on
// loopback and returns the policy that needs both (2 of 2).
func mustWitnessPolicy(tb testing.TB, db *store.DB) *tlog.Policy {
	tb.Helper()
	var ws []tlog.Witness
	for _, name := range []string{"w1.test", "w2.test"} {
		w, _ := witnesstest.Start(tb, name, db.LogVerifierKey(), witnessDir(tb))
		ws = append(ws, w)
	}
	policy, err := tlog.NewPolicy(ws, 2)
	if err != nil {
		tb.Fatal(err)
	}
	return policy
}
