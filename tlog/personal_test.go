package tlog

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"testing/iotest"
)

func TestPersonalCommitment(t *testing.T) {
	salt, err := NewSalt(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if salt != [32]byte(bytes.Repeat([]byte{7}, 32)) {
		t.Fatalf("salt = %x", salt)
	}
	personal := []byte(`{"name":"张三","phone":"13800000000"}`)
	c := PersonalCommitment(salt, personal)
	want := sha256.Sum256(append(append([]byte("healthcode/log/personal/v1\x00"), salt[:]...), personal...))
	if c != want {
		t.Errorf("commitment = %x, want %x", c, want)
	}
	if !CheckPersonal(c, salt, personal) {
		t.Error("CheckPersonal rejects the opening")
	}
	other := salt
	other[0] ^= 1
	if CheckPersonal(c, other, personal) || CheckPersonal(c, salt, append(personal, ' ')) {
		t.Error("CheckPersonal accepts a wrong opening")
	}
	// The leaf holds only the commitment: its hash depends on nothing the
	// store may erase, and its encoding does not contain the personal data.
	e := exampleEntry(t)
	e.Personal = c
	enc, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, personal) || bytes.Contains(enc, salt[:]) {
		t.Error("encoded entry contains the personal data or the salt")
	}
}

func TestNewSaltShortRead(t *testing.T) {
	if _, err := NewSalt(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("NewSalt accepted a short read")
	}
	if _, err := NewSalt(iotest.ErrReader(iotest.ErrTimeout)); err == nil {
		t.Error("NewSalt ignored a read error")
	}
}
