package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/")

// vector is one entry of testdata/vectors.json; docs/token.md describes them.
type vector struct {
	Label    string    `json:"name"`
	Seed     string    `json:"seed"` // Ed25519 seed, hex
	KeyID    string    `json:"key_id"`
	Subject  string    `json:"subject"`     // bound into the token, not carried
	LogIndex int64     `json:"log_index"`   // bound into the token, not carried
	Nonce    string    `json:"nonce"`       // the issuer's random value, hex
	Binding  string    `json:"binding"`     // Issuer.Bind(subject, log index, nonce)
	FullName string    `json:"full_name"`   // before MaskName
	Masked   string    `json:"masked_name"` // masked
	Colour   string    `json:"colour"`
	Issued   time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires_at"`
	Body     string    `json:"body_hex"` // binary token, hex
	Token    string    `json:"token"`    // text form
}

func seedOf(b byte) []byte {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

func makeVectors(t *testing.T) []vector {
	t.Helper()
	at := time.Date(2022, 6, 14, 8, 0, 0, 0, time.UTC)
	in := []vector{
		{Label: "green, Chinese name", Seed: hex.EncodeToString(seedOf(0)), Subject: "r-410105-0001", FullName: "张三丰", Colour: "green", Issued: at, Expires: at.Add(15 * time.Minute), LogIndex: 42},
		{Label: "yellow, two-character name", Seed: hex.EncodeToString(seedOf(0)), Subject: "r-410105-0002", FullName: "李四", Colour: "yellow", Issued: at, Expires: at.Add(15 * time.Minute), LogIndex: 1000000},
		{Label: "red, Latin name, 1 h validity", Seed: hex.EncodeToString(seedOf(32)), Subject: "0f8e2c1d-7b6a-4e59-9c3b-2a1d0e9f8c7b", FullName: "Maria de la Cruz", Colour: "red", Issued: at, Expires: at.Add(time.Hour), LogIndex: 0},
	}
	for i := range in {
		v := &in[i]
		seed, _ := hex.DecodeString(v.Seed)
		priv := ed25519.NewKeyFromSeed(seed)
		v.KeyID = KeyID(pub(priv))
		v.Masked = MaskName(v.FullName)
		nonce := bytes.Repeat([]byte{byte(0x10 * (i + 1))}, NonceLen)
		is := &Issuer{Key: priv, KeyID: v.KeyID, Now: func() time.Time { return v.Issued }, Rand: bytes.NewReader(nonce), Validity: v.Expires.Sub(v.Issued)}
		text, c, err := is.Issue(Request{Subject: v.Subject, Name: v.FullName, Colour: healthcode.Colour(v.Colour), LogIndex: v.LogIndex})
		if err != nil {
			t.Fatal(err)
		}
		v.Nonce, v.Binding = c.Nonce, c.Binding
		if !is.Binds(c, v.Subject, v.LogIndex) || is.Binds(c, v.Subject, v.LogIndex+1) || is.Binds(c, v.Subject+"x", v.LogIndex) {
			t.Errorf("%s: Binds does not tell the token's resident and code state from others", v.Label)
		}
		v.Token = text
		raw, _ := base45Decode(nil, text[len(Prefix):])
		v.Body = hex.EncodeToString(raw)
	}
	return in
}

// sealVector is testdata/sealed_key.json: a key sealed with fixed randomness.
type sealVector struct {
	Secret string `json:"secret"`
	Seed   string `json:"seed"`
	Rand   string `json:"rand"`
	Sealed string `json:"sealed_hex"`
}

func TestVectors(t *testing.T) {
	got := makeVectors(t)
	trustPriv := ed25519.NewKeyFromSeed(seedOf(64))
	seed0, _ := hex.DecodeString(got[0].Seed)
	seed1, _ := hex.DecodeString(got[2].Seed)
	at := got[0].Issued
	tl := &TrustList{Issuer: "cn-41", Version: 7, IssuedAt: at.Add(-time.Hour), Keys: []Key{
		trustKey(ed25519.NewKeyFromSeed(seed0), KeyActive, at.Add(-24*time.Hour), time.Time{}),
		trustKey(ed25519.NewKeyFromSeed(seed1), KeyRetired, at.Add(-48*time.Hour), at.Add(time.Hour)),
	}}
	trustData, err := SignTrustList(trustPriv, tl)
	if err != nil {
		t.Fatal(err)
	}
	rnd := bytes.Repeat([]byte{0xa5}, saltLen+nonceLen)
	secret := "healthcode test vector secret"
	sealed, err := Seal([]byte(secret), ed25519.NewKeyFromSeed(seed0), bytes.NewReader(rnd))
	if err != nil {
		t.Fatal(err)
	}
	sv := sealVector{Secret: secret, Seed: got[0].Seed, Rand: hex.EncodeToString(rnd), Sealed: hex.EncodeToString(sealed)}

	vecJSON, _ := json.MarshalIndent(got, "", "  ")
	sealJSON, _ := json.MarshalIndent(sv, "", "  ")
	files := map[string][]byte{
		"vectors.json":         append(vecJSON, '\n'),
		"trustlist-cn-41.json": trustData,
		"trust-key.txt":        []byte(hex.EncodeToString(pub(trustPriv)) + "\n"),
		"sealed_key.json":      append(sealJSON, '\n'),
	}
	for name, data := range files {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestVectors -update)", err)
		}
		if diff := cmp.Diff(string(want), string(data)); diff != "" {
			t.Errorf("%s changed (-want +got):\n%s", path, diff)
		}
	}

	// The stored vectors, read back, verify against the stored trust list.
	var stored []vector
	data, _ := os.ReadFile("testdata/vectors.json")
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	keyHex, _ := os.ReadFile("testdata/trust-key.txt")
	trustKeyBytes, _ := hex.DecodeString(string(bytes.TrimSpace(keyHex)))
	listData, _ := os.ReadFile("testdata/trustlist-cn-41.json")
	list, err := ParseTrustList(listData, trustKeyBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range stored {
		now := v.Issued.Add(time.Minute)
		ver := &Verifier{Lists: []*TrustList{list}, Now: fixedClock(&now)}
		c, err := ver.Verify(v.Token)
		if err != nil {
			t.Errorf("%s: Verify: %v", v.Label, err)
			continue
		}
		want := Claims{Nonce: v.Nonce, Binding: v.Binding, Name: v.Masked, Colour: healthcode.Colour(v.Colour), IssuedAt: v.Issued, ExpiresAt: v.Expires}
		if diff := cmp.Diff(want, *c); diff != "" {
			t.Errorf("%s: claims (-want +got):\n%s", v.Label, diff)
		}
	}
	var s sealVector
	data, _ = os.ReadFile("testdata/sealed_key.json")
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	sb, _ := hex.DecodeString(s.Sealed)
	priv, err := Open([]byte(s.Secret), sb)
	if err != nil || hex.EncodeToString(priv.Seed()) != s.Seed {
		t.Errorf("Open(sealed vector) = %v", err)
	}
}
