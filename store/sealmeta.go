package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/token"
)

// The log's signing key (meta.log_signer_key) and the national-ID HMAC key
// (meta.id_hmac_key) are sealed at rest under the key secret, with the
// same token.Seal as the token keys: both are 32-byte secrets, sealed as
// the seed of an Ed25519 key. Stored forms:
//
//	log_signer_key  SEALED+KEY+<origin>+<key hash>+<base64 sealed seed>
//	id_hmac_key     sealed:<base64 sealed key>
//
// Databases from before sealing hold them in clear ("PRIVATE+KEY+..." and
// plain base64); Open with a secret seals them in place (sealMeta). Without
// the secret a sealed database still opens for reading, but refuses to
// sign (ErrNoKeySecret).

// ErrNoKeySecret is wrapped by the errors of writes to a database whose log
// key is sealed when the store was opened without the key secret.
var ErrNoKeySecret error = healthcode.Errorf(healthcode.EUNAVAIL, "the log signing key is sealed and no key secret was given (set HEALTHCODE_KEY_SECRET)")

const (
	sealedSignerPrefix = "SEALED+KEY+"
	clearSignerPrefix  = "PRIVATE+KEY+"
	sealedIDPrefix     = "sealed:"
)

// sealSignerKey turns a note private key into its sealed stored form.
func sealSignerKey(secret []byte, skey string, rand interface{ Read([]byte) (int, error) }) (string, error) {
	name, hash, seed, err := splitSignerKey(skey)
	if err != nil {
		return "", err
	}
	sealed, err := token.Seal(secret, ed25519.NewKeyFromSeed(seed), rand)
	if err != nil {
		return "", fmt.Errorf("seal log key: %w", err)
	}
	return sealedSignerPrefix + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(sealed), nil
}

// splitSignerKey parses PRIVATE+KEY+name+hash+base64(0x01 || seed).
func splitSignerKey(skey string) (name, hash string, seed []byte, err error) {
	rest, ok := strings.CutPrefix(skey, clearSignerPrefix)
	parts := strings.SplitN(rest, "+", 3)
	if !ok || len(parts) != 3 {
		return "", "", nil, fmt.Errorf("log signer key: malformed")
	}
	b, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(b) != 1+ed25519.SeedSize || b[0] != 1 {
		return "", "", nil, fmt.Errorf("log signer key: malformed")
	}
	return parts[0], parts[1], b[1:], nil
}

// logSigner returns the signer for a stored log key, opening a sealed one
// with the store's secret. Without the secret, a sealed key gives a signer
// that refuses to sign with ErrNoKeySecret.
func (db *DB) logSigner(stored string) (note.Signer, error) {
	rest, sealed := strings.CutPrefix(stored, sealedSignerPrefix)
	if !sealed {
		return note.NewSigner(stored)
	}
	parts := strings.SplitN(rest, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("log signer key in %s: malformed sealed key", db.dsn)
	}
	if db.secret == nil {
		h, err := strconv.ParseUint(parts[1], 16, 32)
		if err != nil || len(parts[1]) != 8 {
			return nil, fmt.Errorf("log signer key in %s: malformed key hash %q in the sealed key", db.dsn, parts[1])
		}
		return refusingSigner{name: parts[0], hash: uint32(h)}, nil
	}
	blob, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("log signer key in %s: %w", db.dsn, err)
	}
	priv, err := token.Open(db.secret, blob)
	if err != nil {
		return nil, fmt.Errorf("open log signer key: %w", err)
	}
	skey := clearSignerPrefix + parts[0] + "+" + parts[1] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...))
	return note.NewSigner(skey)
}

// refusingSigner stands for a sealed log key opened without the secret.
type refusingSigner struct {
	name string
	hash uint32
}

func (s refusingSigner) Name() string    { return s.name }
func (s refusingSigner) KeyHash() uint32 { return s.hash }
func (s refusingSigner) Sign([]byte) ([]byte, error) {
	return nil, fmt.Errorf("sign checkpoint: %w", ErrNoKeySecret)
}

// sealIDKey seals a raw ID HMAC key into its stored form.
func sealIDKey(secret, key []byte, rand interface{ Read([]byte) (int, error) }) (string, error) {
	sealed, err := token.Seal(secret, ed25519.NewKeyFromSeed(key), rand)
	if err != nil {
		return "", fmt.Errorf("seal id key: %w", err)
	}
	return sealedIDPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// openIDKey returns the raw ID HMAC key of a stored value, or nil if it is
// sealed and the store has no secret.
func (db *DB) openIDKey(stored string) ([]byte, error) {
	rest, sealed := strings.CutPrefix(stored, sealedIDPrefix)
	if !sealed {
		k, err := base64.StdEncoding.DecodeString(stored)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("id_hmac_key in %s is damaged", db.dsn)
		}
		return k, nil
	}
	if db.secret == nil {
		return nil, nil
	}
	blob, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("id_hmac_key in %s is damaged", db.dsn)
	}
	priv, err := token.Open(db.secret, blob)
	if err != nil {
		return nil, fmt.Errorf("open id key: %w", err)
	}
	return priv.Seed(), nil
}

// sealMeta is the Go migration step run at Open when a secret is given: it
// seals a log signing key or ID HMAC key still stored in clear.
func (db *DB) sealMeta(ctx context.Context) error {
	if db.secret == nil {
		return nil
	}
	if len(db.secret) < token.MinSecretLen {
		return healthcode.Errorf(healthcode.EINVALID, "the key secret must be at least %d bytes", token.MinSecretLen)
	}
	rows, err := db.db.QueryContext(ctx, "SELECT key, value FROM meta WHERE key IN ('log_signer_key', 'id_hmac_key')")
	if err != nil {
		return fmt.Errorf("read keys to seal: %w", err)
	}
	todo := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		todo[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for k, v := range todo {
		var nv string
		switch {
		case k == "log_signer_key" && strings.HasPrefix(v, clearSignerPrefix):
			if nv, err = sealSignerKey(db.secret, v, db.rand); err != nil {
				return err
			}
		case k == "id_hmac_key" && !strings.HasPrefix(v, sealedIDPrefix):
			raw, err := db.openIDKey(v)
			if err != nil {
				return err
			}
			if nv, err = sealIDKey(db.secret, raw, db.rand); err != nil {
				return err
			}
		default:
			continue
		}
		if _, err := db.wdb.ExecContext(ctx, db.dialect.rebind("UPDATE meta SET value = ? WHERE key = ? AND value = ?"), nv, k, v); err != nil {
			return fmt.Errorf("seal %s: %w", k, err)
		}
		db.logger.Info("sealed key at rest", "key", k)
	}
	return nil
}

// CanSign reports whether the store can sign checkpoints, and so accept
// writes: ErrNoKeySecret if its log key is sealed and it has no secret.
func (db *DB) CanSign() error {
	if _, ok := db.log.signer.(refusingSigner); ok {
		return ErrNoKeySecret
	}
	return nil
}

// KeysInClear lists the secrets this database holds unsealed
// ("log_signer_key", "id_hmac_key"): those of a database created, and
// since opened, without the key secret. Anyone with a copy of such a
// database (a backup, a replica) can sign checkpoints under the published
// log key and invert the stored ID hashes. Opening it once with the key
// secret seals them (sealMeta).
func (db *DB) KeysInClear(ctx context.Context) ([]string, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT key, value FROM meta WHERE key IN ('log_signer_key', 'id_hmac_key') ORDER BY key DESC")
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if (k == "log_signer_key" && !strings.HasPrefix(v, sealedSignerPrefix)) || (k == "id_hmac_key" && !strings.HasPrefix(v, sealedIDPrefix)) {
			out = append(out, k)
		}
	}
	return out, rows.Err()
}
