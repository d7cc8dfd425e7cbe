package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/token"
)

// Signing keys (docs/token.md): token keys sign the health code tokens,
// the trust-list key signs our trust lists and our statement of the issuers
// we recognise. Private keys are stored sealed under the operator's secret
// (token.Seal); the store never holds the secret, callers pass it in.
// Every key change publishes the next version of our trust list in the
// same transaction as its log entry.

// Key purposes.
const (
	PurposeToken = "token" // signs tokens
	PurposeTrust = "trust" // signs trust lists
)

// DefaultIssuer is the issuer name of a new deployment's trust list when
// none is configured.
const DefaultIssuer = "cn-41"

// RotationOverlap is how long a rotated-out key may still sign after a
// rotation: its window closes this long after the new key's opens, so that
// servers that notice the rotation a few seconds late (they poll the store)
// do not sign tokens outside the old key's window.
const RotationOverlap = 30 * time.Second

// A StoredKey is a signing key's public part and status as stored.
type StoredKey struct {
	token.Key
	Purpose  string
	LogIndex int64
}

// EnsureKeys creates the trust-list key, the first token key and trust
// list version 1 if the database has no keys yet (each key a key.added
// entry); otherwise it does nothing. issuer names the deployment in its
// trust list (DefaultIssuer if empty); it is fixed when the keys are
// created. Returns EINVALID for a short secret or a bad issuer name,
// EFORBIDDEN unless the actor manages keys.
func (db *DB) EnsureKeys(ctx context.Context, secret []byte, issuer string) error {
	if err := healthcode.Authorize(healthcode.ActorFrom(ctx), healthcode.OpManageKeys, "", ""); err != nil {
		return err
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if len(secret) < token.MinSecretLen {
		return healthcode.Errorf(healthcode.EINVALID, "the key secret must be at least %d bytes", token.MinSecretLen)
	}
	var n int
	if err := db.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM trust_state").Scan(&n); err != nil {
		return fmt.Errorf("read trust state: %w", err)
	}
	if n > 0 {
		return nil
	}
	trustPub, trustPriv, err := ed25519.GenerateKey(db.rand)
	if err != nil {
		return fmt.Errorf("generate trust-list key: %w", err)
	}
	tokPub, tokPriv, err := ed25519.GenerateKey(db.rand)
	if err != nil {
		return fmt.Errorf("generate token key: %w", err)
	}
	trustSealed, err := token.Seal(secret, trustPriv, db.rand)
	if err != nil {
		return err
	}
	tokSealed, err := token.Seal(secret, tokPriv, db.rand)
	if err != nil {
		return err
	}
	actor := healthcode.ActorFrom(ctx)
	return db.write(ctx, func(t *Tx) error {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM trust_state").Scan(&n); err != nil {
			return err
		}
		if n > 0 { // another process created them meanwhile
			return nil
		}
		for _, k := range []struct {
			purpose string
			pub     ed25519.PublicKey
			sealed  []byte
		}{{PurposeTrust, trustPub, trustSealed}, {PurposeToken, tokPub, tokSealed}} {
			id := token.KeyID(k.pub)
			_, err := t.record(tlog.KindKeyAdded, actor, "", &evKeyAdded{
				ID: id, Purpose: k.purpose, PublicKey: fmt.Sprintf("%x", []byte(k.pub)), NotBefore: fmtTime(t.now),
			}, nil, sealedKey(k.sealed))
			if err := conflictOr(err, "key "+id+" already exists"); err != nil {
				return err
			}
		}
		tl := &token.TrustList{Issuer: issuer, Version: 1, IssuedAt: t.now}
		keys, err := t.tokenKeys()
		if err != nil {
			return err
		}
		for _, k := range keys {
			tl.Keys = append(tl.Keys, k.Key)
		}
		env, err := token.SignTrustList(trustPriv, tl)
		if err != nil {
			return err
		}
		rec, err := SignRecognition(trustPriv, &Recognition{Issuer: issuer, Version: 1, IssuedAt: t.now})
		if err != nil {
			return err
		}
		_, err = t.exec("INSERT INTO trust_state (id, issuer, version, envelope, recognition_version, recognition) VALUES (1, ?, 1, ?, 1, ?)",
			issuer, env, rec)
		return err
	})
}

// sealedKey is the fill function of a key's row: its sealed private key.
func sealedKey(sealed []byte) func(table string, cols []string, vals []any) {
	return func(table string, cols []string, vals []any) {
		if table == "token_keys" {
			setCol(cols, vals, "sealed", sealed)
		}
	}
}

// tokenKeys reads the token keys inside the transaction, oldest first.
func (t *Tx) tokenKeys() ([]StoredKey, error) {
	rows, err := t.query(`SELECT id, purpose, public_key, not_before, not_after, status, log_index
		FROM token_keys WHERE purpose = ? ORDER BY not_before, id`, PurposeToken)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	return scanKeys(rows)
}

func scanKeys(rows *sql.Rows) ([]StoredKey, error) {
	defer rows.Close()
	var ks []StoredKey
	for rows.Next() {
		var k StoredKey
		var pub []byte
		var nb, na string
		if err := rows.Scan(&k.ID, &k.Purpose, &pub, &nb, &na, &k.Status, &k.LogIndex); err != nil {
			return nil, err
		}
		k.Public = ed25519.PublicKey(pub)
		var err error
		if k.NotBefore, err = parseTime(nb); err != nil {
			return nil, err
		}
		if k.NotAfter, err = parseTime(na); err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, rows.Err()
}

// Keys returns every key, the trust-list key first, then the token keys
// oldest first.
func (db *DB) Keys(ctx context.Context) ([]StoredKey, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, purpose, public_key, not_before, not_after, status, log_index
		FROM token_keys ORDER BY CASE WHEN purpose = 'trust' THEN 0 ELSE 1 END, not_before, id`)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	return scanKeys(rows)
}

// ActiveKeyID returns the id of the active token key, cheaply, so servers
// can poll for rotations. Returns ENOTFOUND if there are no keys yet.
func (db *DB) ActiveKeyID(ctx context.Context) (string, error) {
	var id string
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id FROM token_keys WHERE purpose = ? AND status = ?"), PurposeToken, token.KeyActive).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", healthcode.Errorf(healthcode.ENOTFOUND, "no active token key: start the server once or run 'healthcode keys rotate'")
	}
	return id, err
}

// SigningKey opens the active token key with secret. Returns ENOTFOUND if
// there are no keys, EINVALID (wrapping token.ErrSealed) for a wrong
// secret.
func (db *DB) SigningKey(ctx context.Context, secret []byte) (ed25519.PrivateKey, string, error) {
	id, err := db.ActiveKeyID(ctx)
	if err != nil {
		return nil, "", err
	}
	priv, err := db.openKey(ctx, id, secret)
	return priv, id, err
}

func (db *DB) openKey(ctx context.Context, id string, secret []byte) (ed25519.PrivateKey, error) {
	var sealed []byte
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT sealed FROM token_keys WHERE id = ?"), id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no key %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", id, err)
	}
	priv, err := token.Open(secret, sealed)
	if err != nil {
		return nil, healthcode.Errorf(healthcode.EINVALID, "open key %s: %v (is HEALTHCODE_KEY_SECRET the secret the keys were sealed with?)", id, err)
	}
	return priv, nil
}

// trustPriv opens the trust-list key.
func (db *DB) trustPriv(ctx context.Context, secret []byte) (ed25519.PrivateKey, error) {
	var id string
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id FROM token_keys WHERE purpose = ?"), PurposeTrust).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no trust-list key: start the server once to create the keys")
	}
	if err != nil {
		return nil, fmt.Errorf("read trust-list key: %w", err)
	}
	return db.openKey(ctx, id, secret)
}

// RotateKey adds a new active token key and retires the active one, whose
// window closes RotationOverlap from now: tokens it signed keep verifying
// until they expire. The key.rotated entry and trust list version n+1
// commit together. Returns the new key; EFORBIDDEN, EINVALID (wrong
// secret), ENOTFOUND (no keys yet).
func (db *DB) RotateKey(ctx context.Context, secret []byte) (*token.Key, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageKeys, "", ""); err != nil {
		return nil, err
	}
	trustPriv, err := db.trustPriv(ctx, secret)
	if err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(db.rand)
	if err != nil {
		return nil, fmt.Errorf("generate token key: %w", err)
	}
	sealed, err := token.Seal(secret, priv, db.rand)
	if err != nil {
		return nil, err
	}
	id := token.KeyID(pub)
	var out *token.Key
	err = db.write(ctx, func(t *Tx) error {
		keys, err := t.tokenKeys()
		if err != nil {
			return err
		}
		var old []string
		for _, k := range keys {
			if k.Status == token.KeyActive {
				old = append(old, k.ID)
			}
		}
		closeAt := t.now.Add(RotationOverlap)
		version, err := t.nextTrustVersion()
		if err != nil {
			return err
		}
		_, err = t.record(tlog.KindKeyRotated, actor, "", &evKeyRotated{
			ID: id, PublicKey: fmt.Sprintf("%x", []byte(pub)), NotBefore: fmtTime(t.now),
			Retired: old, RetiredNotAfter: fmtTime(closeAt), TrustListVersion: version,
		}, nil, sealedKey(sealed))
		if err := conflictOr(err, "key "+id+" already exists"); err != nil {
			return err
		}
		if err := t.publishTrustList(trustPriv, version); err != nil {
			return err
		}
		out = &token.Key{ID: id, Public: pub, NotBefore: t.now, Status: token.KeyActive}
		return nil
	})
	return out, err
}

// RevokeKey revokes a token key: every token it signed is refused by
// verifiers holding the new trust list, published in the same transaction
// as the key.revoked entry. The active key cannot be revoked: rotate first.
// Returns ENOTFOUND, ECONFLICT (already revoked, or active), EFORBIDDEN,
// EINVALID (wrong secret).
func (db *DB) RevokeKey(ctx context.Context, secret []byte, id string) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageKeys, "", ""); err != nil {
		return err
	}
	trustPriv, err := db.trustPriv(ctx, secret)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		var status, purpose string
		err := t.queryRow("SELECT status, purpose FROM token_keys WHERE id = ?", id).Scan(&status, &purpose)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return healthcode.Errorf(healthcode.ENOTFOUND, "no key %q", id)
		case err != nil:
			return err
		case purpose != PurposeToken:
			return healthcode.Errorf(healthcode.EINVALID, "key %s is the trust-list key, not a token key", id)
		case status == token.KeyRevoked:
			return healthcode.Errorf(healthcode.ECONFLICT, "key %s is already revoked", id)
		case status == token.KeyActive:
			return healthcode.Errorf(healthcode.ECONFLICT, "key %s is the active key: rotate first ('healthcode keys rotate'), then revoke it", id)
		}
		version, err := t.nextTrustVersion()
		if err != nil {
			return err
		}
		if _, err := t.record(tlog.KindKeyRevoked, actor, "", &evKeyRevoked{ID: id, TrustListVersion: version}, nil, nil); err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
		return t.publishTrustList(trustPriv, version)
	})
}

func (t *Tx) nextTrustVersion() (uint64, error) {
	var v uint64
	err := t.queryRow("SELECT version FROM trust_state WHERE id = 1").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, healthcode.Errorf(healthcode.ENOTFOUND, "no keys yet: start the server once to create them")
	}
	return v + 1, err
}

// publishTrustList signs our trust list at version from the stored token
// keys and stores it.
func (t *Tx) publishTrustList(trustPriv ed25519.PrivateKey, version uint64) error {
	var issuer string
	if err := t.queryRow("SELECT issuer FROM trust_state WHERE id = 1").Scan(&issuer); err != nil {
		return fmt.Errorf("read trust state: %w", err)
	}
	keys, err := t.tokenKeys()
	if err != nil {
		return err
	}
	tl := &token.TrustList{Issuer: issuer, Version: version, IssuedAt: t.now}
	for _, k := range keys {
		tl.Keys = append(tl.Keys, k.Key)
	}
	env, err := token.SignTrustList(trustPriv, tl)
	if err != nil {
		return err
	}
	_, err = t.exec("UPDATE trust_state SET version = ?, envelope = ? WHERE id = 1", version, env)
	return err
}
