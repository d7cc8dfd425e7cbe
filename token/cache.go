package token

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/atomicfile"
)

// A Cache keeps the newest trust list of each pinned issuer in a
// directory, one file per issuer (<issuer>.json, the signed envelope as
// received). It re-verifies every list it reads, and refuses to replace a
// list with one of a lower version (ErrTrustListTooOld), so an attacker who
// replays an old list, with a key since revoked, cannot roll a checkpoint
// back.
type Cache struct {
	Dir string
	// Pins maps each recognised issuer to its trust-list public key: our
	// own and those of the provinces we recognise. A list is accepted only
	// if it is signed by its issuer's pinned key.
	Pins map[string]ed25519.PublicKey
}

// Put verifies a signed trust list against the pin of its issuer and
// stores it, unless the cache already holds a newer one (ErrTrustListTooOld)
// or a different list of the same version (a conflict). Storing the same
// list again is a no-op. The file is replaced atomically.
func (c *Cache) Put(data []byte) (*TrustList, error) {
	kid, err := EnvelopeKeyID(data)
	if err != nil {
		return nil, err
	}
	var pin ed25519.PublicKey
	for _, p := range c.Pins {
		if KeyID(p) == kid {
			pin = p
			break
		}
	}
	if pin == nil {
		return nil, verr(ErrUnknownKey, "trust list signed by key %q, which no pinned issuer uses", kid)
	}
	tl, err := ParseTrustList(data, pin)
	if err != nil {
		return nil, err
	}
	if p, ok := c.Pins[tl.Issuer]; !ok || !p.Equal(pin) {
		return nil, verr(ErrBadSignature, "trust list for issuer %q is not signed by that issuer's pinned key", tl.Issuer)
	}
	old, oldData, err := c.get(tl.Issuer)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case tl.Version < old.Version:
		return nil, verr(ErrTrustListTooOld, "%s version %d is older than the cached version %d", tl.Issuer, tl.Version, old.Version)
	case tl.Version == old.Version && samePayload(data, oldData):
		return tl, nil
	case tl.Version == old.Version:
		return nil, healthcode.Errorf(healthcode.ECONFLICT, "trust list %s version %d differs from the cached list of the same version", tl.Issuer, tl.Version)
	}
	if err := atomicfile.Write(c.path(tl.Issuer), data, 0o600); err != nil {
		return nil, fmt.Errorf("store trust list: %w", err)
	}
	return tl, nil
}

// samePayload reports whether two verified envelopes carry the same
// signed payload (their JSON layout may differ).
func samePayload(a, b []byte) bool {
	var ea, eb envelope
	return strictJSON(a, &ea) == nil && strictJSON(b, &eb) == nil && ea.Payload == eb.Payload
}

// Get returns the cached list of an issuer, re-verified against its pin.
// A missing list is a healthcode ENOTFOUND error.
func (c *Cache) Get(issuer string) (*TrustList, error) {
	tl, _, err := c.get(issuer)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no cached trust list for issuer %q", issuer)
	}
	return tl, err
}

// Load returns the cached lists of all pinned issuers that have one,
// ordered by issuer, ready for Verifier.Lists.
func (c *Cache) Load() ([]*TrustList, error) {
	var issuers []string
	for is := range c.Pins {
		issuers = append(issuers, is)
	}
	sort.Strings(issuers)
	var lists []*TrustList
	for _, is := range issuers {
		tl, _, err := c.get(is)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		lists = append(lists, tl)
	}
	return lists, nil
}

func (c *Cache) path(issuer string) string { return filepath.Join(c.Dir, issuer+".json") }

func (c *Cache) get(issuer string) (*TrustList, []byte, error) {
	if err := validIssuer(issuer); err != nil {
		return nil, nil, err
	}
	pin, ok := c.Pins[issuer]
	if !ok {
		return nil, nil, healthcode.Errorf(healthcode.ENOTFOUND, "issuer %q is not pinned", issuer)
	}
	data, err := os.ReadFile(c.path(issuer))
	if err != nil {
		return nil, nil, err
	}
	tl, err := ParseTrustList(data, pin)
	if err != nil {
		return nil, nil, fmt.Errorf("cached trust list %s: %w", issuer, err)
	}
	if tl.Issuer != issuer {
		return nil, nil, verr(ErrMalformed, "cached file for %q holds issuer %q", issuer, tl.Issuer)
	}
	return tl, data, nil
}
