// Package witnesstest runs in-process healthcode witnesses (C2SP
// tlog-witness, tlog.WitnessServer) for tests: of one log, on loopback,
// their state in a directory the test owns. Only tests import it; it
// imports tlog.
package witnesstest

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode/tlog"
)

// New makes a witness named name of the log whose verifier key is
// logVKey, keeping its state in dir, but does not serve it: it returns
// the witness's server (to serve, or to wrap), its signer (to forge
// cosignatures with) and its tlog.Witness, whose URL is for the caller to
// set.
func New(tb testing.TB, name, logVKey, dir string) (*tlog.WitnessServer, note.Signer, tlog.Witness) {
	tb.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	signer, vkey, err := tlog.NewWitnessSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	lv, err := note.NewVerifier(logVKey)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := tlog.ParseWitness(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	ws := &tlog.WitnessServer{Signer: signer, Logs: map[string]note.Verifier{lv.Name(): lv}, Dir: dir, Logger: slog.New(slog.DiscardHandler)}
	return ws, signer, w
}

// Serve serves h on loopback until the test ends and returns w with the
// server's URL.
func Serve(tb testing.TB, w tlog.Witness, h http.Handler) tlog.Witness {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

// Start is New and Serve: a witness of the log of logVKey serving on
// loopback, with its state in dir, and its signer.
func Start(tb testing.TB, name, logVKey, dir string) (tlog.Witness, note.Signer) {
	tb.Helper()
	ws, signer, w := New(tb, name, logVKey, dir)
	return Serve(tb, w, ws), signer
}
