package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
)

// initIdentity loads the key under which national ID numbers are hashed
// (generated on a new database). The number itself is never stored.
func (db *DB) initIdentity(ctx context.Context) error {
	v, err := db.metaValue(ctx, "id_hmac_key", func() (string, error) {
		k := make([]byte, 32)
		if _, err := io.ReadFull(db.rand, k); err != nil {
			return "", err
		}
		if db.secret != nil {
			return sealIDKey(db.secret, k, db.rand)
		}
		return base64.StdEncoding.EncodeToString(k), nil
	})
	if err != nil {
		return err
	}
	db.idKey, err = db.openIDKey(v)
	return err
}

// HashNationalID returns the HMAC-SHA256 of a national ID number under the
// database's key: how a resident is found again without storing the number.
// It returns nil if the key is sealed and the store has no key secret.
func (db *DB) HashNationalID(id string) []byte {
	if db.idKey == nil {
		return nil
	}
	m := hmac.New(sha256.New, db.idKey)
	m.Write([]byte(id))
	return m.Sum(nil)
}
