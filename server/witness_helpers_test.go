package server_test

import (
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"golang.org/x/mod/sumdb/note"

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
	lv, err := note.NewVerifier(db.LogVerifierKey())
	if err != nil {
		tb.Fatal(err)
	}
	var ws []tlog.Witness
	for _, name := range []string{"w1.test", "w2.test"} {
		skey, _, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			tb.Fatal(err)
		}
		signer, vkey, err := tlog.NewWitnessSigner(skey)
		if err != nil {
			tb.Fatal(err)
		}
		srv := httptest.NewServer(&tlog.WitnessServer{Signer: signer, Logs: map[string]note.Verifier{lv.Name(): lv}, Dir: witnessDir(tb), Logger: slog.New(slog.DiscardHandler)})
		tb.Cleanup(srv.Close)
		w, err := tlog.ParseWitness(vkey)
		if err != nil {
			tb.Fatal(err)
		}
		w.URL = srv.URL
		ws = append(ws, w)
	}
	policy, err := tlog.NewPolicy(ws, 2)
	if err != nil {
		tb.Fatal(err)
	}
	return policy
}
