package token

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

func fuzzSeeds(t testing.TB) []string {
	priv := mustKey(t, "a")
	c := testClaims()
	latin := c
	latin.Name, latin.Colour = "J* S*", healthcode.Red
	return []string{
		mustSign(t, priv, c),
		mustSign(t, priv, latin),
		goodBody().text(),
		"",
		Prefix,
		"HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B",
		Prefix + "0000",
		Prefix + ":::",
	}
}

// FuzzParse checks that Parse never panics and that it accepts only
// canonical encodings: a parsed body re-encodes to exactly its bytes.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tok, err := Parse(text)
		if err != nil {
			if tok != nil {
				t.Fatalf("Parse returned a token and an error")
			}
			return
		}
		kid, _ := hex.DecodeString(tok.KeyID)
		body := appendBody(nil, kid, &tok.Claims)
		if !bytes.Equal(body, tok.msg[len(sigContext):]) {
			t.Fatalf("non-canonical body accepted:\n got %x\nwant %x", tok.msg[len(sigContext):], body)
		}
		if Prefix+base45Encode(append(body, tok.Signature...)) != text {
			t.Fatalf("non-canonical text accepted: %q", text)
		}
	})
}

// FuzzVerify checks that Verify never panics and never accepts anything
// but the genuine tokens it was seeded with.
func FuzzVerify(f *testing.F) {
	seeds := fuzzSeeds(f)
	genuine := map[string]bool{seeds[0]: true, seeds[1]: true}
	for _, s := range seeds {
		f.Add(s)
	}
	a := mustKey(f, "a")
	now := t0.Add(time.Minute)
	v := &Verifier{
		Lists: []*TrustList{{Issuer: "cn-41", Version: 1, IssuedAt: t0, Keys: []Key{trustKey(a, KeyActive, t0.Add(-time.Hour), time.Time{})}}},
		Now:   fixedClock(&now),
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := v.Verify(text)
		if err == nil && !genuine[text] {
			t.Fatalf("Verify accepted a token it was not given: %q (%+v)", text, c)
		}
		if err != nil && c != nil {
			t.Fatalf("Verify returned claims with an error")
		}
	})
}
