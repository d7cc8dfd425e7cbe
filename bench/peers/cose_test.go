package peers

// Side by side: verifying a healthcode token (Ed25519, compact binary,
// Base45) and an EU Digital COVID Certificate-style token of the same
// content (CBOR CWT claims, COSE_Sign1 with ES256, zlib, Base45, "HC1:"),
// in the same run. Run with:
//
//	cd bench/peers && go test -run COSE -bench COSE -v

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
	"rsc.io/qr"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/token"
)

var coseT0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// coseClaims is the EU DCC layout: a CWT with issuer (1), expiry (4),
// issued-at (6) and the health certificate under -260/1. The certificate
// holds the same fields as our token.
type coseClaims struct {
	Issuer   string                `cbor:"1,keyasint"`
	Expires  int64                 `cbor:"4,keyasint"`
	IssuedAt int64                 `cbor:"6,keyasint"`
	HCert    map[int]coseHealthDoc `cbor:"-260,keyasint"`
}

type coseHealthDoc struct {
	Nonce   string `cbor:"non"`
	Binding string `cbor:"bnd"`
	Name    string `cbor:"nam"`
	Colour  string `cbor:"col"`
}

const coseB45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

func coseB45Encode(b []byte) string {
	var s strings.Builder
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(coseB45[n%45])
		s.WriteByte(coseB45[n/45%45])
		s.WriteByte(coseB45[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(coseB45[n%45])
		s.WriteByte(coseB45[n/45])
	}
	return s.String()
}

func coseB45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errors.New("base45: bad length")
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		n, w := 0, 1
		end := min(i+3, len(s))
		for j := i; j < end; j++ {
			v := strings.IndexByte(coseB45, s[j])
			if v < 0 {
				return nil, errors.New("base45: bad character")
			}
			n += v * w
			w *= 45
		}
		if end-i == 3 {
			if n > 0xffff {
				return nil, errors.New("base45: out of range")
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, errors.New("base45: out of range")
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}

// coseIssue builds an EU DCC-style token.
func coseIssue(priv *ecdsa.PrivateKey, kid []byte, c token.Claims) (string, error) {
	payload, err := cbor.Marshal(coseClaims{
		Issuer: "CN-41", IssuedAt: c.IssuedAt.Unix(), Expires: c.ExpiresAt.Unix(),
		HCert: map[int]coseHealthDoc{1: {Nonce: c.Nonce, Binding: c.Binding, Name: c.Name, Colour: string(c.Colour)}},
	})
	if err != nil {
		return "", err
	}
	signer, err := cose.NewSigner(cose.AlgorithmES256, priv)
	if err != nil {
		return "", err
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return "", err
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return "", err
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(raw)
	zw.Close()
	return "HC1:" + coseB45Encode(z.Bytes()), nil
}

// coseVerify is the EU DCC verification pipeline: prefix, Base45, zlib,
// COSE_Sign1, key lookup by kid, ES256 signature, CWT claims, time.
func coseVerify(text string, keys map[string]cose.Verifier, now time.Time) (*coseClaims, error) {
	if !strings.HasPrefix(text, "HC1:") {
		return nil, errors.New("missing prefix")
	}
	z, err := coseB45Decode(text[4:])
	if err != nil {
		return nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<10))
	if err != nil {
		return nil, err
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return nil, err
	}
	kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	v, ok := keys[string(kid)]
	if !ok {
		return nil, fmt.Errorf("unknown key %x", kid)
	}
	if err := msg.Verify(nil, v); err != nil {
		return nil, err
	}
	var c coseClaims
	if err := cbor.Unmarshal(msg.Payload, &c); err != nil {
		return nil, err
	}
	if now.Unix() < c.IssuedAt-120 || now.Unix() >= c.Expires+120 {
		return nil, errors.New("not valid now")
	}
	return &c, nil
}

type coseSetup struct {
	ours, eu string
	verifier *token.Verifier
	euKeys   map[string]cose.Verifier
	now      time.Time
	claims   token.Claims
}

func newCOSESetup(t testing.TB) *coseSetup {
	t.Helper()
	seed := sha256.Sum256([]byte("peers ed25519"))
	edPriv := ed25519.NewKeyFromSeed(seed[:])
	edPub := edPriv.Public().(ed25519.PublicKey)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := token.Claims{Nonce: strings.Repeat("5a", token.NonceLen), Binding: strings.Repeat("c3", token.BindingLen), Name: token.MaskName("张三丰"), Colour: healthcode.Green,
		IssuedAt: coseT0, ExpiresAt: coseT0.Add(token.DefaultValidity)}
	ours, err := token.Sign(edPriv, token.KeyID(edPub), c)
	if err != nil {
		t.Fatal(err)
	}
	kid := []byte("hc-es256")[:8]
	eu, err := coseIssue(ecPriv, kid, c)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := cose.NewVerifier(cose.AlgorithmES256, &ecPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &coseSetup{ours: ours, eu: eu, euKeys: map[string]cose.Verifier{string(kid): ev}, now: coseT0.Add(time.Minute), claims: c}
	s.verifier = &token.Verifier{
		Lists: []*token.TrustList{{Issuer: "cn-41", Version: 1, IssuedAt: coseT0, Keys: []token.Key{{
			ID: token.KeyID(edPub), Public: edPub, NotBefore: coseT0.Add(-time.Hour), Status: token.KeyActive}}}},
		Now: func() time.Time { return s.now },
	}
	return s
}

// TestCOSESideBySide checks that both pipelines verify the same content and
// reports the sizes of both texts and their QR codes.
func TestCOSESideBySide(t *testing.T) {
	s := newCOSESetup(t)
	got, err := s.verifier.Verify(s.ours)
	if err != nil {
		t.Fatalf("healthcode Verify: %v", err)
	}
	eu, err := coseVerify(s.eu, s.euKeys, s.now)
	if err != nil {
		t.Fatalf("EU DCC verify: %v", err)
	}
	doc := eu.HCert[1]
	if doc.Nonce != got.Nonce || doc.Binding != got.Binding || doc.Name != got.Name || doc.Colour != string(got.Colour) ||
		eu.IssuedAt != got.IssuedAt.Unix() || eu.Expires != got.ExpiresAt.Unix() {
		t.Errorf("contents differ: %+v vs %+v", eu, got)
	}
	for _, x := range []struct{ name, text string }{{"healthcode", s.ours}, {"EU DCC-style", s.eu}} {
		code, err := qr.Encode(x.text, qr.M)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-13s %3d characters, QR version %d-M", x.name, len(x.text), (code.Size-17)/4)
	}
	// Tampering is caught by both.
	bad := []byte(s.eu)
	bad[len(bad)/2] ^= 1
	if _, err := coseVerify(string(bad), s.euKeys, s.now); err == nil {
		t.Errorf("EU DCC pipeline accepted a tampered token")
	}
}

func BenchmarkCOSEHealthcodeVerify(b *testing.B) {
	s := newCOSESetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.verifier.Verify(s.ours); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCOSEEUDCCVerify(b *testing.B) {
	s := newCOSESetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := coseVerify(s.eu, s.euKeys, s.now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCOSESideBySide alternates batches of both verifications in one
// loop, so machine noise hits both alike, and reports their ratio.
func BenchmarkCOSESideBySide(b *testing.B) {
	s := newCOSESetup(b)
	const batch = 8
	var ours, eu time.Duration
	for b.Loop() {
		start := time.Now()
		for range batch {
			if _, err := s.verifier.Verify(s.ours); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range batch {
			if _, err := coseVerify(s.eu, s.euKeys, s.now); err != nil {
				b.Fatal(err)
			}
		}
		ours += mid.Sub(start)
		eu += time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N*batch), "healthcode-ns/op")
	b.ReportMetric(float64(eu.Nanoseconds())/float64(b.N*batch), "eudcc-ns/op")
	b.ReportMetric(float64(eu)/float64(ours), "eudcc/healthcode")
}
