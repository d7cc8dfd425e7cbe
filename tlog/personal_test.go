package tlog

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

func TestPersonalCommitment(t *testing.T) {
	salt := [32]byte(bytes.Repeat([]byte{7}, 32)) // the store reads salts from crypto/rand
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
