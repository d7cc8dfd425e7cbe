package tlog_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/tlog"
)

// C2SP signed-note: verifiers must accept notes with at least 16
// signatures. Sixteen ML-DSA-44-sized cosignatures (2,420 bytes each) make
// a checkpoint of about 55 KB, which OpenCheckpoint must accept.
func TestOpenCheckpointManyLargeSignatures(t *testing.T) {
	skey, vkey, err := tlog.GenerateKey(rand.Reader, "example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	msg, err := tlog.SignCheckpoint(signer, "example.org/log", 5, sumtlog.Hash{7})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(msg)
	for i := range 16 {
		sig := make([]byte, 4+2420)
		rand.Read(sig)
		fmt.Fprintf(&b, "— witness-%d.example %s\n", i, base64.StdEncoding.EncodeToString(sig))
	}
	if b.Len() <= 16<<10 {
		t.Fatalf("test checkpoint is only %d bytes", b.Len())
	}
	cp, err := tlog.OpenCheckpoint(b.Bytes(), verifier, "example.org/log")
	if err != nil {
		t.Fatalf("checkpoint of %d bytes with 17 signatures: %v", b.Len(), err)
	}
	if cp.Size != 5 {
		t.Fatalf("size %d, want 5", cp.Size)
	}
}
