package token

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
)

// An Issuer signs tokens with the platform's active key and its clock.
type Issuer struct {
	Key   ed25519.PrivateKey
	KeyID string // KeyID(Key.Public())
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of token nonces; nil means crypto/rand.
	Rand io.Reader
	// Validity is each token's lifetime; zero means DefaultValidity.
	Validity time.Duration
}

// NewIssuer returns an Issuer for priv with the given clock. A malformed
// key makes every Issue fail rather than panic here.
func NewIssuer(priv ed25519.PrivateKey, now func() time.Time) *Issuer {
	is := &Issuer{Key: priv, Now: now}
	if len(priv) == ed25519.PrivateKeySize {
		is.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	}
	return is
}

// bindingContext separates the binding key and the binding from every
// other use of the key and of HMAC-SHA256.
const (
	bindingKeyContext = "healthcode token binding key v2\x00"
	bindingContext    = "healthcode token binding v2\x00"
)

// Bind returns a token's binding: the first BindingLen bytes of
// HMAC-SHA256, keyed with a key derived from the issuer's private key,
// over the subject, the log index of the code state and the token's nonce
// (hex). It commits the token to one resident's code state without
// revealing or linking either: only the issuer can compute it, so a
// scanned token is no key to anything, and the issuer (or an official
// with the resident before them) can check that a token was issued for
// that resident and that code state (Issuer.Binds).
func (is *Issuer) Bind(subject string, logIndex int64, nonce string) string {
	k := sha256.Sum256(append([]byte(bindingKeyContext), is.Key.Seed()...))
	m := hmac.New(sha256.New, k[:])
	b := append([]byte(bindingContext), byte(len(subject)))
	b = append(b, subject...)
	b = binary.AppendUvarint(b, uint64(logIndex))
	b = append(b, nonce...)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:BindingLen])
}

// Binds reports whether c, a token's claims this issuer signed, was
// issued for subject at the code state with log index logIndex.
func (is *Issuer) Binds(c *Claims, subject string, logIndex int64) bool {
	return hmac.Equal([]byte(is.Bind(subject, logIndex, c.Nonce)), []byte(c.Binding))
}

// A Request names the code state a token is for. Subject and LogIndex
// reach the token only through its binding.
type Request struct {
	Subject  string            // pseudonymous resident id
	Name     string            // the resident's name; Issue masks it with MaskName
	Colour   healthcode.Colour // current colour
	LogIndex int64             // log index of the code state
}

// Issue signs a token for r, valid from now for the issuer's validity, and
// returns its text and claims. The name is always passed through MaskName
// (which leaves an already masked name unchanged), so a full name can
// never reach a token.
func (is *Issuer) Issue(r Request) (string, *Claims, error) {
	validity := is.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if len(is.Key) != ed25519.PrivateKeySize {
		return "", nil, healthcode.Errorf(healthcode.EINVALID, "token: bad private key length %d", len(is.Key))
	}
	src := is.Rand
	if src == nil {
		src = rand.Reader
	}
	var nonce [NonceLen]byte
	if _, err := io.ReadFull(src, nonce[:]); err != nil {
		return "", nil, fmt.Errorf("token nonce: %w", err)
	}
	iat := is.now().UTC().Truncate(time.Second)
	c := Claims{
		Nonce:     hex.EncodeToString(nonce[:]),
		Name:      MaskName(r.Name),
		Colour:    r.Colour,
		IssuedAt:  iat,
		ExpiresAt: iat.Add(validity),
	}
	if r.Subject == "" {
		return "", nil, healthcode.FieldErrorf("subject", "is required")
	}
	c.Binding = is.Bind(r.Subject, r.LogIndex, c.Nonce)
	text, err := Sign(is.Key, is.KeyID, c)
	if err != nil {
		return "", nil, err
	}
	return text, &c, nil
}

// A Presigner serves tokens signed ahead of time: a token for the same
// request (subject, name, colour, log index) and the same key is reused
// while it stays valid for at least MinFresh, so a resident's app that
// refreshes often costs one signature per MinFresh interval, not one per
// request. A change of colour or log index is a different request and
// gets a new token at once. Safe for concurrent use.
type Presigner struct {
	// MinFresh is how long a served token must still be valid; zero means
	// DefaultValidity/3 (5 minutes with the default validity).
	MinFresh time.Duration

	mu     sync.Mutex
	issuer *Issuer
	m      map[Request]presigned
}

type presigned struct {
	text   string
	claims Claims
	keyID  string
}

// NewPresigner returns a Presigner signing with is.
func NewPresigner(is *Issuer, minFresh time.Duration) *Presigner {
	return &Presigner{issuer: is, MinFresh: minFresh, m: make(map[Request]presigned)}
}

// SetIssuer switches to a new issuer (after a key rotation) and drops every
// token the old one signed.
func (p *Presigner) SetIssuer(is *Issuer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issuer = is
	p.m = make(map[Request]presigned)
}

func (p *Presigner) minFresh(is *Issuer) time.Duration {
	if p.MinFresh > 0 {
		return p.MinFresh
	}
	v := is.Validity
	if v == 0 {
		v = DefaultValidity
	}
	return v / 3
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// Token returns a token for r that is valid for at least MinFresh: a
// presigned one if there is one, else a freshly signed one, kept for the
// next call.
func (p *Presigner) Token(r Request) (string, *Claims, error) {
	p.mu.Lock()
	is := p.issuer
	e, ok := p.m[Request{r.Subject, MaskName(r.Name), r.Colour, r.LogIndex}]
	p.mu.Unlock()
	if ok && e.keyID == is.KeyID && is.now().Add(p.minFresh(is)).Before(e.claims.ExpiresAt) {
		c := e.claims
		return e.text, &c, nil
	}
	return p.sign(is, r)
}

// Presign signs a token for r ahead of time unless a fresh one is held
// (one that will stay valid for at least twice MinFresh), e.g. right after
// a code change is committed or from a background refresher.
func (p *Presigner) Presign(r Request) error {
	p.mu.Lock()
	is := p.issuer
	e, ok := p.m[Request{r.Subject, MaskName(r.Name), r.Colour, r.LogIndex}]
	p.mu.Unlock()
	if ok && e.keyID == is.KeyID && is.now().Add(2*p.minFresh(is)).Before(e.claims.ExpiresAt) {
		return nil
	}
	_, _, err := p.sign(is, r)
	return err
}

func (p *Presigner) sign(is *Issuer, r Request) (string, *Claims, error) {
	text, c, err := is.Issue(r)
	if err != nil {
		return "", nil, err
	}
	k := Request{r.Subject, c.Name, r.Colour, r.LogIndex}
	p.mu.Lock()
	if p.issuer == is {
		p.m[k] = presigned{text: text, claims: *c, keyID: is.KeyID}
	}
	p.mu.Unlock()
	return text, c, nil
}

// Sweep drops tokens that are no longer fresh enough to serve and returns
// how many remain. Call it periodically to bound memory.
func (p *Presigner) Sweep() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	limit := p.issuer.now().Add(p.minFresh(p.issuer))
	for k, e := range p.m {
		if !limit.Before(e.claims.ExpiresAt) || e.keyID != p.issuer.KeyID {
			delete(p.m, k)
		}
	}
	return len(p.m)
}
