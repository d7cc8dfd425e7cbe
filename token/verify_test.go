package token

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
)

// world is a verifier's view of two issuers, each with one active key.
type world struct {
	a, b  ed25519.PrivateKey // token keys of issuers "cn-41" and "cn-42"
	now   time.Time
	v     *Verifier
	listA *TrustList
	listB *TrustList
	tkA   ed25519.PrivateKey // trust-list keys
	tkB   ed25519.PrivateKey
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{a: mustKey(t, "a"), b: mustKey(t, "b"), tkA: mustKey(t, "trust-a"), tkB: mustKey(t, "trust-b"), now: t0}
	w.listA = &TrustList{Issuer: "cn-41", Version: 1, IssuedAt: t0.Add(-time.Hour), Keys: []Key{trustKey(w.a, KeyActive, t0.Add(-24*time.Hour), time.Time{})}}
	w.listB = &TrustList{Issuer: "cn-42", Version: 1, IssuedAt: t0.Add(-time.Hour), Keys: []Key{trustKey(w.b, KeyActive, t0.Add(-24*time.Hour), t0.Add(24*time.Hour))}}
	w.v = &Verifier{Lists: []*TrustList{w.listA, w.listB}, Now: fixedClock(&w.now)}
	return w
}

func TestVerify(t *testing.T) {
	c := testClaims() // issued t0, expires t0+15m
	stranger := mustKey(t, "stranger")
	tests := []struct {
		name    string
		key     string // "a", "b", "stranger"
		now     time.Duration
		skew    time.Duration
		setup   func(w *world)
		wantErr error
	}{
		{name: "ours", key: "a"},
		{name: "imported province", key: "b"},
		{name: "unknown key", key: "stranger", wantErr: ErrUnknownKey},
		{name: "revoked", key: "a", setup: func(w *world) { w.listA.Keys[0].Status = KeyRevoked }, wantErr: ErrRevokedKey},
		{name: "retired verifies", key: "a", setup: func(w *world) { w.listA.Keys[0].Status = KeyRetired }},
		{name: "issued before key window", key: "a", setup: func(w *world) { w.listA.Keys[0].NotBefore = t0.Add(time.Second) }, wantErr: ErrKeyWindow},
		{name: "issued after key window", key: "a", setup: func(w *world) { w.listA.Keys[0].NotAfter = t0.Add(-time.Second) }, wantErr: ErrKeyWindow},
		{name: "issued at end of key window", key: "a", setup: func(w *world) { w.listA.Keys[0].NotAfter = t0 }},
		{name: "skew boundary before issue", key: "a", now: -DefaultSkew},
		{name: "not yet valid", key: "a", now: -DefaultSkew - time.Nanosecond, wantErr: ErrNotYetValid},
		{name: "last moment", key: "a", now: DefaultValidity + DefaultSkew - time.Nanosecond},
		{name: "expired", key: "a", now: DefaultValidity + DefaultSkew, wantErr: ErrExpired},
		{name: "no skew: expiry exact", key: "a", skew: -1, now: DefaultValidity, wantErr: ErrExpired},
		{name: "no skew: future", key: "a", skew: -1, now: -time.Nanosecond, wantErr: ErrNotYetValid},
		{name: "custom skew", key: "a", skew: 10 * time.Minute, now: DefaultValidity + 9*time.Minute},
		{name: "stale list in Lists", key: "a", setup: func(w *world) {
			newer := *w.listA
			newer.Version = 2
			newer.Keys = []Key{trustKey(mustKey(t, "a2"), KeyActive, t0, time.Time{})}
			w.v.Lists = append(w.v.Lists, &newer)
		}, wantErr: ErrTrustListTooOld},
		{name: "stale list by Newest", key: "a", setup: func(w *world) { w.v.Newest = map[string]uint64{"cn-41": 5} }, wantErr: ErrTrustListTooOld},
		{name: "list older than MaxListAge", key: "a", setup: func(w *world) { w.v.MaxListAge = 30 * time.Minute }, wantErr: ErrTrustListTooOld},
		{name: "list within MaxListAge", key: "a", setup: func(w *world) { w.v.MaxListAge = time.Hour }},
		{name: "other issuer's newest does not matter", key: "a", setup: func(w *world) { w.v.Newest = map[string]uint64{"cn-42": 5} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			w.v.Skew = tt.skew
			w.now = t0.Add(tt.now)
			key := map[string]ed25519.PrivateKey{"a": w.a, "b": w.b, "stranger": stranger}[tt.key]
			got, err := w.v.Verify(mustSign(t, key, c))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if got != nil {
					t.Errorf("Verify returned claims with an error")
				}
				wantCode := healthcode.EINVALID
				if tt.wantErr == ErrTrustListTooOld {
					wantCode = healthcode.ECONFLICT
				}
				if code, msg := healthcode.ErrorCode(err), healthcode.ErrorMessage(err); code != wantCode || msg != err.Error() {
					t.Errorf("ErrorCode, ErrorMessage = %q, %q; want %q, %q", code, msg, wantCode, err.Error())
				}
				return
			}
			if diff := cmp.Diff(c, *got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBitFlips flips every single bit of a valid token, in its binary form
// and in its text form, and expects every result to be refused.
func TestBitFlips(t *testing.T) {
	w := newWorld(t)
	text := mustSign(t, w.a, testClaims())
	if _, err := w.v.Verify(text); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	raw, err := base45Decode(nil, text[len(Prefix):])
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			_, err := w.v.Verify(Prefix + base45Encode(b))
			switch {
			case err == nil:
				t.Fatalf("flipping bit %d of byte %d was accepted", bit, i)
			case errors.Is(err, ErrMalformed):
				counts["malformed"]++
			case errors.Is(err, ErrBadSignature):
				counts["bad signature"]++
			case errors.Is(err, ErrUnknownKey):
				counts["unknown key"]++
			default:
				t.Fatalf("flipping bit %d of byte %d: unexpected error %v", bit, i, err)
			}
		}
	}
	for i := range text {
		for bit := 0; bit < 8; bit++ {
			b := []byte(text)
			b[i] ^= 1 << bit
			if _, err := w.v.Verify(string(b)); err == nil {
				t.Fatalf("flipping bit %d of character %d was accepted", bit, i)
			}
		}
	}
	t.Logf("binary flips refused as: %v", counts)
}

// TestRotationDrill walks through a key rotation and a revocation: tokens
// of the old key verify until they expire while the new key issues; after
// the old key is revoked, all of its tokens fail.
func TestRotationDrill(t *testing.T) {
	now := t0
	tk := mustKey(t, "trust-a")
	old, next := mustKey(t, "old"), mustKey(t, "new")
	v := &Verifier{Now: fixedClock(&now)}
	publish := func(version uint64, keys ...Key) {
		t.Helper()
		data, err := SignTrustList(tk, &TrustList{Issuer: "cn-41", Version: version, IssuedAt: now, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		tl, err := ParseTrustList(data, pub(tk))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Update(tl); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, text string, want error) {
		t.Helper()
		if _, err := v.Verify(text); !errors.Is(err, want) {
			t.Errorf("%s: Verify = %v, want %v", step, err, want)
		}
	}

	// Day 0: the old key is active.
	publish(1, trustKey(old, KeyActive, t0.Add(-time.Hour), time.Time{}))
	oldIssuer := NewIssuer(old, fixedClock(&now))
	r := Request{Subject: "r-1", Name: "李四", Colour: healthcode.Green, LogIndex: 1}
	beforeRotation, _, err := oldIssuer.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	check("old key active", beforeRotation, nil)

	// Rotation at t0+5m: the new key is published, the old one retired
	// with its window closed at the rotation time.
	now = t0.Add(5 * time.Minute)
	rotation := now
	publish(2,
		trustKey(old, KeyRetired, t0.Add(-time.Hour), rotation),
		trustKey(next, KeyActive, rotation, time.Time{}))
	newIssuer := NewIssuer(next, fixedClock(&now))
	afterRotation, _, err := newIssuer.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	check("old token after rotation", beforeRotation, nil)
	check("new token", afterRotation, nil)

	// A token the old key signs after its window closed is refused.
	now = rotation.Add(time.Second)
	late, _, err := oldIssuer.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	check("old key signing after retirement", late, ErrKeyWindow)

	// The old token expires at t0+15m (+ skew); the new one still verifies.
	now = t0.Add(DefaultValidity + DefaultSkew)
	check("old token expired", beforeRotation, ErrExpired)
	check("new token still valid", afterRotation, nil)

	// Replaying version 1 (old key active) is refused.
	data, _ := SignTrustList(tk, &TrustList{Issuer: "cn-41", Version: 1, IssuedAt: t0, Keys: []Key{trustKey(old, KeyActive, t0.Add(-time.Hour), time.Time{})}})
	tl1, _ := ParseTrustList(data, pub(tk))
	if err := v.Update(tl1); !errors.Is(err, ErrTrustListTooOld) {
		t.Errorf("Update(version 1) = %v, want ErrTrustListTooOld", err)
	}

	// Compromise: the old key is revoked; all its tokens fail at once,
	// even ones still inside their lifetime.
	now = t0.Add(time.Minute)
	publish(3,
		trustKey(old, KeyRevoked, t0.Add(-time.Hour), rotation),
		trustKey(next, KeyActive, rotation, time.Time{}))
	check("old token after revocation", beforeRotation, ErrRevokedKey)
	now = t0.Add(6 * time.Minute)
	check("new key unaffected", afterRotation, nil)
}

func TestPresigner(t *testing.T) {
	now := t0
	is := NewIssuer(mustKey(t, "a"), fixedClock(&now))
	p := NewPresigner(is, 5*time.Minute)
	r := Request{Subject: "r-1", Name: "王五", Colour: healthcode.Yellow, LogIndex: 9}
	if err := p.Presign(r); err != nil {
		t.Fatal(err)
	}
	first, c, err := p.Token(r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "王*" || !c.IssuedAt.Equal(t0) {
		t.Errorf("claims = %+v", c)
	}
	now = t0.Add(9 * time.Minute) // 6 minutes of validity left: reused
	if again, _, _ := p.Token(r); again != first {
		t.Errorf("token not reused while fresh")
	}
	now = t0.Add(10 * time.Minute) // exactly 5 minutes left: re-signed
	second, c2, _ := p.Token(r)
	if second == first || !c2.IssuedAt.Equal(now) {
		t.Errorf("stale token served")
	}
	// Another colour is another request.
	r2 := r
	r2.Colour = healthcode.Red
	red, c3, _ := p.Token(r2)
	if red == second || c3.Colour != healthcode.Red {
		t.Errorf("colour change served the old token")
	}
	// Rotation drops presigned tokens.
	p.SetIssuer(NewIssuer(mustKey(t, "b"), fixedClock(&now)))
	if n := p.Sweep(); n != 0 {
		t.Errorf("after SetIssuer %d tokens remain", n)
	}
	third, _, _ := p.Token(r)
	tok, _ := Parse(third)
	if tok.KeyID != KeyID(pub(mustKey(t, "b"))) {
		t.Errorf("token signed by old key after rotation")
	}
	now = now.Add(DefaultValidity)
	if n := p.Sweep(); n != 0 {
		t.Errorf("Sweep kept %d expired tokens", n)
	}
}

func TestTrustListRotateRevokePrune(t *testing.T) {
	old, next := mustKey(t, "old"), mustKey(t, "new")
	v1 := &TrustList{Issuer: "cn-41", Version: 1, IssuedAt: t0, Keys: []Key{trustKey(old, KeyActive, t0, time.Time{})}}
	at := t0.Add(time.Hour)
	v2, err := v1.Rotate(pub(next), at)
	if err != nil {
		t.Fatal(err)
	}
	want := &TrustList{Issuer: "cn-41", Version: 2, IssuedAt: at, Keys: []Key{
		trustKey(old, KeyRetired, t0, at), trustKey(next, KeyActive, at, time.Time{})}}
	if diff := cmp.Diff(want, v2); diff != "" {
		t.Errorf("Rotate (-want +got):\n%s", diff)
	}
	if v1.Keys[0].Status != KeyActive || v1.Version != 1 {
		t.Errorf("Rotate changed the original list")
	}
	if _, err := v2.Rotate(pub(next), at); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
		t.Errorf("Rotate to a listed key = %v, want ECONFLICT", err)
	}
	v3, err := v2.Revoke(KeyID(pub(old)), at)
	if err != nil || v3.Version != 3 || v3.Keys[0].Status != KeyRevoked || v2.Keys[0].Status != KeyRetired {
		t.Errorf("Revoke = %+v, %v", v3, err)
	}
	if _, err := v2.Revoke("0000000000000000", at); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
		t.Errorf("Revoke(unknown) = %v, want ENOTFOUND", err)
	}
	if p := v2.Prune(at.Add(MaxValidity)); len(p.Keys) != 2 {
		t.Errorf("Prune dropped a key whose tokens may be valid")
	}
	if p := v2.Prune(at.Add(MaxValidity + time.Second)); len(p.Keys) != 1 || p.Keys[0].ID != KeyID(pub(next)) || p.Version != 3 {
		t.Errorf("Prune = %+v", p)
	}
}

// TestConcurrentVerifyUpdate runs Verify while trust lists are updated;
// run with -race.
func TestConcurrentVerifyUpdate(t *testing.T) {
	w := newWorld(t)
	text := mustSign(t, w.a, testClaims())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(2); i < 50; i++ {
			l := *w.listB
			l.Version = i
			if err := w.v.Update(&l); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 50; i++ {
		if _, err := w.v.Verify(text); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
