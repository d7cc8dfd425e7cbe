package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/internal/witnesstest"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/verify"
)

var testSecret = []byte("a key secret of at least thirty-two bytes, for tests")

func mustOpenStore(t *testing.T, dsn string) *store.DB {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{KeySecret: testSecret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// mustWrites appends n entries (alerts, which any store can write).
func mustWrites(t *testing.T, st *store.DB, n int, label string) {
	t.Helper()
	for i := range n {
		if err := st.RaiseWitnessAlert(context.Background(), fmt.Sprintf("%s-%d", label, i), time.Time{}, map[string]any{"test": label}); err != nil {
			t.Fatal(err)
		}
	}
}

// A testWitness is an in-process healthcode witness on loopback that can
// be taken down (it then drops every connection).
type testWitness struct {
	tlog.Witness
	dir  string
	down atomic.Bool
}

func startWitness(t *testing.T, name, logVKey string) *testWitness {
	t.Helper()
	tw := &testWitness{dir: t.TempDir()}
	ws, _, w := witnesstest.New(t, name, logVKey, tw.dir)
	tw.Witness = witnesstest.Serve(t, w, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tw.down.Load() {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		ws.ServeHTTP(w, r)
	}))
	return tw
}

func (tw *testWitness) evidence() int {
	ev, _ := os.ReadDir(filepath.Join(tw.dir, "evidence"))
	return len(ev)
}

// serveLog serves st's log with witnessing by policy.
func serveLog(t *testing.T, st *store.DB, cfg server.WitnessConfig) (*server.Server, string) {
	t.Helper()
	srv := server.New(st, server.Config{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if err := srv.StartWitnessing(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

// served returns the checkpoint a server serves at /log/checkpoint.
func served(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cosignedAt reports whether url serves a checkpoint of size whose
// cosignatures meet p.
func cosignedAt(t *testing.T, url string, st *store.DB, p *tlog.Policy, size int64) bool {
	v, _ := note.NewVerifier(st.LogVerifierKey())
	msg := served(t, url)
	cp, err := tlog.OpenCheckpoint(msg, v, st.LogOrigin())
	if err != nil || cp.Size != size {
		return false
	}
	_, err = p.Check(msg)
	return err == nil
}

func logSize(t *testing.T, st *store.DB) int64 {
	t.Helper()
	v, _ := note.NewVerifier(st.LogVerifierKey())
	msg, err := st.LogCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.OpenCheckpoint(msg, v, st.LogOrigin())
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

// cli runs the healthcode command line.
func cli(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	code := realMain(context.Background(), &env{args: args, stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
	if code != 0 {
		return out.String(), fmt.Errorf("exit %d: %s", code, errOut.String())
	}
	return out.String(), nil
}

// TestSplitView: an insider with a copy of the database and the key
// secret grows another history from an older size and signs it with the
// log's real key. Both witnesses refuse it, so monitors and provers that
// require the 2-of-2 policy refuse the forked checkpoint although its log
// signature is valid, while the honest log keeps being cosigned.
func TestSplitView(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		st := mustOpenStore(t, dsn)
		mustWrites(t, st, 5, "early")
		vkey := st.LogVerifierKey()
		st.Close()
		copyDSN := testdb.Copy(t, dsn) // the insider's backup at size 5
		st = mustOpenStore(t, dsn)
		defer st.Close()

		w1, w2 := startWitness(t, "witness.one.test", vkey), startWitness(t, "witness.two.test", vkey)
		policy, err := tlog.NewPolicy([]tlog.Witness{w1.Witness, w2.Witness}, 2)
		if err != nil {
			t.Fatal(err)
		}
		_, honest := serveLog(t, st, server.WitnessConfig{Policy: policy})
		mustWrites(t, st, 5, "honest")
		size := logSize(t, st)
		waitFor(t, "the honest checkpoint cosigned 2 of 2", func() bool { return cosignedAt(t, honest, st, policy, size) })
		witnessArgs := []string{"--witness", w1.VKey, "--witness", "witness.two.test=" + w2.VKey, "--quorum", "2"}
		state := t.TempDir()
		if out, err := cli(append([]string{"log", "monitor", "--url", honest, "--key", vkey, "--state", state}, witnessArgs...)...); err != nil || !strings.Contains(out, "cosigned by witness.two.test") {
			t.Fatalf("monitor of the honest log: %v\n%s", err, out)
		}

		// The insider grows another history from size 5, past the honest
		// size, signed with the real key (opened with the secret).
		fork := mustOpenStore(t, copyDSN)
		defer fork.Close()
		mustWrites(t, fork, int(size-5)+3, "fork")
		if fork.LogVerifierKey() != vkey {
			t.Fatal("the copy has another key")
		}
		_, forked := serveLog(t, fork, server.WitnessConfig{Policy: policy})
		waitFor(t, "both witnesses to refuse the fork and keep it as evidence", func() bool { return w1.evidence() > 0 && w2.evidence() > 0 })

		// Its log signature is valid: a verifier without the policy takes it.
		if out, err := cli("log", "monitor", "--url", forked, "--key", vkey, "--state", t.TempDir()); err != nil || !strings.Contains(out, "first checkpoint stored") {
			t.Fatalf("the fork's checkpoint is not validly signed: %v\n%s", err, out)
		}
		// With the policy, a fresh monitor and a prover refuse it.
		_, err = cli(append([]string{"log", "monitor", "--url", forked, "--key", vkey, "--state", t.TempDir()}, witnessArgs...)...)
		if err == nil || !strings.Contains(err.Error(), "0 of the 2 cosignatures required") {
			t.Errorf("monitor with the policy on the fork: %v", err)
		}
		_, err = cli(append([]string{"log", "prove", "--url", forked, "--key", vkey, "--index", "6"}, witnessArgs...)...)
		if err == nil || !strings.Contains(err.Error(), "not cosigned by a quorum") {
			t.Errorf("prove with the policy on the fork: %v", err)
		}
		// A monitor that saw the honest log sees the fork as evidence.
		out, err := cli("log", "monitor", "--url", forked, "--key", vkey, "--state", state)
		if err == nil || !strings.Contains(out, "INCONSISTENT") {
			t.Errorf("monitor with honest history on the fork: %v\n%s", err, out)
		}

		// The honest log keeps its cosignatures and goes on being cosigned.
		mustWrites(t, st, 3, "later")
		size = logSize(t, st)
		waitFor(t, "the honest log cosigned again", func() bool { return cosignedAt(t, honest, st, policy, size) })
		out, err = cli(append([]string{"log", "monitor", "--url", honest, "--key", vkey, "--state", state}, witnessArgs...)...)
		if err != nil || !strings.Contains(out, fmt.Sprintf("→ %d", size)) || strings.Count(out, "cosigned by") != 2 {
			t.Errorf("monitor of the honest log after the fork: %v\n%s", err, out)
		}
		if out, err := cli(append([]string{"log", "prove", "--url", honest, "--key", vkey, "--index", "6"}, witnessArgs...)...); err != nil {
			t.Errorf("prove on the honest log: %v\n%s", err, out)
		}
	})
}

// TestReplicasCosign: two replicas of one log (two servers on one
// database, as the compose deployment runs them) each run the cosigner
// with the same witnesses. Their requests interleave (each witness answers
// one of them 409 with the size it holds, or has the checkpoint already),
// yet neither witness sees a fork, both replicas serve checkpoints that
// meet the policy, and the log verifies.
func TestReplicasCosign(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		a := mustOpenStore(t, dsn)
		defer a.Close()
		b := mustOpenStore(t, dsn)
		defer b.Close()
		vkey := a.LogVerifierKey()
		w1, w2 := startWitness(t, "witness.one.test", vkey), startWitness(t, "witness.two.test", vkey)
		policy, _ := tlog.NewPolicy([]tlog.Witness{w1.Witness, w2.Witness}, 2)
		_, urlA := serveLog(t, a, server.WitnessConfig{Policy: policy})
		_, urlB := serveLog(t, b, server.WitnessConfig{Policy: policy})
		for i := range 6 {
			mustWrites(t, a, 2, fmt.Sprintf("a%d", i))
			mustWrites(t, b, 2, fmt.Sprintf("b%d", i))
			time.Sleep(15 * time.Millisecond)
		}
		size := logSize(t, a)
		if bs := logSize(t, b); bs != size {
			t.Fatalf("the replicas' logs: %d and %d entries", size, bs)
		}
		waitFor(t, "both replicas to serve the final checkpoint cosigned 2 of 2", func() bool {
			return cosignedAt(t, urlA, a, policy, size) && cosignedAt(t, urlB, b, policy, size)
		})
		if n1, n2 := w1.evidence(), w2.evidence(); n1+n2 > 0 {
			t.Errorf("the witnesses kept %d and %d pieces of evidence of a fork between two replicas of one log", n1, n2)
		}
		rep, err := verify.Log(context.Background(), a.VerifyView(), verify.Options{})
		if err != nil || len(rep.Problems) > 0 {
			t.Errorf("log verify: %v %v", err, rep.Problems)
		}
	})
}

// TestWitnessDown: with one of two witnesses down, writes go on, the
// served checkpoint stays the last one cosigned by both, an alert fires
// after AlertAfter, and cosignatures resume when the witness returns.
func TestWitnessDown(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		st := mustOpenStore(t, dsn)
		defer st.Close()
		vkey := st.LogVerifierKey()
		w1, w2 := startWitness(t, "witness.one.test", vkey), startWitness(t, "witness.two.test", vkey)
		policy, _ := tlog.NewPolicy([]tlog.Witness{w1.Witness, w2.Witness}, 2)
		srv, url := serveLog(t, st, server.WitnessConfig{Policy: policy, AlertAfter: 2 * time.Second, Refresh: time.Second, MaxBackoff: 200 * time.Millisecond})
		mustWrites(t, st, 2, "before")
		before := logSize(t, st)
		waitFor(t, "cosigned 2 of 2", func() bool { return cosignedAt(t, url, st, policy, before) })

		// Idle, the same checkpoint is cosigned again with newer
		// timestamps: the liveness of an unchanged log.
		quorumTime := func() time.Time {
			cs, _ := policy.Cosignatures(served(t, url))
			return policy.QuorumTime(cs)
		}
		first := quorumTime()
		waitFor(t, "fresh cosignatures of the unchanged checkpoint", func() bool {
			return quorumTime().After(first) && cosignedAt(t, url, st, policy, before)
		})

		w2.down.Store(true)
		start := time.Now()
		mustWrites(t, st, 3, "during") // writes do not wait for witnesses
		if d := time.Since(start); d > time.Second {
			t.Errorf("3 writes took %v with a witness down", d)
		}
		sys := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
		waitFor(t, "the witness alert", func() bool {
			as, _, err := st.Alerts(sys, healthcode.AlertWitness, 1)
			return err == nil && len(as) > 0 && as[0].Subject == policy.String()
		})
		if !cosignedAt(t, url, st, policy, before) {
			t.Error("while a witness is down, the server does not serve the last checkpoint cosigned by both")
		}
		// The JSON API proves against the checkpoint the witnesses
		// cosigned, as /log/checkpoint serves it, not the newer one only
		// the server signed.
		var entry struct{ Checkpoint string }
		if code := getJSON(t, fmt.Sprintf("%s/v1/log/entries/%d", url, before-1), &entry); code != 200 || entry.Checkpoint != string(served(t, url)) {
			t.Errorf("/v1/log/entries/%d: %d, checkpoint\n%s\nnot the cosigned one served", before-1, code, entry.Checkpoint)
		}
		if _, err := policy.Check([]byte(entry.Checkpoint)); err != nil {
			t.Errorf("/v1/log/entries proves against a checkpoint without the quorum: %v", err)
		}
		if code := getJSON(t, fmt.Sprintf("%s/v1/log/entries/%d", url, before), &entry); code != 404 {
			t.Errorf("/v1/log/entries/%d, beyond the cosigned checkpoint: %d, want 404", before, code)
		}
		if age := gauge(t, srv, "healthcode_witness_cosigned_checkpoint_age_seconds"); age < 2 {
			t.Errorf("cosigned checkpoint age %.1f s at the alert, want >= 2", age)
		}

		w2.down.Store(false)
		waitFor(t, "cosignatures to resume", func() bool { return cosignedAt(t, url, st, policy, logSize(t, st)) })

		// The witness alert is an entry like any other: the log verifies.
		rep, err := verify.Log(context.Background(), st.VerifyView(), verify.Options{})
		if err != nil || len(rep.Problems) > 0 {
			t.Errorf("log verify: %v %v", err, rep.Problems)
		}
	})
}

// getJSON decodes url's JSON answer into v and returns its status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func gauge(t *testing.T, srv *server.Server, name string) float64 {
	t.Helper()
	mfs, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) > 0 {
			return mf.Metric[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
