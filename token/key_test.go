package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

func TestSealOpen(t *testing.T) {
	priv := mustKey(t, "a")
	secret := []byte("correct horse battery staple")
	sealed, err := Seal(secret, priv, bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := SealedKeyID(sealed); err != nil || id != KeyID(pub(priv)) {
		t.Errorf("SealedKeyID = %q, %v", id, err)
	}
	if bytes.Contains(sealed, priv.Seed()) {
		t.Fatal("sealed key contains the seed in clear")
	}
	got, err := Open(secret, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Fatal("Open returned another key")
	}
	if _, err := Open([]byte("correct horse battery stapl!"), sealed); !errors.Is(err, ErrSealed) {
		t.Errorf("wrong secret: %v, want ErrSealed", err)
	}
	for _, i := range []int{0, 5, 14, 30, len(sealed) - 1} {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		if _, err := Open(secret, b); err == nil {
			t.Errorf("flipping byte %d accepted", i)
		}
	}
	if _, err := Open(secret, sealed[:len(sealed)-1]); healthcode.ErrorCode(err) != healthcode.EINVALID {
		t.Errorf("truncated: %v", err)
	}
	if _, err := Seal([]byte("short"), priv, bytes.NewReader(make([]byte, 64))); healthcode.ErrorCode(err) != healthcode.EINVALID {
		t.Errorf("short secret: %v", err)
	}
	if _, err := Seal(secret, priv, bytes.NewReader(nil)); err == nil {
		t.Errorf("Seal with exhausted rand succeeded")
	}
}

func TestKeyValidate(t *testing.T) {
	p := pub(mustKey(t, "a"))
	good := Key{ID: KeyID(p), Public: p, NotBefore: t0, Status: KeyActive}
	tests := []struct {
		name  string
		edit  func(*Key)
		field string
	}{
		{"ok", func(*Key) {}, ""},
		{"id not derived", func(k *Key) { k.ID = "0000000000000000" }, "id"},
		{"short public key", func(k *Key) { k.Public = k.Public[:31] }, "public_key"},
		{"bad status", func(k *Key) { k.Status = "" }, "status"},
		{"no not_before", func(k *Key) { k.NotBefore = time.Time{} }, "not_before"},
		{"not_after before not_before", func(k *Key) { k.NotAfter = t0.Add(-1) }, "not_after"},
	}
	for _, tt := range tests {
		k := good
		k.Public = ed25519.PublicKey(bytes.Clone(p))
		tt.edit(&k)
		err := k.Validate()
		var he *healthcode.Error
		if tt.field == "" && err != nil || tt.field != "" && (!errors.As(err, &he) || he.Field != tt.field) {
			t.Errorf("%s: Validate = %v, want field %q", tt.name, err, tt.field)
		}
	}
	if got := KeyID(p); len(got) != 16 {
		t.Errorf("KeyID = %q, want 16 hex characters", got)
	}
}

func TestParsePublicKey(t *testing.T) {
	p := pub(mustKey(t, "a"))
	for _, s := range []string{hex.EncodeToString(p), base64.StdEncoding.EncodeToString(p), " " + hex.EncodeToString(p) + "\n"} {
		got, err := ParsePublicKey(s)
		if err != nil || !got.Equal(p) {
			t.Errorf("ParsePublicKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abcd", hex.EncodeToString(p)[:62], "not a key"} {
		if _, err := ParsePublicKey(s); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("ParsePublicKey(%q) = %v, want EINVALID", s, err)
		}
	}
}
