package token

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// mustKey returns a deterministic key derived from name.
func mustKey(t testing.TB, name string) ed25519.PrivateKey {
	t.Helper()
	seed := sha256.Sum256([]byte("healthcode test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(priv ed25519.PrivateKey) ed25519.PublicKey { return priv.Public().(ed25519.PublicKey) }

func trustKey(priv ed25519.PrivateKey, status string, nb, na time.Time) Key {
	return Key{ID: KeyID(pub(priv)), Public: pub(priv), NotBefore: nb, NotAfter: na, Status: status}
}

func testClaims() Claims {
	return Claims{
		Nonce:     "00112233445566778899aabbccddeeff",
		Binding:   "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		Name:      MaskName("张三丰"),
		Colour:    healthcode.Green,
		IssuedAt:  t0,
		ExpiresAt: t0.Add(DefaultValidity),
	}
}

func mustSign(t testing.TB, priv ed25519.PrivateKey, c Claims) string {
	t.Helper()
	text, err := Sign(priv, KeyID(pub(priv)), c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return text
}

// fixedClock returns a clock stopped at *at.
func fixedClock(at *time.Time) func() time.Time { return func() time.Time { return *at } }
