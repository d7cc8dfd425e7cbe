package token

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"rsc.io/qr"

	"github.com/healthcode/healthcode"
)

const n1 = "000102030405060708090a0b0c0d0e0f"

func TestRoundTrip(t *testing.T) {
	priv := mustKey(t, "issuer-a")
	long := Claims{
		Nonce:     strings.Repeat("f", 2*NonceLen),
		Binding:   strings.Repeat("e", 2*BindingLen),
		Name:      strings.Repeat("名", MaxNameLen/3),
		Colour:    healthcode.Red,
		IssuedAt:  time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2100, 1, 2, 0, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name   string
		claims Claims
		want   Claims
	}{
		{"typical", testClaims(), testClaims()},
		{"yellow latin", Claims{Nonce: n1, Binding: n1, Name: MaskName("John Smith"), Colour: healthcode.Yellow, IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)},
			Claims{Nonce: n1, Binding: n1, Name: "J* S*", Colour: healthcode.Yellow, IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}},
		{"default validity, sub-second truncated", Claims{Nonce: n1, Binding: n1, Colour: healthcode.Red, IssuedAt: t0.Add(700 * time.Millisecond)},
			Claims{Nonce: n1, Binding: n1, Colour: healthcode.Red, IssuedAt: t0, ExpiresAt: t0.Add(DefaultValidity)}},
		{"longest fields", long, long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := mustSign(t, priv, tt.claims)
			tok, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, tok.Claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if tok.KeyID != KeyID(pub(priv)) || tok.Version != Version {
				t.Errorf("key id %s version %d", tok.KeyID, tok.Version)
			}
			if err := tok.CheckSignature(pub(priv)); err != nil {
				t.Errorf("CheckSignature: %v", err)
			}
			if err := tok.CheckSignature(pub(mustKey(t, "other"))); !errors.Is(err, ErrBadSignature) {
				t.Errorf("CheckSignature(other key) = %v, want ErrBadSignature", err)
			}
		})
	}
}

// TestQRSize asserts that a token with the longest fields every field
// allows fits a version 10 QR code at error correction level M.
func TestQRSize(t *testing.T) {
	c := Claims{
		Nonce:     n1,
		Binding:   n1,
		Name:      strings.Repeat("\U0002A6D6", MaxNameLen/4), // 4-byte runes
		Colour:    healthcode.Yellow,
		IssuedAt:  time.Unix(1<<40, 0),
		ExpiresAt: time.Unix(1<<40, 0).Add(MaxValidity),
	}
	text := mustSign(t, mustKey(t, "a"), c)
	if _, err := Parse(text); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	version := (code.Size - 17) / 4
	t.Logf("longest token: %d characters, QR version %d-M", len(text), version)
	if version > 10 {
		t.Errorf("longest token needs QR version %d, want <= 10", version)
	}
	typical := mustSign(t, mustKey(t, "a"), testClaims())
	code, _ = qr.Encode(typical, qr.M)
	t.Logf("typical token: %d characters, QR version %d-M", len(typical), (code.Size-17)/4)
}

func TestSignErrors(t *testing.T) {
	priv := mustKey(t, "a")
	ok := testClaims()
	tests := []struct {
		name  string
		keyID string
		edit  func(*Claims)
		field string
	}{
		{"key id mismatch", KeyID(pub(mustKey(t, "b"))), func(*Claims) {}, ""},
		{"no nonce", "", func(c *Claims) { c.Nonce = "" }, "nonce"},
		{"short nonce", "", func(c *Claims) { c.Nonce = c.Nonce[2:] }, "nonce"},
		{"uppercase nonce", "", func(c *Claims) { c.Nonce = strings.ToUpper(c.Nonce) }, "nonce"},
		{"no binding", "", func(c *Claims) { c.Binding = "" }, "binding"},
		{"binding not hex", "", func(c *Claims) { c.Binding = strings.Repeat("g", 2*BindingLen) }, "binding"},
		{"control in name", "", func(c *Claims) { c.Name = "a\nb" }, "name"},
		{"long name", "", func(c *Claims) { c.Name = strings.Repeat("x", MaxNameLen+1) }, "name"},
		{"bad colour", "", func(c *Claims) { c.Colour = "blue" }, "colour"},
		{"no issued at", "", func(c *Claims) { c.IssuedAt = time.Time{} }, "issued_at"},
		{"expires before issue", "", func(c *Claims) { c.ExpiresAt = c.IssuedAt }, "expires_at"},
		{"too long validity", "", func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(MaxValidity + time.Second) }, "expires_at"},
		{"issued in year 40000", "", func(c *Claims) { c.IssuedAt = time.Unix(1<<40+1, 0); c.ExpiresAt = time.Time{} }, "issued_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			kid := tt.keyID
			if kid == "" {
				kid = KeyID(pub(priv))
			}
			_, err := Sign(priv, kid, c)
			var he *healthcode.Error
			if !errors.As(err, &he) || he.Code != healthcode.EINVALID || he.Field != tt.field {
				t.Errorf("Sign = %v, want EINVALID error on field %q", err, tt.field)
			}
		})
	}
}

// body builds a token body field by field, so tests can break one field.
type body struct {
	version  byte
	kid      []byte
	nonce    []byte
	binding  []byte
	name     []byte
	colour   byte
	varints  []byte
	sig      []byte
	trailing []byte
}

func goodBody() body {
	var v []byte
	v = binary.AppendUvarint(v, uint64(t0.Unix()))
	v = binary.AppendUvarint(v, 900)
	return body{version: 2, kid: make([]byte, 8), nonce: make([]byte, NonceLen), binding: make([]byte, BindingLen), name: []byte("张*"), colour: 1, varints: v, sig: make([]byte, 64)}
}

func (b body) text() string {
	out := []byte{b.version}
	out = append(out, b.kid...)
	out = append(out, b.nonce...)
	out = append(out, b.binding...)
	out = append(out, byte(len(b.name)))
	out = append(out, b.name...)
	out = append(out, b.colour)
	out = append(out, b.varints...)
	out = append(out, b.sig...)
	out = append(out, b.trailing...)
	return Prefix + base45Encode(out)
}

func TestParseErrors(t *testing.T) {
	good := goodBody().text()
	if _, err := Parse(good); err != nil {
		t.Fatalf("Parse(good body) = %v", err)
	}
	varints := func(iat, validity uint64) []byte {
		v := binary.AppendUvarint(nil, iat)
		return binary.AppendUvarint(v, validity)
	}
	edit := func(f func(*body)) string { b := goodBody(); f(&b); return b.text() }
	tests := []struct {
		name, text, wantMsg string
	}{
		{"empty", "", "missing prefix"},
		{"eu prefix", "HC1:" + good[len(Prefix):], "missing prefix"},
		{"lowercase prefix", "hct2:" + good[len(Prefix):], "missing prefix"},
		{"version 1 token", "HCT1:" + good[len(Prefix):], "version 1 token"},
		{"bad base45 char", good[:len(good)-1] + "a", "bad character"},
		{"far too long", Prefix + strings.Repeat("0", 1000), "longer than any token"},
		{"bad base45 length", Prefix + "0000", "bad length"},
		{"base45 group out of range", Prefix + ":::", "out of range"},
		{"wrong version", edit(func(b *body) { b.version = 1 }), "unsupported version 1"},
		{"trailing bytes", edit(func(b *body) { b.trailing = []byte{0, 0} }), "2 trailing bytes"},
		{"truncated signature", edit(func(b *body) { b.sig = b.sig[:63] }), "signature: need 64 bytes"},
		{"truncated key id", Prefix + base45Encode([]byte{2, 2, 3}), "key id: need 8 bytes"},
		{"short nonce", edit(func(b *body) { b.nonce = nil; b.binding = nil; b.name = nil; b.varints = nil; b.sig = nil }), "nonce: need 16 bytes"},
		{"long name", edit(func(b *body) { b.name = []byte(strings.Repeat("x", MaxNameLen+1)) }), "name: length 33 exceeds 32"},
		{"invalid utf-8 name", edit(func(b *body) { b.name = []byte{0xff} }), "name: not printable"},
		{"unknown colour", edit(func(b *body) { b.colour = 4 }), "colour: unknown code 4"},
		{"zero colour", edit(func(b *body) { b.colour = 0 }), "colour: unknown code 0"},
		{"zero validity", edit(func(b *body) { b.varints = varints(1e9, 0) }), "validity: 0 seconds out of range"},
		{"validity too long", edit(func(b *body) { b.varints = varints(1e9, 86401) }), "validity: 86401 seconds out of range"},
		{"zero issued at", edit(func(b *body) { b.varints = varints(0, 60) }), "issued at: 0 out of range"},
		{"non-minimal varint", edit(func(b *body) { b.varints = append([]byte{0x81, 0x80, 0x80, 0x80, 0x00}, varints(1, 60)[1:]...) }), "non-minimal varint"},
		{"truncated varint", edit(func(b *body) { b.varints = []byte{0x80}; b.sig = nil }), "bad varint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Parse(tt.text)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Parse = %v, %v; want ErrMalformed containing %q", tok, err, tt.wantMsg)
			}
		})
	}
}

func TestMaskName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"张三丰", "张*丰"},
		{"张三", "张*"},
		{"张", "*"},
		{"欧阳娜娜", "欧**娜"},
		{"爱新觉罗·溥仪", "爱***仪"},
		{" 张 三 丰 ", "张*丰"},
		{"John Smith", "J* S*"},
		{"John Ronald Reuel Tolkien", "J* R* T*"},
		{"Madonna", "M***a"},
		{"Ab", "A*"},
		{"Émile Zola", "É* Z*"},
		{"", ""},
		{"   ", ""},
		// Idempotent: masking a masked name changes nothing.
		{"张*丰", "张*丰"},
		{"张*", "张*"},
		{"J* S*", "J* S*"},
	}
	for _, tt := range tests {
		if got := MaskName(tt.in); got != tt.want {
			t.Errorf("MaskName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := MaskName(tt.in); len(got) > MaxNameLen {
			t.Errorf("MaskName(%q) = %q, longer than MaxNameLen", tt.in, got)
		}
	}
}

func TestBase45(t *testing.T) {
	// RFC 9285 section 4.3 examples.
	tests := []struct{ in, out string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := base45Encode([]byte(tt.in)); got != tt.out {
			t.Errorf("encode(%q) = %q, want %q", tt.in, got, tt.out)
		}
		got, err := base45Decode(nil, tt.out)
		if err != nil || string(got) != tt.in {
			t.Errorf("decode(%q) = %q, %v, want %q", tt.out, got, err, tt.in)
		}
	}
	for _, bad := range []string{"GGW", "0", "abc", "::"} {
		if _, err := base45Decode(nil, bad); err == nil {
			t.Errorf("decode(%q) succeeded, want error", bad)
		}
	}
}
