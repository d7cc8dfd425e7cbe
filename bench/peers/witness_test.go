package peers

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// litewitness runs filippo.io/torchwood's litewitness (v0.6.1, the Go tool
// of this module), built into a temporary directory, with its key in an
// in-process ssh-agent, following the logs of the given verifier keys.
func litewitness(t *testing.T, logVKeys ...string) tlog.Witness {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir, "filippo.io/torchwood/cmd/litewitness", "filippo.io/torchwood/cmd/witnessctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build litewitness: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "litewitness.db")
	for _, k := range logVKeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"add-log", "-db", db, "-origin", v.Name()}, {"add-key", "-db", db, "-origin", v.Name(), "-key", k}} {
			if out, err := exec.Command(filepath.Join(dir, "witnessctl"), args...).CombinedOutput(); err != nil {
				t.Fatalf("witnessctl %v: %v\n%s", args, err, out)
			}
		}
	}

	// The witness key, in an ssh-agent served from this process.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()

	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := port.Addr().String()
	port.Close()
	const name = "litewitness.interop.test"
	fp := sha256.Sum256(pub)
	cmd := exec.Command(filepath.Join(dir, "litewitness"), "-name", name, "-db", db, "-ssh-agent", sock, "-key", hex.EncodeToString(fp[:]), "-listen", addr)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("litewitness:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("litewitness did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err == nil {
		vkey, err = fnote.VKeyToCosignatureV1(vkey)
	}
	if err != nil {
		t.Fatal(err)
	}
	w, err := tlog.ParseWitness(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w.URL = "http://" + addr
	return w
}

// hcWitness runs a healthcode witness (tlog.WitnessServer) on loopback.
func hcWitness(t *testing.T, logVKeys ...string) tlog.Witness {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, "healthcode.interop.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, err := tlog.NewWitnessSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	ws := &tlog.WitnessServer{Signer: signer, Logs: map[string]note.Verifier{}, Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}
	for _, k := range logVKeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		ws.Logs[v.Name()] = v
	}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	w, err := tlog.ParseWitness(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w.URL = srv.URL
	return w
}

// hashTree is an in-memory Merkle tree.
type hashTree []sumtlog.Hash

func (h hashTree) ReadHashes(idx []int64) ([]sumtlog.Hash, error) {
	out := make([]sumtlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = h[x]
	}
	return out, nil
}

func mustTree(t *testing.T, leaves [][]byte) hashTree {
	t.Helper()
	var h hashTree
	for i, l := range leaves {
		hs, err := sumtlog.StoredHashes(int64(i), l, h)
		if err != nil {
			t.Fatal(err)
		}
		h = append(h, hs...)
	}
	return h
}

// TestWitnessInterop: litewitness and healthcode's witness accept and
// refuse the same add-checkpoint requests (the spec's answers: cosigned,
// 409 with the known size, 400, 403, 404, 422).
func TestWitnessInterop(t *testing.T) {
	ctx := context.Background()
	skey, vkey, _ := note.GenerateKey(rand.Reader, "interop.test/log")
	signer, _ := note.NewSigner(skey)
	impostorKey, _, _ := note.GenerateKey(rand.Reader, "interop.test/log")
	impostor, _ := note.NewSigner(impostorKey)
	otherKey, _, _ := note.GenerateKey(rand.Reader, "other.test/log")
	other, _ := note.NewSigner(otherKey)
	entries, err := Entries(12)
	if err != nil {
		t.Fatal(err)
	}
	forked := append([][]byte{}, entries[:6]...)
	forkEntries, _ := Entries(20)
	forked = append(forked, forkEntries[14:20]...)
	honest, fork := mustTree(t, entries), mustTree(t, forked)

	type req struct {
		name       string
		tree       hashTree
		signer     note.Signer
		old, size  int64
		badProof   bool
		wantStatus int // 200 cosigned, 409 conflict, others refused
	}
	reqs := []req{
		{"first checkpoint", honest, signer, 0, 4, false, 200},
		{"stale old size", honest, signer, 0, 10, false, 409},
		{"consistent", honest, signer, 4, 10, false, 200},
		{"same checkpoint again", honest, signer, 10, 10, false, 200},
		{"fork from 6", fork, signer, 10, 12, false, 422},
		{"bad proof", honest, signer, 10, 12, true, 422},
		{"rollback, old above size", honest, signer, 10, 4, false, 400},
		{"rollback, old 4", honest, signer, 4, 4, false, 409},
		{"impostor key", honest, impostor, 10, 12, false, 403},
		{"unknown origin", honest, other, 0, 4, false, 404},
		{"consistent again", honest, signer, 10, 12, false, 200},
	}
	lite, hc := litewitness(t, vkey), hcWitness(t, vkey)
	for _, r := range reqs {
		root, err := sumtlog.TreeHash(r.size, r.tree)
		if err != nil {
			t.Fatal(err)
		}
		origin := "interop.test/log"
		if r.signer == other {
			origin = "other.test/log"
		}
		msg, err := tlog.SignCheckpoint(r.signer, origin, r.size, root)
		if err != nil {
			t.Fatal(err)
		}
		var proof sumtlog.TreeProof
		if r.old > 0 && r.old < r.size {
			if proof, err = sumtlog.ProveTree(r.size, r.old, r.tree); err != nil {
				t.Fatal(err)
			}
			if r.badProof {
				proof[0][0] ^= 1
			}
		}
		got := map[string]int{}
		for _, w := range []tlog.Witness{lite, hc} {
			_, err := tlog.AddCheckpoint(ctx, nil, w, r.old, proof, msg)
			var conflict *tlog.ConflictError
			var refused *tlog.RefusedError
			switch {
			case err == nil:
				got[w.Name] = 200
			case errors.As(err, &conflict):
				got[w.Name] = 409
			case errors.As(err, &refused):
				got[w.Name] = refused.Status
			default:
				t.Fatalf("%s: %s: %v", r.name, w.Name, err)
			}
		}
		t.Logf("%-26s litewitness %d, healthcode %d", r.name, got[lite.Name], got[hc.Name])
		if got[hc.Name] != r.wantStatus {
			t.Errorf("%s: healthcode witness answered %d, want %d", r.name, got[hc.Name], r.wantStatus)
		}
		// litewitness v0.6.1 answers 403 for an unknown origin, where the
		// current spec says 404; every other answer is the same.
		want := r.wantStatus
		if r.name == "unknown origin" {
			want = http.StatusForbidden
		}
		if got[lite.Name] != want {
			t.Errorf("%s: litewitness answered %d, want %d", r.name, got[lite.Name], want)
		}
	}
}

// TestServerWithLitewitness: a healthcode server with the policy "2 of
// litewitness and a healthcode witness" obtains both cosignatures and
// serves them at /log/checkpoint.
func TestServerWithLitewitness(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hc.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lite, hc := litewitness(t, st.LogVerifierKey()), hcWitness(t, st.LogVerifierKey())
	policy, err := tlog.NewPolicy([]tlog.Witness{lite, hc}, 2)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, server.Config{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.StartWitnessing(ctx, server.WitnessConfig{Policy: policy, Poll: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	v, _ := note.NewVerifier(st.LogVerifierKey())
	client := &tlog.Client{BaseURL: hs.URL + "/log", Verifier: v, Origin: st.LogOrigin(), Policy: policy}
	for i := range 3 {
		if err := st.RaiseWitnessAlert(ctx, fmt.Sprint("interop-", i), time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
		latest, err := st.LogCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tlog.OpenCheckpoint(latest, v, st.LogOrigin())
		for deadline := time.Now().Add(20 * time.Second); ; {
			cp, msg, err := client.Checkpoint(ctx)
			if err == nil && cp.Size == want.Size {
				cs, _ := policy.Cosignatures(msg)
				t.Logf("size %d cosigned by %s and %s", cp.Size, cs[0].Witness, cs[1].Witness)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("size %d not served with both cosignatures: %v", want.Size, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
