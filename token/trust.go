package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
)

// A TrustList is an issuer's signed list of token-signing keys. An issuer
// is one platform deployment, e.g. a province. Version only grows: a
// verifier or Cache that has seen version n refuses any list below n.
type TrustList struct {
	Issuer   string // e.g. "cn-41" (Henan); letters, digits, '.', '_', '-'
	Version  uint64
	IssuedAt time.Time
	Keys     []Key
}

// Trust list wire format (docs/token.md): a signed envelope, so that the
// signature covers exact bytes and no JSON canonicalisation is needed:
//
//	{"payload":"<base64 of the payload JSON>","key_id":"<trust key id>","signature":"<base64 Ed25519>"}
//
// The signature is over trustContext || payload bytes. The payload is the
// JSON of trustListJSON.
const trustContext = "healthcode trust list v1\x00"

type envelope struct {
	Payload   string `json:"payload"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

type trustListJSON struct {
	Issuer   string    `json:"issuer"`
	Version  uint64    `json:"version"`
	IssuedAt time.Time `json:"issued_at"`
	Keys     []keyJSON `json:"keys"`
}

type keyJSON struct {
	ID        string     `json:"id"`
	Public    []byte     `json:"public_key"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	Status    string     `json:"status"`
}

// Validate checks the list: a well-formed issuer name, a version of at
// least 1, an issue time, and valid keys with distinct ids.
func (tl *TrustList) Validate() error {
	if err := validIssuer(tl.Issuer); err != nil {
		return err
	}
	switch {
	case tl.Version == 0:
		return healthcode.FieldErrorf("version", "must be at least 1")
	case tl.IssuedAt.IsZero():
		return healthcode.FieldErrorf("issued_at", "is required")
	}
	seen := make(map[string]bool, len(tl.Keys))
	for i := range tl.Keys {
		if err := tl.Keys[i].Validate(); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		if seen[tl.Keys[i].ID] {
			return healthcode.FieldErrorf("keys", "key %s listed twice", tl.Keys[i].ID)
		}
		seen[tl.Keys[i].ID] = true
	}
	return nil
}

func validIssuer(s string) error {
	if s == "" || len(s) > 64 || s[0] == '.' || s[0] == '-' {
		return healthcode.FieldErrorf("issuer", "%q must be 1..64 letters, digits, '.', '_' or '-', not starting with '.' or '-'", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return healthcode.FieldErrorf("issuer", "%q must be 1..64 letters, digits, '.', '_' or '-'", s)
		}
	}
	return nil
}

// Key returns the key with the given id, or nil.
func (tl *TrustList) Key(id string) *Key {
	for i := range tl.Keys {
		if tl.Keys[i].ID == id {
			return &tl.Keys[i]
		}
	}
	return nil
}

// SignTrustList validates tl and returns its signed envelope, signed by
// the issuer's trust-list key (never a token-signing key).
func SignTrustList(priv ed25519.PrivateKey, tl *TrustList) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, healthcode.Errorf(healthcode.EINVALID, "sign trust list: bad private key length %d", len(priv))
	}
	if err := tl.Validate(); err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	j := trustListJSON{Issuer: tl.Issuer, Version: tl.Version, IssuedAt: tl.IssuedAt.UTC().Truncate(time.Second), Keys: []keyJSON{}}
	for _, k := range tl.Keys {
		kj := keyJSON{ID: k.ID, Public: k.Public, NotBefore: k.NotBefore.UTC().Truncate(time.Second), Status: k.Status}
		if !k.NotAfter.IsZero() {
			na := k.NotAfter.UTC().Truncate(time.Second)
			kj.NotAfter = &na
		}
		j.Keys = append(j.Keys, kj)
	}
	payload, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	sig := ed25519.Sign(priv, append([]byte(trustContext), payload...))
	env := envelope{
		Payload:   base64.StdEncoding.EncodeToString(payload),
		KeyID:     KeyID(priv.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(sig),
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	return append(out, '\n'), nil
}

// EnvelopeKeyID returns the trust-list key id an envelope claims to be
// signed by, without verifying anything; Cache uses it to pick a pin.
func EnvelopeKeyID(data []byte) (string, error) {
	var env envelope
	if err := strictJSON(data, &env); err != nil {
		return "", verr(ErrMalformed, "trust list envelope: %v", err)
	}
	return env.KeyID, nil
}

// ParseTrustList checks the envelope's signature against trustKey, the
// trust-list key pinned for this issuer, and only then decodes and
// validates the list. Errors wrap ErrMalformed or ErrBadSignature.
func ParseTrustList(data []byte, trustKey ed25519.PublicKey) (*TrustList, error) {
	var env envelope
	if err := strictJSON(data, &env); err != nil {
		return nil, verr(ErrMalformed, "trust list envelope: %v", err)
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(env.Payload)
	if err != nil {
		return nil, verr(ErrMalformed, "trust list payload: %v", err)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(env.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, verr(ErrMalformed, "trust list signature encoding")
	}
	if len(trustKey) != ed25519.PublicKeySize {
		return nil, verr(ErrBadSignature, "trust list key has bad length %d", len(trustKey))
	}
	if want := KeyID(trustKey); env.KeyID != want {
		return nil, verr(ErrBadSignature, "trust list signed by key %q, pinned key is %s", env.KeyID, want)
	}
	if !ed25519.Verify(trustKey, append([]byte(trustContext), payload...), sig) {
		return nil, verr(ErrBadSignature, "trust list signature")
	}
	var j trustListJSON
	if err := strictJSON(payload, &j); err != nil {
		return nil, verr(ErrMalformed, "trust list: %v", err)
	}
	tl := &TrustList{Issuer: j.Issuer, Version: j.Version, IssuedAt: j.IssuedAt.UTC()}
	for _, kj := range j.Keys {
		k := Key{ID: kj.ID, Public: ed25519.PublicKey(kj.Public), NotBefore: kj.NotBefore.UTC(), Status: kj.Status}
		if kj.NotAfter != nil {
			k.NotAfter = kj.NotAfter.UTC()
		}
		tl.Keys = append(tl.Keys, k)
	}
	if err := tl.Validate(); err != nil {
		return nil, verr(ErrMalformed, "trust list: %v", err)
	}
	return tl, nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// Rotate returns the next version of the list, issued at at: every active
// key is retired with its window closed at at, and next is added as the
// active key from at on. Retired and revoked keys are kept (drop retired
// keys whose tokens have all expired with Prune).
func (tl *TrustList) Rotate(next ed25519.PublicKey, at time.Time) (*TrustList, error) {
	if len(next) != ed25519.PublicKeySize {
		return nil, healthcode.FieldErrorf("public_key", "must be %d bytes", ed25519.PublicKeySize)
	}
	if tl.Key(KeyID(next)) != nil {
		return nil, healthcode.Errorf(healthcode.ECONFLICT, "key %s is already in the trust list", KeyID(next))
	}
	out := tl.next(at)
	for i := range out.Keys {
		if k := &out.Keys[i]; k.Status == KeyActive {
			k.Status = KeyRetired
			if k.NotAfter.IsZero() || k.NotAfter.After(at) {
				k.NotAfter = at
			}
		}
	}
	out.Keys = append(out.Keys, Key{ID: KeyID(next), Public: next, NotBefore: at, Status: KeyActive})
	return out, out.Validate()
}

// Revoke returns the next version of the list, issued at at, with key id
// revoked: every token it signed is refused from then on.
func (tl *TrustList) Revoke(id string, at time.Time) (*TrustList, error) {
	out := tl.next(at)
	k := out.Key(id)
	if k == nil {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "key %s is not in the trust list", id)
	}
	k.Status = KeyRevoked
	return out, out.Validate()
}

// Prune returns the next version of the list, issued at at, without the
// retired keys whose windows closed more than MaxValidity before at: no
// token they signed can still be valid.
func (tl *TrustList) Prune(at time.Time) *TrustList {
	out := tl.next(at)
	keys := out.Keys[:0]
	for _, k := range out.Keys {
		if k.Status == KeyRetired && !k.NotAfter.IsZero() && k.NotAfter.Add(MaxValidity).Before(at) {
			continue
		}
		keys = append(keys, k)
	}
	out.Keys = keys
	return out
}

func (tl *TrustList) next(at time.Time) *TrustList {
	out := *tl
	out.Version++
	out.IssuedAt = at
	out.Keys = append([]Key(nil), tl.Keys...)
	return &out
}
