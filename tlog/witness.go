package tlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/internal/atomicfile"
)

// A WitnessServer is a C2SP tlog-witness: it serves
//
//	POST /add-checkpoint
//
// and cosigns (C2SP tlog-cosignature, cosignature/v1) a checkpoint of one
// of the logs it follows only if it is signed by that log's key and
// consistent with the last checkpoint it cosigned for that log, which it
// keeps durably in Dir, one file per origin, replaced atomically before it
// answers. It refuses rollbacks and forks: a checkpoint it refuses with a
// valid log signature and a failing consistency proof is kept in
// Dir/evidence, since it proves that the log forked.
//
// Answers, per the spec: 200 with the cosignature line; 409 with the size
// it knows when the request's old size is another; 400 for a malformed
// request or an old size above the checkpoint's; 403 for a checkpoint not
// signed by the log's key; 404 for a log it does not follow; 422 when the
// consistency proof does not verify.
//
// One WitnessServer per Dir at a time.
type WitnessServer struct {
	Signer note.Signer              // the witness's cosignature signer (NewWitnessSigner)
	Logs   map[string]note.Verifier // the logs it follows, by origin
	Dir    string                   // its state
	Logger *slog.Logger             // nil: slog.Default()

	mu sync.Mutex // serialises add-checkpoint: check and persist are one step
}

// NewWitnessSigner returns the cosignature/v1 signer for a witness's note
// signer key (PRIVATE+KEY+name+hash+base64 of an Ed25519 seed, as
// note.GenerateKey makes), and the cosignature verifier key to publish.
func NewWitnessSigner(skey string) (note.Signer, string, error) {
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, "", fmt.Errorf("witness key: %v", err)
	}
	parts := strings.SplitN(skey, "+", 5) // PRIVATE+KEY+name+hash+base64, which may hold '+'
	seed, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(seed) != 1+ed25519.SeedSize || seed[0] != 1 {
		return nil, "", errors.New("witness key: not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(seed[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err == nil {
		vkey, err = fnote.VKeyToCosignatureV1(vkey)
	}
	if err != nil {
		return nil, "", fmt.Errorf("witness key: %v", err)
	}
	return s, vkey, nil
}

func (w *WitnessServer) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

func (w *WitnessServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/add-checkpoint" {
		http.Error(rw, "not found: the witness serves POST /add-checkpoint", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", "POST")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCheckpointSize+64<<10))
	if err != nil {
		http.Error(rw, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	sig, err := w.add(body)
	var conflict *ConflictError
	var refused *RefusedError
	switch {
	case errors.As(err, &conflict):
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", conflict.Size)
	case errors.As(err, &refused):
		w.logger().Warn("witness refused a checkpoint", "status", refused.Status, "reason", refused.Message)
		http.Error(rw, refused.Message, refused.Status)
	case err != nil:
		w.logger().Error("witness", "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sig)
	}
}

func refuse(status int, format string, args ...any) error {
	return &RefusedError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// add handles one add-checkpoint request body and returns the
// cosignature line.
func (w *WitnessServer) add(body []byte) ([]byte, error) {
	head, msg, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, refuse(http.StatusBadRequest, "malformed request: no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	sizeText, ok := strings.CutPrefix(lines[0], "old ")
	oldSize, err := strconv.ParseInt(sizeText, 10, 64)
	if !ok || err != nil || oldSize < 0 || strconv.FormatInt(oldSize, 10) != sizeText {
		return nil, refuse(http.StatusBadRequest, "malformed request: first line must be \"old SIZE\"")
	}
	proof := make(sumtlog.TreeProof, len(lines)-1)
	for i, l := range lines[1:] {
		if proof[i], err = sumtlog.ParseHash(l); err != nil {
			return nil, refuse(http.StatusBadRequest, "malformed request: proof line %d is not a base64 hash", i+1)
		}
	}
	origin, _, _ := strings.Cut(string(msg), "\n")
	v, ok := w.Logs[origin]
	if !ok {
		return nil, refuse(http.StatusNotFound, "unknown log %q", origin)
	}
	cp, err := OpenCheckpoint(msg, v, origin)
	if err != nil {
		return nil, refuse(http.StatusForbidden, "checkpoint not signed by the key of %q: %v", origin, err)
	}
	if oldSize > cp.Size {
		return nil, refuse(http.StatusBadRequest, "old size %d is above the checkpoint's size %d", oldSize, cp.Size)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	known, err := w.state(origin, v)
	if err != nil {
		return nil, err
	}
	if known.Size != oldSize {
		return nil, &ConflictError{Size: known.Size}
	}
	switch {
	case oldSize == 0 && cp.Size == 0:
		empty, _ := sumtlog.TreeHash(0, nil)
		if cp.Root != empty || len(proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "a checkpoint of size 0 must have the empty tree's root and no proof")
		}
	case oldSize == 0:
		if len(proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "a proof from size 0 must be empty")
		}
	default:
		if err := sumtlog.CheckTree(proof, cp.Size, cp.Root, known.Size, known.Root); err != nil {
			w.keepEvidence(origin, body)
			return nil, refuse(http.StatusUnprocessableEntity, "checkpoint of size %d is not consistent with size %d cosigned before: %v", cp.Size, known.Size, err)
		}
	}
	if err := atomicfile.Write(w.statePath(origin), msg, 0o600); err != nil {
		return nil, fmt.Errorf("persist witness state: %w", err)
	}
	signed, err := note.Sign(&note.Note{Text: cp.String()}, w.Signer)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	_, sig, _ := bytes.Cut(signed, []byte("\n\n"))
	return sig, nil
}

// statePath is the file of origin's last cosigned checkpoint.
func (w *WitnessServer) statePath(origin string) string {
	return filepath.Join(w.Dir, "logs", url.PathEscape(origin))
}

// state returns the last checkpoint cosigned for origin: size 0 if none.
func (w *WitnessServer) state(origin string, v note.Verifier) (Checkpoint, error) {
	msg, err := os.ReadFile(w.statePath(origin))
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{Origin: origin}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read witness state: %w", err)
	}
	cp, err := OpenCheckpoint(msg, v, origin)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("witness state of %q is damaged: %w", origin, err)
	}
	return cp, nil
}

// keepEvidence saves a refused request whose checkpoint the log signed.
func (w *WitnessServer) keepEvidence(origin string, body []byte) {
	name := filepath.Join(w.Dir, "evidence", url.PathEscape(origin)+"-"+time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := atomicfile.Write(name, body, 0o600); err != nil {
		w.logger().Error("keeping evidence of a fork", "err", err)
		return
	}
	w.logger().Warn("the log signed a checkpoint inconsistent with one it signed before; request kept as evidence", "origin", origin, "file", name)
}
