package token

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
)

// Errors a verification can end with. Every error Verify returns wraps
// exactly one of them; test with errors.Is.
var (
	ErrMalformed       = errors.New("malformed token")
	ErrBadSignature    = errors.New("bad signature")
	ErrUnknownKey      = errors.New("unknown key")
	ErrRevokedKey      = errors.New("revoked key")
	ErrKeyWindow       = errors.New("token issued outside its key's validity window")
	ErrExpired         = errors.New("token expired")
	ErrNotYetValid     = errors.New("token not yet valid")
	ErrTrustListTooOld = errors.New("trust list too old")
)

// tokenError carries one of the sentinel errors with details. It unwraps
// both to the sentinel, for errors.Is, and to a *healthcode.Error, so that
// healthcode.ErrorCode and ErrorMessage give callers (the HTTP layer, the
// CLI) a code and the full message instead of an internal error.
type tokenError struct {
	sentinel error
	detail   string
}

func (e *tokenError) Error() string { return e.sentinel.Error() + ": " + e.detail }

func (e *tokenError) Unwrap() []error {
	code := healthcode.EINVALID
	if e.sentinel == ErrTrustListTooOld {
		code = healthcode.ECONFLICT
	}
	return []error{e.sentinel, &healthcode.Error{Code: code, Message: e.Error()}}
}

func verr(sentinel error, format string, args ...any) error {
	return &tokenError{sentinel: sentinel, detail: fmt.Sprintf(format, args...)}
}

// DefaultSkew is the clock difference tolerated between issuer and
// checkpoint when Verifier.Skew is zero: checkpoint devices run offline for
// days and their clocks drift, but two minutes keeps a 15-minute token's
// lifetime nearly exact.
const DefaultSkew = 2 * time.Minute

// A Verifier verifies tokens offline against trust lists: ours and those of
// the provinces we recognise, each already checked against its own pinned
// trust-list key by ParseTrustList or Cache.
//
// Rules, in order: the text must parse (ErrMalformed); its key id must be in
// a list (ErrUnknownKey) that is the newest seen for its issuer
// (ErrTrustListTooOld); the signature must verify (ErrBadSignature); the
// key must not be revoked (ErrRevokedKey); the list must not be older than
// MaxListAge, if set (ErrTrustListTooOld); the token's issued-at must lie
// in the key's window (ErrKeyWindow); and now must satisfy
// issued-at - Skew <= now < expires-at + Skew (ErrNotYetValid, ErrExpired).
// A retired key still verifies the tokens it signed until they expire.
//
// Set the fields before the first Verify, then change lists only with
// Update; a Verifier is safe for concurrent use.
type Verifier struct {
	Lists []*TrustList
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is the tolerated clock difference; zero means DefaultSkew and a
	// negative value means none.
	Skew time.Duration
	// Newest maps issuers to the highest trust-list version seen for them
	// (e.g. persisted by the caller). Lists older than that, or older than
	// another list of the same issuer in Lists, are refused.
	Newest map[string]uint64
	// MaxListAge, when positive, refuses tokens whose key comes from a
	// trust list issued longer ago than this (ErrTrustListTooOld): a
	// checkpoint that has not fetched for that long may have missed a
	// revocation. Zero means no limit.
	MaxListAge time.Duration

	mu  sync.RWMutex
	idx map[string][]keyRef
}

type keyRef struct {
	key   *Key
	list  *TrustList
	stale bool
}

// Update installs tl as the current list of its issuer, replacing older
// ones. It returns ErrTrustListTooOld if a newer list of that issuer has
// been seen.
func (v *Verifier) Update(tl *TrustList) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := v.newest(tl.Issuer); tl.Version < n {
		return verr(ErrTrustListTooOld, "%s version %d, newest seen is %d", tl.Issuer, tl.Version, n)
	}
	lists := v.Lists[:0:0]
	for _, l := range v.Lists {
		if l.Issuer != tl.Issuer {
			lists = append(lists, l)
		}
	}
	v.Lists = append(lists, tl)
	if v.Newest == nil {
		v.Newest = make(map[string]uint64)
	}
	v.Newest[tl.Issuer] = tl.Version
	v.idx = nil
	return nil
}

// newest returns the highest version of issuer known; v.mu must be held.
func (v *Verifier) newest(issuer string) uint64 {
	n := v.Newest[issuer]
	for _, l := range v.Lists {
		if l.Issuer == issuer && l.Version > n {
			n = l.Version
		}
	}
	return n
}

func (v *Verifier) index() map[string][]keyRef {
	v.mu.RLock()
	idx := v.idx
	v.mu.RUnlock()
	if idx != nil {
		return idx
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.idx != nil {
		return v.idx
	}
	idx = make(map[string][]keyRef)
	for _, l := range v.Lists {
		stale := l.Version < v.newest(l.Issuer)
		for i := range l.Keys {
			k := &l.Keys[i]
			idx[k.ID] = append(idx[k.ID], keyRef{key: k, list: l, stale: stale})
		}
	}
	v.idx = idx
	return idx
}

// Verify verifies a token's text form and returns its claims, or an error
// wrapping one of the sentinel errors above. No claim is returned unless
// every rule holds.
func (v *Verifier) Verify(text string) (*Claims, error) {
	t, err := Parse(text)
	if err != nil {
		return nil, err
	}
	return v.VerifyToken(t)
}

// VerifyToken is Verify for a token already parsed.
func (v *Verifier) VerifyToken(t *Token) (*Claims, error) {
	refs := v.index()[t.KeyID]
	if len(refs) == 0 {
		return nil, verr(ErrUnknownKey, "%s", t.KeyID)
	}
	var ref *keyRef
	revoked := false
	for i := range refs {
		if refs[i].stale {
			continue
		}
		if ref == nil {
			ref = &refs[i]
		}
		revoked = revoked || refs[i].key.Status == KeyRevoked
	}
	if ref == nil {
		return nil, verr(ErrTrustListTooOld, "key %s is only in %s version %d, newer lists have been seen", t.KeyID, refs[0].list.Issuer, refs[0].list.Version)
	}
	if err := t.CheckSignature(ref.key.Public); err != nil {
		return nil, err
	}
	c := &t.Claims
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now()
	if revoked {
		return nil, verr(ErrRevokedKey, "%s (issuer %s)", t.KeyID, ref.list.Issuer)
	}
	if v.MaxListAge > 0 && n.Sub(ref.list.IssuedAt) > v.MaxListAge {
		return nil, verr(ErrTrustListTooOld, "%s version %d was issued at %s, more than %v ago; fetch a new one", ref.list.Issuer, ref.list.Version, ref.list.IssuedAt.Format(time.RFC3339), v.MaxListAge)
	}
	if !ref.key.InWindow(c.IssuedAt) {
		return nil, verr(ErrKeyWindow, "issued %s, key %s signs from %s", c.IssuedAt.Format(time.RFC3339), t.KeyID, windowString(ref.key))
	}
	skew := v.Skew
	if skew == 0 {
		skew = DefaultSkew
	} else if skew < 0 {
		skew = 0
	}
	if n.Before(c.IssuedAt.Add(-skew)) {
		return nil, verr(ErrNotYetValid, "issued at %s, now %s", c.IssuedAt.Format(time.RFC3339), n.UTC().Format(time.RFC3339))
	}
	if !n.Before(c.ExpiresAt.Add(skew)) {
		return nil, verr(ErrExpired, "expired at %s, now %s", c.ExpiresAt.Format(time.RFC3339), n.UTC().Format(time.RFC3339))
	}
	out := *c
	return &out, nil
}

func windowString(k *Key) string {
	s := k.NotBefore.UTC().Format(time.RFC3339) + " to "
	if k.NotAfter.IsZero() {
		return s + "(no end)"
	}
	return s + k.NotAfter.UTC().Format(time.RFC3339)
}
