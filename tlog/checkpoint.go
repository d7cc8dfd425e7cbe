package tlog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// DefaultOrigin is the origin line (and key name) of a log configured with
// none.
const DefaultOrigin = "healthcode.local/log"

// maxCheckpointSize bounds a signed checkpoint, signatures included. C2SP
// signed-note asks verifiers to accept at least 16 signatures, and 16
// ML-DSA-44 cosignatures (2,420 bytes each, about 3.3 KiB in base64) pass
// 16 KiB; 1 MiB leaves room for many more while still bounding what a
// server can make a verifier read (golang.org/x/mod/sumdb/note itself
// refuses notes of more than 100 signatures).
const maxCheckpointSize = 1 << 20

// A Checkpoint is the body of a verified signed checkpoint: the log's origin,
// its size and the root hash of its Merkle tree of that size.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   sumtlog.Hash
}

// Tree returns cp as an x/mod tree.
func (cp Checkpoint) Tree() sumtlog.Tree { return sumtlog.Tree{N: cp.Size, Hash: cp.Root} }

// GenerateKey returns a new Ed25519 signer key and its verifier key in the
// note format (PRIVATE+KEY+name+hash+base64 and name+hash+base64). The key
// name is origin, or DefaultOrigin if origin is "".
func GenerateKey(rand io.Reader, origin string) (signerKey, verifierKey string, err error) {
	if origin == "" {
		origin = DefaultOrigin
	}
	if err := checkOrigin(origin); err != nil {
		return "", "", err
	}
	skey, vkey, err := note.GenerateKey(rand, origin)
	if err != nil {
		return "", "", fmt.Errorf("generate log key: %w", err)
	}
	return skey, vkey, nil
}

// checkOrigin accepts what a note key name accepts: non-empty UTF-8 without
// spaces, '+' or control characters.
func checkOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, " +") {
		return fmt.Errorf("invalid origin %q: must be non-empty without spaces or '+'", origin)
	}
	for _, r := range origin {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return fmt.Errorf("invalid origin %q: control or invalid character", origin)
		}
	}
	return nil
}

// formatCheckpoint returns the C2SP tlog-checkpoint body.
func formatCheckpoint(cp Checkpoint) string {
	return fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]))
}

// String returns the checkpoint body.
func (cp Checkpoint) String() string { return formatCheckpoint(cp) }

// SignCheckpoint returns a signed note holding the C2SP tlog-checkpoint for
// a tree of the given size and root hash.
func SignCheckpoint(signer note.Signer, origin string, size int64, root sumtlog.Hash) ([]byte, error) {
	if origin == "" {
		origin = DefaultOrigin
	}
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("sign checkpoint: negative size %d", size)
	}
	msg, err := note.Sign(&note.Note{Text: formatCheckpoint(Checkpoint{origin, size, root})}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}

// ErrBadCheckpoint is wrapped by every error of OpenCheckpoint.
var ErrBadCheckpoint = errors.New("tlog: bad checkpoint")

// OpenCheckpoint verifies that msg is a note signed by verifier and returns
// the checkpoint it holds. Only after the signature checks does it parse the
// body, strictly: exactly three lines (origin, decimal size without leading
// zeros, standard base64 of the 32-byte root), no extension lines, and the
// origin must be origin (DefaultOrigin if ""). Other signatures on the note
// (witness cosignatures) are ignored.
func OpenCheckpoint(msg []byte, verifier note.Verifier, origin string) (Checkpoint, error) {
	if origin == "" {
		origin = DefaultOrigin
	}
	if verifier == nil {
		return Checkpoint{}, fmt.Errorf("%w: no verifier key", ErrBadCheckpoint)
	}
	if len(msg) > maxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes is too long", ErrBadCheckpoint, len(msg))
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("%w: origin %q, want %q", ErrBadCheckpoint, cp.Origin, origin)
	}
	return cp, nil
}

// parseCheckpoint parses a checkpoint body strictly. It does not check any
// signature: callers outside OpenCheckpoint use it only on checkpoints
// their own backend produced.
func parseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: body must be exactly three lines", ErrBadCheckpoint)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	if err := checkOrigin(origin); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	sizeText := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("%w: bad tree size %q", ErrBadCheckpoint, sizeText)
	}
	rootText := strings.TrimSuffix(lines[2], "\n")
	root, err := base64.StdEncoding.Strict().DecodeString(rootText)
	if err != nil || len(root) != sumtlog.HashSize || base64.StdEncoding.EncodeToString(root) != rootText {
		return Checkpoint{}, fmt.Errorf("%w: bad root hash %q", ErrBadCheckpoint, rootText)
	}
	cp := Checkpoint{Origin: origin, Size: size}
	copy(cp.Root[:], root)
	return cp, nil
}

// unverifiedCheckpoint parses the body of a signed checkpoint without
// checking its signatures. The HTTP handler uses it on its own backend's
// checkpoint, to know which tiles exist.
func unverifiedCheckpoint(msg []byte) (Checkpoint, error) {
	_, err := note.Open(msg, nil)
	var u *note.UnverifiedNoteError
	if !errors.As(err, &u) {
		return Checkpoint{}, fmt.Errorf("%w: malformed note", ErrBadCheckpoint)
	}
	return parseCheckpoint(u.Note.Text)
}
