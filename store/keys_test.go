package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/token"
	"github.com/healthcode/healthcode/verify"
)

var keySecret = []byte("correct horse battery staple")

var keysSystem = healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})

func mustKeyedDB(t *testing.T, dsn, issuer string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.EnsureKeys(keysSystem, keySecret, issuer); err != nil {
		t.Fatal(err)
	}
	return db
}

func mustTrustList(t *testing.T, db *store.DB) *token.TrustList {
	t.Helper()
	m, err := db.Trust(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tl, err := token.ParseTrustList(m.List, m.TrustKey)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Version != m.Version || tl.Issuer != m.Issuer {
		t.Fatalf("stored version %d issuer %s, list says %d %s", m.Version, m.Issuer, tl.Version, tl.Issuer)
	}
	return tl
}

func TestKeyRotationDrill(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustKeyedDB(t, dsn, "cn-41")
		ctx := context.Background()
		// Creating the keys again changes nothing.
		if err := db.EnsureKeys(keysSystem, keySecret, "cn-99"); err != nil {
			t.Fatal(err)
		}
		v1 := mustTrustList(t, db)
		if v1.Version != 1 || v1.Issuer != "cn-41" || len(v1.Keys) != 1 || v1.Keys[0].Status != token.KeyActive {
			t.Fatalf("first trust list: %+v", v1)
		}
		keys, err := db.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0].Purpose != store.PurposeTrust || keys[1].Purpose != store.PurposeToken {
			t.Fatalf("keys: %+v", keys)
		}

		// A token signed before the rotation.
		priv, oldID, err := db.SigningKey(ctx, keySecret)
		if err != nil {
			t.Fatal(err)
		}
		if oldID != v1.Keys[0].ID {
			t.Fatalf("signing key %s, list has %s", oldID, v1.Keys[0].ID)
		}
		before, _, err := token.NewIssuer(priv, time.Now).Issue(token.Request{Subject: "r_1", Name: "张三丰", Colour: healthcode.Green, LogIndex: 3})
		if err != nil {
			t.Fatal(err)
		}

		newKey, err := db.RotateKey(keysSystem, keySecret)
		if err != nil {
			t.Fatal(err)
		}
		v2 := mustTrustList(t, db)
		if v2.Version != 2 || v2.Key(oldID).Status != token.KeyRetired || v2.Key(newKey.ID).Status != token.KeyActive {
			t.Fatalf("after rotation: %+v", v2)
		}
		if id, _ := db.ActiveKeyID(ctx); id != newKey.ID {
			t.Errorf("active key %s, want %s", id, newKey.ID)
		}
		v := &token.Verifier{Lists: []*token.TrustList{v2}}
		if _, err := v.Verify(before); err != nil {
			t.Errorf("token from before the rotation: %v", err)
		}
		priv2, _, err := db.SigningKey(ctx, keySecret)
		if err != nil {
			t.Fatal(err)
		}
		after, _, err := token.NewIssuer(priv2, time.Now).Issue(token.Request{Subject: "r_1", Colour: healthcode.Red, LogIndex: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(after); err != nil {
			t.Errorf("token of the new key: %v", err)
		}

		// Revocation: the active key refuses; the old one goes.
		tests := []struct {
			name, id string
			ctx      context.Context
			secret   []byte
			code     string
		}{
			{"active key", newKey.ID, keysSystem, keySecret, healthcode.ECONFLICT},
			{"unknown key", "0000000000000000", keysSystem, keySecret, healthcode.ENOTFOUND},
			{"wrong secret", oldID, keysSystem, []byte("not the secret at all"), healthcode.EINVALID},
			{"resident", oldID, healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_1"}), keySecret, healthcode.EFORBIDDEN},
			{"public", oldID, ctx, keySecret, healthcode.EUNAUTH},
			{"old key", oldID, keysSystem, keySecret, ""},
			{"again", oldID, keysSystem, keySecret, healthcode.ECONFLICT},
		}
		for _, tt := range tests {
			err := db.RevokeKey(tt.ctx, tt.secret, tt.id)
			if got := healthcode.ErrorCode(err); err != nil && got != tt.code || err == nil && tt.code != "" {
				t.Errorf("%s: RevokeKey = %v, want code %q", tt.name, err, tt.code)
			}
		}
		v3 := mustTrustList(t, db)
		if v3.Version != 3 || v3.Key(oldID).Status != token.KeyRevoked {
			t.Fatalf("after revocation: %+v", v3)
		}
		if err := v.Update(v3); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(before); !errors.Is(err, token.ErrRevokedKey) {
			t.Errorf("token of the revoked key: %v, want ErrRevokedKey", err)
		}
		if _, err := v.Verify(after); err != nil {
			t.Errorf("token of the new key after revocation: %v", err)
		}
		// A verifier that has seen v3 refuses v2.
		if err := v.Update(v2); !errors.Is(err, token.ErrTrustListTooOld) {
			t.Errorf("rolling back to v2: %v", err)
		}
	})
}

func TestImportTrustList(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ours := mustKeyedDB(t, dsn, "cn-41")
		theirs := mustKeyedDB(t, testdb.SQLite(t), "cn-42")
		ctx := context.Background()
		tm, err := theirs.Trust(ctx)
		if err != nil {
			t.Fatal(err)
		}
		own, err := ours.Trust(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := ours.ImportTrustList(keysSystem, keySecret, tm.List, tm.TrustKey)
		if err != nil {
			t.Fatal(err)
		}
		if tl.Issuer != "cn-42" {
			t.Errorf("imported issuer %s", tl.Issuer)
		}
		m, err := ours.Trust(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := store.ParseRecognition(m.Recognition, m.TrustKey)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Issuer != "cn-41" || rec.Version != 2 || len(rec.Issuers) != 1 || rec.Issuers[0].Issuer != "cn-42" || !rec.Issuers[0].TrustKey.Equal(tm.TrustKey) {
			t.Errorf("recognition: %+v", rec)
		}
		if _, err := store.ParseRecognition(m.Recognition, tm.TrustKey); !errors.Is(err, token.ErrBadSignature) {
			t.Errorf("recognition under another key: %v", err)
		}
		got, pin, err := ours.ImportedTrustList(ctx, "cn-42")
		if err != nil || string(got) != string(tm.List) || !pin.Equal(tm.TrustKey) {
			t.Errorf("ImportedTrustList: %v", err)
		}
		// Their rotation, imported; then the old list again.
		if _, err := theirs.RotateKey(keysSystem, keySecret); err != nil {
			t.Fatal(err)
		}
		tm2, _ := theirs.Trust(ctx)
		tests := []struct {
			name string
			list []byte
			key  []byte
			code string
			is   error
		}{
			{"same list again", tm.List, tm.TrustKey, "", nil},
			{"newer list", tm2.List, tm.TrustKey, "", nil},
			{"older list", tm.List, tm.TrustKey, healthcode.ECONFLICT, token.ErrTrustListTooOld},
			{"wrong pin", tm2.List, own.TrustKey, healthcode.EINVALID, token.ErrBadSignature},
			{"our own list", own.List, own.TrustKey, healthcode.EINVALID, nil},
			{"garbage", []byte("{}"), tm.TrustKey, healthcode.EINVALID, token.ErrMalformed},
		}
		for _, tt := range tests {
			_, err := ours.ImportTrustList(keysSystem, keySecret, tt.list, tt.key)
			if got := healthcode.ErrorCode(err); err != nil && got != tt.code || err == nil && tt.code != "" {
				t.Errorf("%s: %v, want code %q", tt.name, err, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.is)
			}
		}
		m, _ = ours.Trust(ctx)
		if m.RecognitionVersion != 3 {
			t.Errorf("recognition version %d, want 3 (two imports that changed something)", m.RecognitionVersion)
		}
		rep, err := verify.Log(ctx, ours.VerifyView(), verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 {
			t.Errorf("log verify: %v", rep.Problems)
		}
	})
}
