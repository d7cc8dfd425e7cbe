package token

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

// benchSetup returns a token, its key, the exact signed message, and a
// verifier holding our list and 33 imported provinces' lists.
func benchSetup(b *testing.B) (string, ed25519.PrivateKey, []byte, *Verifier) {
	priv := mustKey(b, "a")
	text := mustSign(b, priv, testClaims())
	tok, err := Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	lists := []*TrustList{{Issuer: "cn-41", Version: 1, IssuedAt: t0, Keys: []Key{trustKey(priv, KeyActive, t0.Add(-time.Hour), time.Time{})}}}
	for i := 0; i < 33; i++ {
		k := mustKey(b, string(rune('A'+i)))
		lists = append(lists, &TrustList{Issuer: "p" + string(rune('a'+i)), Version: 1, IssuedAt: t0, Keys: []Key{trustKey(k, KeyActive, t0.Add(-time.Hour), time.Time{})}})
	}
	now := t0.Add(time.Minute)
	return text, priv, tok.msg, &Verifier{Lists: lists, Now: func() time.Time { return now }}
}

// BenchmarkVerify is a checkpoint's full offline verification of one
// scanned token text: parse, key lookup, signature, status, window, time.
func BenchmarkVerify(b *testing.B) {
	text, _, _, v := benchSetup(b)
	if _, err := v.Verify(text); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the physical limit: ed25519.Verify of the same
// signed message.
func BenchmarkEd25519Verify(b *testing.B) {
	text, priv, msg, _ := benchSetup(b)
	tok, _ := Parse(text)
	p := pub(priv)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(p, msg, tok.Signature) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkParse is the structural decoding alone.
func BenchmarkParse(b *testing.B) {
	text, _, _, _ := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is the issuer's cost per token.
func BenchmarkSign(b *testing.B) {
	priv := mustKey(b, "a")
	kid := KeyID(pub(priv))
	c := testClaims()
	c.Colour = healthcode.Yellow
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(priv, kid, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOverhead alternates batches of Verify and raw
// ed25519.Verify in one loop, so that the noise of a shared machine hits
// both alike, and reports the overhead of Verify over the raw signature
// check as overhead-%.
func BenchmarkVerifyOverhead(b *testing.B) {
	text, priv, msg, v := benchSetup(b)
	tok, _ := Parse(text)
	p := pub(priv)
	const batch = 16
	var full, raw time.Duration
	for b.Loop() {
		start := time.Now()
		for range batch {
			if _, err := v.Verify(text); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range batch {
			if !ed25519.Verify(p, msg, tok.Signature) {
				b.Fatal("bad signature")
			}
		}
		full += mid.Sub(start)
		raw += time.Since(mid)
	}
	b.ReportMetric(float64(full.Nanoseconds())/float64(b.N*batch), "verify-ns/op")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N*batch), "ed25519-ns/op")
	b.ReportMetric(100*(float64(full)/float64(raw)-1), "overhead-%")
}
