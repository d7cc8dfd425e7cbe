package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/healthcode/healthcode"
)

// Key statuses in a trust list.
const (
	// KeyActive keys sign new tokens and verify them.
	KeyActive = "active"
	// KeyRetired keys no longer sign; tokens they signed inside their
	// window verify until those tokens expire.
	KeyRetired = "retired"
	// KeyRevoked keys verify nothing: every token they signed is refused.
	KeyRevoked = "revoked"
)

// A Key is an issuer's token-signing key as a trust list publishes it.
// NotBefore and NotAfter bound when the key may sign: a token whose
// issued-at falls outside [NotBefore, NotAfter] is refused. A zero NotAfter
// means no end has been set yet.
type Key struct {
	ID        string
	Public    ed25519.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
	Status    string // KeyActive, KeyRetired or KeyRevoked
}

// KeyID derives a key id from a public key: the lowercase hex of the first
// 8 bytes of its SHA-256 hash.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:keyIDLen])
}

// Validate checks the key's fields: the id must derive from the public key.
func (k *Key) Validate() error {
	switch {
	case len(k.Public) != ed25519.PublicKeySize:
		return healthcode.FieldErrorf("public_key", "must be %d bytes", ed25519.PublicKeySize)
	case k.ID != KeyID(k.Public):
		return healthcode.FieldErrorf("id", "%q does not derive from the public key (want %s)", k.ID, KeyID(k.Public))
	case k.Status != KeyActive && k.Status != KeyRetired && k.Status != KeyRevoked:
		return healthcode.FieldErrorf("status", "unknown key status %q (want active, retired or revoked)", k.Status)
	case k.NotBefore.IsZero():
		return healthcode.FieldErrorf("not_before", "is required")
	case !k.NotAfter.IsZero() && !k.NotAfter.After(k.NotBefore):
		return healthcode.FieldErrorf("not_after", "must be after not_before")
	}
	return nil
}

// InWindow reports whether the key may have signed at t.
func (k *Key) InWindow(t time.Time) bool {
	return !t.Before(k.NotBefore) && (k.NotAfter.IsZero() || !t.After(k.NotAfter))
}

// Sealing private keys at rest.
//
// The key that encrypts is derived from the operator's secret with
// argon2id, not HKDF: the secret is typed or configured by a person and may
// be a passphrase of modest entropy, and argon2id makes each guess cost
// memory and time, where HKDF would make it nearly free. Sealing and
// opening happen at start-up and key rotation, so the cost is paid rarely.
//
// Layout (docs/token.md): magic "HCK1" | argon2 time (uint32 BE) | memory
// in KiB (uint32 BE) | threads (uint8) | key id (8) | salt (16) | nonce (12)
// | AES-256-GCM ciphertext of the 32-byte Ed25519 seed with its 16-byte tag.
// Everything before the ciphertext is the GCM additional data.
const (
	sealMagic   = "HCK1"
	sealTime    = 3
	sealMemory  = 64 * 1024 // KiB: 64 MiB, RFC 9106's second recommended option
	sealThreads = 4
	saltLen     = 16
	nonceLen    = 12
	headerLen   = len(sealMagic) + 4 + 4 + 1 + keyIDLen + saltLen + nonceLen
	// MinSecretLen is the shortest operator secret Seal accepts.
	MinSecretLen = 16
)

// ErrSealed is wrapped by Open's errors when the secret is wrong or the
// sealed key was altered.
var ErrSealed = errors.New("cannot open sealed key: wrong secret or damaged file")

// Seal encrypts priv for storage under a key derived from secret, with
// randomness (salt, nonce) from rand.
func Seal(secret []byte, priv ed25519.PrivateKey, rand io.Reader) ([]byte, error) {
	if len(secret) < MinSecretLen {
		return nil, healthcode.Errorf(healthcode.EINVALID, "seal key: secret is shorter than %d bytes", MinSecretLen)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, healthcode.Errorf(healthcode.EINVALID, "seal key: bad private key length %d", len(priv))
	}
	h := make([]byte, 0, headerLen+ed25519.SeedSize+16)
	h = append(h, sealMagic...)
	h = binary.BigEndian.AppendUint32(h, sealTime)
	h = binary.BigEndian.AppendUint32(h, sealMemory)
	h = append(h, sealThreads)
	kid, _ := hex.DecodeString(KeyID(priv.Public().(ed25519.PublicKey)))
	h = append(h, kid...)
	rnd := make([]byte, saltLen+nonceLen)
	if _, err := io.ReadFull(rand, rnd); err != nil {
		return nil, fmt.Errorf("seal key: read random: %w", err)
	}
	h = append(h, rnd...)
	aead, err := sealAEAD(secret, rnd[:saltLen], sealTime, sealMemory, sealThreads)
	if err != nil {
		return nil, err
	}
	return aead.Seal(h, rnd[saltLen:], priv.Seed(), h), nil
}

// SealedKeyID returns the id of the key in a sealed blob without opening
// it, so an operator can tell sealed files apart.
func SealedKeyID(sealed []byte) (string, error) {
	if len(sealed) < headerLen || string(sealed[:4]) != sealMagic {
		return "", healthcode.Errorf(healthcode.EINVALID, "sealed key: not a sealed key (want magic %q)", sealMagic)
	}
	return hex.EncodeToString(sealed[13 : 13+keyIDLen]), nil
}

// Open decrypts a key sealed by Seal. A wrong secret or any change to the
// sealed bytes gives an error wrapping ErrSealed.
func Open(secret, sealed []byte) (ed25519.PrivateKey, error) {
	kid, err := SealedKeyID(sealed)
	if err != nil {
		return nil, err
	}
	if len(sealed) != headerLen+ed25519.SeedSize+16 {
		return nil, healthcode.Errorf(healthcode.EINVALID, "sealed key: bad length %d", len(sealed))
	}
	t := binary.BigEndian.Uint32(sealed[4:])
	m := binary.BigEndian.Uint32(sealed[8:])
	p := sealed[12]
	if t == 0 || t > 16 || m < 8*1024 || m > 1024*1024 || p == 0 {
		return nil, healthcode.Errorf(healthcode.EINVALID, "sealed key: argon2 parameters out of range (t=%d m=%d p=%d)", t, m, p)
	}
	salt := sealed[13+keyIDLen : 13+keyIDLen+saltLen]
	nonce := sealed[13+keyIDLen+saltLen : headerLen]
	aead, err := sealAEAD(secret, salt, t, m, p)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, sealed[headerLen:], sealed[:headerLen])
	if err != nil {
		return nil, verr(ErrSealed, "key %s", kid)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if KeyID(priv.Public().(ed25519.PublicKey)) != kid {
		return nil, verr(ErrSealed, "key %s", kid)
	}
	return priv, nil
}

func sealAEAD(secret, salt []byte, t, m uint32, p uint8) (cipher.AEAD, error) {
	k := argon2.IDKey(secret, salt, t, m, p, 32)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return cipher.NewGCM(block)
}

// ParsePublicKey parses an Ed25519 public key written as 64 hex digits (as
// in testdata/trust-key.txt) or as standard base64 (as in trust lists),
// e.g. a trust-list key pinned in configuration.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		b, err = base64.StdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, healthcode.Errorf(healthcode.EINVALID, "public key: want %d bytes as hex or base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
