package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
)

func mustSignTrustList(t *testing.T, priv ed25519.PrivateKey, tl *TrustList) []byte {
	t.Helper()
	data, err := SignTrustList(priv, tl)
	if err != nil {
		t.Fatalf("SignTrustList: %v", err)
	}
	return data
}

func testList(t *testing.T, issuer string, version uint64) *TrustList {
	return &TrustList{Issuer: issuer, Version: version, IssuedAt: t0, Keys: []Key{
		trustKey(mustKey(t, issuer+"-1"), KeyRetired, t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)),
		trustKey(mustKey(t, issuer+"-2"), KeyActive, t0.Add(-24*time.Hour), time.Time{}),
	}}
}

func TestTrustListRoundTrip(t *testing.T) {
	tk := mustKey(t, "trust")
	tl := testList(t, "cn-41", 3)
	got, err := ParseTrustList(mustSignTrustList(t, tk, tl), pub(tk))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tl, got); diff != "" {
		t.Errorf("trust list (-want +got):\n%s", diff)
	}
}

func TestParseTrustListErrors(t *testing.T) {
	tk := mustKey(t, "trust")
	good := mustSignTrustList(t, tk, testList(t, "cn-41", 1))
	var env envelope
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	reenvelope := func(p []byte, resign bool) []byte {
		e := env
		e.Payload = base64.StdEncoding.EncodeToString(p)
		if resign {
			e.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(tk, append([]byte(trustContext), p...)))
		}
		b, _ := json.Marshal(e)
		return b
	}
	tests := []struct {
		name string
		data []byte
		key  ed25519.PublicKey
		want error
	}{
		{"other issuer's trust key", good, pub(mustKey(t, "trust-b")), ErrBadSignature},
		{"token key is not a trust key", good, pub(mustKey(t, "cn-41-2")), ErrBadSignature},
		{"tampered payload", reenvelope(bytes.Replace(payload, []byte(`"version":1`), []byte(`"version":9`), 1), false), pub(tk), ErrBadSignature},
		{"unknown field, signed", reenvelope(bytes.Replace(payload, []byte(`{"issuer"`), []byte(`{"x":1,"issuer"`), 1), true), pub(tk), ErrMalformed},
		{"bad key id, signed", reenvelope(bytes.Replace(payload, []byte(`"id":"`), []byte(`"id":"00`), 1), true), pub(tk), ErrMalformed},
		{"version 0, signed", reenvelope(bytes.Replace(payload, []byte(`"version":1`), []byte(`"version":0`), 1), true), pub(tk), ErrMalformed},
		{"not json", []byte("hello"), pub(tk), ErrMalformed},
		{"trailing data", append(bytes.Clone(good), "{}"...), pub(tk), ErrMalformed},
		{"unknown envelope field", bytes.Replace(good, []byte(`"payload"`), []byte(`"extra":1,"payload"`), 1), pub(tk), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseTrustList(tt.data, tt.key); !errors.Is(err, tt.want) {
				t.Errorf("ParseTrustList = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignTrustListInvalid(t *testing.T) {
	tk := mustKey(t, "trust")
	tests := []struct {
		name string
		edit func(*TrustList)
	}{
		{"bad issuer", func(tl *TrustList) { tl.Issuer = "../etc" }},
		{"version 0", func(tl *TrustList) { tl.Version = 0 }},
		{"duplicate key", func(tl *TrustList) { tl.Keys = append(tl.Keys, tl.Keys[0]) }},
		{"bad status", func(tl *TrustList) { tl.Keys[0].Status = "paused" }},
		{"window reversed", func(tl *TrustList) { tl.Keys[0].NotAfter = tl.Keys[0].NotBefore }},
	}
	for _, tt := range tests {
		tl := testList(t, "cn-41", 1)
		tt.edit(tl)
		if _, err := SignTrustList(tk, tl); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("%s: SignTrustList = %v, want EINVALID", tt.name, err)
		}
	}
}

func TestCache(t *testing.T) {
	tkA, tkB := mustKey(t, "trust-a"), mustKey(t, "trust-b")
	c := &Cache{Dir: t.TempDir(), Pins: map[string]ed25519.PublicKey{"cn-41": pub(tkA), "cn-42": pub(tkB)}}
	put := func(tk ed25519.PrivateKey, tl *TrustList) error {
		t.Helper()
		_, err := c.Put(mustSignTrustList(t, tk, tl))
		return err
	}
	if err := put(tkA, testList(t, "cn-41", 2)); err != nil {
		t.Fatal(err)
	}
	if err := put(tkB, testList(t, "cn-42", 1)); err != nil {
		t.Fatal(err)
	}
	if err := put(tkA, testList(t, "cn-41", 2)); err != nil {
		t.Errorf("storing the same list again: %v", err)
	}
	compact := new(bytes.Buffer)
	if err := json.Compact(compact, mustSignTrustList(t, tkA, testList(t, "cn-41", 2))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(compact.Bytes()); err != nil {
		t.Errorf("storing the same list with another layout: %v", err)
	}
	tests := []struct {
		name string
		tk   ed25519.PrivateKey
		tl   *TrustList
		want string // error code or sentinel text
	}{
		{"rolled back", tkA, testList(t, "cn-41", 1), "trust list too old"},
		{"same version, other content", tkA, func() *TrustList { tl := testList(t, "cn-41", 2); tl.Keys = tl.Keys[:1]; return tl }(), healthcode.ECONFLICT},
		{"signed by another issuer's key", tkB, testList(t, "cn-41", 5), "bad signature"},
		{"unpinned trust key", mustKey(t, "rogue"), testList(t, "cn-41", 5), "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := put(tt.tk, tt.tl)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Put = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if err := put(tkA, testList(t, "cn-41", 3)); err != nil {
		t.Fatalf("newer list: %v", err)
	}
	lists, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(lists) != 2 || lists[0].Issuer != "cn-41" || lists[0].Version != 3 || lists[1].Version != 1 {
		t.Errorf("Load = %+v", lists)
	}
	if _, err := c.Get("cn-43"); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
		t.Errorf("Get(unpinned) = %v, want ENOTFOUND", err)
	}
	// A cached file altered on disk is refused on read.
	name := filepath.Join(c.Dir, "cn-42.json")
	data, _ := os.ReadFile(name)
	if err := os.WriteFile(name, bytes.Replace(data, []byte(`"key_id"`), []byte(`"key_id" `), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("cn-42"); err != nil {
		t.Errorf("whitespace change refused: %v", err)
	}
	if err := os.WriteFile(name, mustSignTrustList(t, tkA, testList(t, "cn-42", 9)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("cn-42"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Get(file signed by wrong key) = %v, want ErrBadSignature", err)
	}
}

func TestVerifierUpdate(t *testing.T) {
	v := &Verifier{Now: func() time.Time { return t0 }}
	if err := v.Update(testList(t, "cn-41", 2)); err != nil {
		t.Fatal(err)
	}
	if err := v.Update(testList(t, "cn-42", 1)); err != nil {
		t.Fatal(err)
	}
	if err := v.Update(testList(t, "cn-41", 1)); !errors.Is(err, ErrTrustListTooOld) {
		t.Errorf("Update(older) = %v, want ErrTrustListTooOld", err)
	}
	if err := v.Update(testList(t, "cn-41", 3)); err != nil {
		t.Fatal(err)
	}
	if len(v.Lists) != 2 || v.Newest["cn-41"] != 3 {
		t.Errorf("lists %d, newest %v", len(v.Lists), v.Newest)
	}
	text := mustSign(t, mustKey(t, "cn-42-2"), testClaims())
	if _, err := v.Verify(text); err != nil {
		t.Errorf("Verify with imported list: %v", err)
	}
}
