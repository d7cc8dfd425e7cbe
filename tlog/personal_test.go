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
	// Erasing the personal data does not change the entry's leaf hash.
	e := exampleEntry(t)
	e.Personal = c
	before, err := e.LeafHash()
	if err != nil {
		t.Fatal(err)
	}
	personal, salt = nil, [32]byte{}
	after, err := e.LeafHash()
	if err != nil || after != before {
		t.Errorf("leaf hash changed after erasure: %v", err)
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
