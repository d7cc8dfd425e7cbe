package tlog

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// mustWitness starts a WitnessServer following the log of logVKey, with
// its state in dir, and returns it as a Witness a client can call.
func mustWitness(t *testing.T, name, dir, logVKey string) (Witness, *WitnessServer) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	return mustWitnessKey(t, skey, dir, logVKey)
}

func mustWitnessKey(t *testing.T, skey, dir, logVKey string) (Witness, *WitnessServer) {
	t.Helper()
	signer, vkey, err := NewWitnessSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	ws := &WitnessServer{Signer: signer, Logs: map[string]note.Verifier{lv.Name(): lv}, Dir: dir, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	w, err := ParseWitness(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w.URL = srv.URL
	return w, ws
}

func mustProof(t *testing.T, tree *memTree, n, m int64) sumtlog.TreeProof {
	t.Helper()
	if m == 0 || m >= n {
		return nil
	}
	p, err := sumtlog.ProveTree(n, m, tree)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWitnessServer(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	dir := t.TempDir()
	w, _ := mustWitness(t, "witness.test", dir, vkey)

	honest := newMemLog(t, signer, 12, 12, 4, "")
	add := func(l *memLog, old, size int64) (Cosignature, error) {
		t.Helper()
		msg := l.mustSign(t, signer, size)
		return AddCheckpoint(ctx, nil, w, old, mustProof(t, &l.tree, size, old), msg)
	}
	status := func(err error) int {
		var r *RefusedError
		if errors.As(err, &r) {
			return r.Status
		}
		return 0
	}

	if _, err := add(honest, 0, 4); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	var conflict *ConflictError
	if _, err := add(honest, 0, 10); !errors.As(err, &conflict) || conflict.Size != 4 {
		t.Fatalf("stale old size: got %v, want a conflict naming size 4", err)
	}
	c, err := add(honest, 4, 10)
	if err != nil {
		t.Fatalf("consistent checkpoint: %v", err)
	}
	if c.Witness != "witness.test" || c.Time.IsZero() {
		t.Errorf("cosignature %+v", c)
	}
	if _, err := add(honest, 10, 10); err != nil {
		t.Fatalf("the same checkpoint again (liveness): %v", err)
	}
	// The cosigned checkpoint meets a 1-of-1 policy, not a 2-of-2 one.
	msg := WithCosignatures(honest.mustSign(t, signer, 10), []Cosignature{c})
	one, _ := NewPolicy([]Witness{w}, 1)
	if _, err := one.Check(msg); err != nil {
		t.Errorf("1 of 1: %v", err)
	}
	// With MaxAge, a quorum cosigned too long ago is stale.
	one.MaxAge = time.Minute
	one.Now = func() time.Time { return c.Time.Add(30 * time.Second) }
	if _, err := one.Check(msg); err != nil {
		t.Errorf("1 of 1, 30 s old, max age 1 min: %v", err)
	}
	one.Now = func() time.Time { return c.Time.Add(2 * time.Minute) }
	if _, err := one.Check(msg); !errors.Is(err, ErrStale) {
		t.Errorf("1 of 1, 2 min old, max age 1 min: %v", err)
	}
	one.MaxAge = 0
	other, _ := mustWitness(t, "other.test", t.TempDir(), vkey)
	two, _ := NewPolicy([]Witness{w, other}, 2)
	if _, err := two.Check(msg); !errors.Is(err, ErrNoQuorum) || !strings.Contains(err.Error(), "none from other.test") {
		t.Errorf("2 of 2 with one cosignature: %v", err)
	}

	// A fork from size 6, signed by the log's real key: refused, kept.
	fork := newMemLog(t, signer, 12, 6, 12, "fork")
	if _, err := add(fork, 10, 12); status(err) != http.StatusUnprocessableEntity {
		t.Fatalf("fork: got %v, want 422", err)
	}
	if ev, _ := os.ReadDir(filepath.Join(dir, "evidence")); len(ev) != 1 {
		t.Errorf("evidence files: %d, want 1", len(ev))
	}
	// Rollback: a smaller checkpoint.
	if _, err := add(honest, 10, 4); status(err) != http.StatusBadRequest {
		t.Errorf("rollback with old 10: got %v, want 400", err)
	}
	if _, err := add(honest, 4, 4); !errors.As(err, &conflict) || conflict.Size != 10 {
		t.Errorf("rollback with old 4: got %v, want a conflict naming 10", err)
	}
	// Another key for the same origin; another origin.
	impostorKey, _, _ := note.GenerateKey(rand.Reader, DefaultOrigin)
	impostor, _ := note.NewSigner(impostorKey)
	bad, _ := SignCheckpoint(impostor, "", 12, honest.tree.mustRoot(t, 12))
	if _, err := AddCheckpoint(ctx, nil, w, 10, mustProof(t, &honest.tree, 12, 10), bad); status(err) != http.StatusForbidden {
		t.Errorf("impostor key: got %v, want 403", err)
	}
	elseKey, _, _ := note.GenerateKey(rand.Reader, "elsewhere.example/log")
	elsewhere, _ := note.NewSigner(elseKey)
	unknown, _ := SignCheckpoint(elsewhere, "elsewhere.example/log", 4, honest.tree.mustRoot(t, 4))
	if _, err := AddCheckpoint(ctx, nil, w, 0, nil, unknown); status(err) != http.StatusNotFound {
		t.Errorf("unknown log: got %v, want 404", err)
	}

	// The state survives a restart: a new server on the same directory
	// knows size 10.
	w2, _ := mustWitness(t, "witness.test", dir, vkey)
	if _, err := AddCheckpoint(ctx, nil, w2, 0, nil, honest.mustSign(t, signer, 12)); !errors.As(err, &conflict) || conflict.Size != 10 {
		t.Errorf("after restart: got %v, want a conflict naming 10", err)
	}
}

func TestParsePolicy(t *testing.T) {
	_, vkey := mustWitnessVKey(t, "w1.test")
	_, vkey2 := mustWitnessVKey(t, "w2.test")
	p, err := ParsePolicy([]byte("# two provinces\nwitness w1.test " + vkey + " https://w1.example/\nwitness w2.test " + vkey2 + "\nquorum all\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Quorum != 2 || p.Witnesses[0].URL != "https://w1.example" || p.Witnesses[1].URL != "" || p.String() != "2 of w1.test, w2.test" {
		t.Errorf("policy %+v", p)
	}
	for _, tc := range []struct{ text, want string }{
		{"witness w1.test " + vkey + "\n", "no quorum line"},
		{"witness w1.test " + vkey + "\nquorum 2\n", "quorum 2 of 1 witnesses"},
		{"witness w1.test " + vkey + "\nwitness w1.test " + vkey + "\nquorum 1\n", "named twice"},
		{"witness other " + vkey + "\nquorum 1\n", `line 1: witness "other": the key is named "w1.test"`},
		{"witness w1.test " + vkey + " ftp://x\nquorum 1\n", "line 1: witness \"w1.test\": URL \"ftp://x\" is not an http(s) URL"},
		{"witness w1.test nokey\nquorum 1\n", "line 1: witness key"},
		{"witness w1.test " + vkey + "\nquorum none\n", "line 2: quorum \"none\""},
		{"group g 1 w1.test\n", "line 1: want"},
	} {
		if _, err := ParsePolicy([]byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePolicy(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
	// A log's plain Ed25519 key is not taken for a witness's with another
	// name, and NAME= must repeat the key's name.
	if _, err := ParseWitness("w9.test=" + vkey); err == nil {
		t.Error("ParseWitness accepted a NAME= that is not the key's name")
	}
	if w, err := ParseWitness("w1.test=" + vkey); err != nil || w.Name != "w1.test" {
		t.Errorf("ParseWitness(NAME=VKEY) = %+v, %v", w, err)
	}
}

func mustWitnessVKey(t *testing.T, name string) (note.Signer, string) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, vkey, err := NewWitnessSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}
