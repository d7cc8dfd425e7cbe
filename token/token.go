// Package token owns the signed health code tokens that checkpoints verify
// offline: the binary and text formats (Sign, Parse), issuer keys and their
// sealing at rest (Key, Seal, Open), signed trust lists and their on-disk
// cache (TrustList, Cache), the offline Verifier, the Issuer with its
// pre-signing Presigner, and the QR rendering (PNG, Decode).
//
// It imports the standard library, the root healthcode package,
// golang.org/x/crypto (argon2), rsc.io/qr (QR encoding) and
// github.com/makiuchi-d/gozxing (QR decoding); golang.org/x/image only in
// the glyph generator behind the glyphgen build tag. Of healthcode's own
// packages it imports only internal/atomicfile (standard library only),
// never store or server (TestImports).
// docs/token.md specifies the formats byte by byte.
package token

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
)

// Format constants. See docs/token.md.
const (
	// Prefix starts the text form of every version 2 token.
	Prefix = "HCT2:"
	// Version is the binary format version this package writes and reads.
	// Version 1 carried the resident's pseudonymous id and the log index of
	// the code state, which made every token a key to the resident's
	// history; version 2 carries neither (docs/token.md).
	Version = 2
	// DefaultValidity is how long a token is valid when Claims.ExpiresAt is zero.
	DefaultValidity = 15 * time.Minute
	// MaxValidity bounds ExpiresAt - IssuedAt; longer tokens are malformed.
	MaxValidity = 24 * time.Hour
	// MaxNameLen bounds the masked name, in bytes, so that every token
	// fits a version 10 QR code at error correction level M.
	MaxNameLen = 32
	// NonceLen is the length of the per-token random value, BindingLen
	// that of the binding (both in bytes; hex in Claims).
	NonceLen   = 16
	BindingLen = 16

	keyIDLen = 8
	maxTime  = 1 << 40 // Unix seconds, about the year 36812
	sigLen   = ed25519.SignatureSize
	// maxTextLen bounds the Base45 text Parse decodes: the longest body
	// (version, key id, nonce, binding, name, colour, two varints,
	// signature) takes fewer characters.
	maxTextLen = (1 + keyIDLen + NonceLen + BindingLen + 1 + MaxNameLen + 1 + 2*binary.MaxVarintLen64 + sigLen) * 3 / 2
)

// sigContext is prepended to the binary body to form the signed message, so
// a token signature can never be mistaken for a signature of another kind.
const sigContext = "healthcode token v1\x00"

// Claims are what a token asserts about a resident. Times have a resolution
// of one second and are in UTC once parsed. No claim identifies the
// resident or their code state to anyone but the issuer: the nonce is
// random for every token, and the binding is a keyed commitment to the
// resident and the log index of the code state (Issuer.Bind), which only
// the issuer can compute or check.
type Claims struct {
	Nonce     string            `json:"nonce"`      // NonceLen random bytes, lowercase hex
	Binding   string            `json:"binding"`    // BindingLen bytes, lowercase hex: Issuer.Bind(subject, log index, nonce)
	Name      string            `json:"name"`       // masked display name (see MaskName), 0..MaxNameLen bytes
	Colour    healthcode.Colour `json:"colour"`     // green, yellow or red
	IssuedAt  time.Time         `json:"issued_at"`  // when the token was signed
	ExpiresAt time.Time         `json:"expires_at"` // end of validity; zero in Sign means IssuedAt + DefaultValidity
}

// A Token is a parsed, not yet verified, token. Its fields must not be
// trusted before its signature has been checked: use Verifier.Verify, or
// CheckSignature with a key obtained from a trust list.
type Token struct {
	Version   int
	KeyID     string // lowercase hex, 16 characters
	Claims    Claims
	Signature []byte

	msg []byte // sigContext || body, the signed message
}

// CheckSignature reports whether pub made the token's signature, returning
// an error wrapping ErrBadSignature if not.
func (t *Token) CheckSignature(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, t.msg, t.Signature) {
		return verr(ErrBadSignature, "key %s", t.KeyID)
	}
	return nil
}

var colourCodes = [...]healthcode.Colour{1: healthcode.Green, 2: healthcode.Yellow, 3: healthcode.Red}

func colourCode(c healthcode.Colour) byte {
	for i, cc := range colourCodes {
		if cc != "" && cc == c {
			return byte(i)
		}
	}
	return 0
}

// Validate checks claims for signing: it returns a *healthcode.Error naming
// the field at fault. A zero ExpiresAt is allowed (Sign fills it in).
func (c *Claims) Validate() error {
	switch {
	case !isHex(c.Nonce, NonceLen):
		return healthcode.FieldErrorf("nonce", "must be %d bytes in lowercase hex", NonceLen)
	case !isHex(c.Binding, BindingLen):
		return healthcode.FieldErrorf("binding", "must be %d bytes in lowercase hex", BindingLen)
	case len(c.Name) > MaxNameLen:
		return healthcode.FieldErrorf("name", "is longer than %d bytes", MaxNameLen)
	case !printable(c.Name):
		return healthcode.FieldErrorf("name", "must be printable UTF-8")
	case !c.Colour.Valid():
		return healthcode.FieldErrorf("colour", "unknown colour %q", string(c.Colour))
	case c.IssuedAt.Unix() <= 0:
		return healthcode.FieldErrorf("issued_at", "is required")
	case c.IssuedAt.Unix() > maxTime:
		return healthcode.FieldErrorf("issued_at", "is too far in the future")
	}
	if !c.ExpiresAt.IsZero() {
		d := c.ExpiresAt.Unix() - c.IssuedAt.Unix()
		if d <= 0 || d > int64(MaxValidity/time.Second) {
			return healthcode.FieldErrorf("expires_at", "must be after issued_at and at most %v later", MaxValidity)
		}
	}
	return nil
}

// isHex reports whether s is n bytes in lowercase hex.
func isHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Sign returns the text form of a token carrying c, signed by priv. keyID
// must be KeyID(priv.Public()): a mismatch is an error, so a token can never
// name a key that did not sign it. If c.ExpiresAt is zero the token is
// valid for DefaultValidity. Times are truncated to whole seconds.
func Sign(priv ed25519.PrivateKey, keyID string, c Claims) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", healthcode.Errorf(healthcode.EINVALID, "token: bad private key length %d", len(priv))
	}
	if want := KeyID(priv.Public().(ed25519.PublicKey)); keyID != want {
		return "", healthcode.Errorf(healthcode.EINVALID, "token: key id %q does not match the private key (%s)", keyID, want)
	}
	if err := c.Validate(); err != nil {
		return "", err
	}
	kid, _ := hex.DecodeString(keyID)
	msg := appendBody(append(make([]byte, 0, 256), sigContext...), kid, &c)
	msg = append(msg, ed25519.Sign(priv, msg)...)
	return Prefix + base45Encode(msg[len(sigContext):]), nil
}

func appendBody(b, kid []byte, c *Claims) []byte {
	iat := c.IssuedAt.Unix()
	validity := int64(DefaultValidity / time.Second)
	if !c.ExpiresAt.IsZero() {
		validity = c.ExpiresAt.Unix() - iat
	}
	b = append(b, Version)
	b = append(b, kid...)
	b, _ = hex.AppendDecode(b, []byte(c.Nonce)) // checked by Validate
	b, _ = hex.AppendDecode(b, []byte(c.Binding))
	b = append(b, byte(len(c.Name)))
	b = append(b, c.Name...)
	b = append(b, colourCode(c.Colour))
	b = binary.AppendUvarint(b, uint64(iat))
	b = binary.AppendUvarint(b, uint64(validity))
	return b
}

// Parse decodes the text form of a token. It checks structure only — prefix,
// encoding, version, lengths, field values, no trailing bytes — and returns
// errors wrapping ErrMalformed. It does not check the signature: nothing in
// the result may be trusted until it has been verified.
func Parse(text string) (*Token, error) {
	if strings.HasPrefix(text, "HCT1:") {
		return nil, verr(ErrMalformed, "a version 1 token (HCT1:), no longer issued or accepted: it carried the resident's id")
	}
	if !strings.HasPrefix(text, Prefix) {
		return nil, verr(ErrMalformed, "missing prefix %q", Prefix)
	}
	enc := text[len(Prefix):]
	if len(enc) > maxTextLen {
		return nil, verr(ErrMalformed, "%d characters, longer than any token", len(text))
	}
	buf := make([]byte, len(sigContext), len(sigContext)+base45DecodedLen(len(enc)))
	copy(buf, sigContext)
	buf, err := base45Decode(buf, enc)
	if err != nil {
		return nil, verr(ErrMalformed, "%v", err)
	}
	t, err := parseBody(buf[len(sigContext):])
	if err != nil {
		return nil, verr(ErrMalformed, "%v", err)
	}
	t.msg = buf[:len(buf)-sigLen]
	return t, nil
}

// reader walks a body, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("%s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str(max int, what string) string {
	l := r.bytes(1, what+" length")
	if r.err != nil {
		return ""
	}
	if int(l[0]) > max {
		r.fail("%s: length %d exceeds %d", what, l[0], max)
		return ""
	}
	s := string(r.bytes(int(l[0]), what))
	if r.err == nil && !printable(s) {
		r.fail("%s: not printable UTF-8", what)
	}
	return s
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		r.fail("%s: non-minimal varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func parseBody(b []byte) (*Token, error) {
	r := &reader{b: b}
	t := &Token{}
	if v := r.bytes(1, "version"); r.err == nil {
		if v[0] != Version {
			return nil, fmt.Errorf("unsupported version %d (want %d)", v[0], Version)
		}
		t.Version = int(v[0])
	}
	t.KeyID = hex.EncodeToString(r.bytes(keyIDLen, "key id"))
	t.Claims.Nonce = hex.EncodeToString(r.bytes(NonceLen, "nonce"))
	t.Claims.Binding = hex.EncodeToString(r.bytes(BindingLen, "binding"))
	t.Claims.Name = r.str(MaxNameLen, "name")
	if c := r.bytes(1, "colour"); r.err == nil {
		if int(c[0]) >= len(colourCodes) || colourCodes[c[0]] == "" {
			r.fail("colour: unknown code %d", c[0])
		} else {
			t.Claims.Colour = colourCodes[c[0]]
		}
	}
	iat := r.uvarint("issued at")
	validity := r.uvarint("validity")
	if r.err == nil {
		switch {
		case iat == 0 || iat > maxTime:
			r.fail("issued at: %d out of range", iat)
		case validity == 0 || validity > uint64(MaxValidity/time.Second):
			r.fail("validity: %d seconds out of range", validity)
		}
	}
	t.Signature = r.bytes(sigLen, "signature") // aliases the token's own buffer
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	t.Claims.IssuedAt = time.Unix(int64(iat), 0).UTC()
	t.Claims.ExpiresAt = time.Unix(int64(iat+validity), 0).UTC()
	return t, nil
}

// MaskName masks a resident's name for display on a token, so checkpoint
// staff can compare it with the person in front of them without the token
// revealing the full name. Names containing Han characters keep the first
// and last character: "张三丰" → "张*丰", "欧阳娜娜" → "欧**娜", two-character
// names keep the first: "张三" → "张*". Other names keep the initial of
// each word: "John Ronald Smith" → "J* R* S*" (at most three words: the
// first two and the last). At most three asterisks stand for hidden
// characters. The result always fits MaxNameLen.
func MaskName(name string) string {
	words := strings.Fields(name)
	if len(words) == 0 {
		return ""
	}
	han := false
	for _, r := range name {
		if unicode.Is(unicode.Han, r) {
			han = true
			break
		}
	}
	if han || len(words) == 1 {
		rs := []rune(strings.Join(words, ""))
		switch n := len(rs); {
		case n == 1:
			return "*"
		case n == 2:
			return string(rs[0]) + "*"
		default:
			return string(rs[0]) + strings.Repeat("*", min(n-2, 3)) + string(rs[n-1])
		}
	}
	if len(words) > 3 {
		words = []string{words[0], words[1], words[len(words)-1]}
	}
	out := make([]string, len(words))
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		out[i] = string(r) + "*"
	}
	return strings.Join(out, " ")
}
