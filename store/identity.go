package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
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
		return base64.StdEncoding.EncodeToString(k), nil
	})
	if err != nil {
		return err
	}
	if db.idKey, err = base64.StdEncoding.DecodeString(v); err != nil || len(db.idKey) != 32 {
		return fmt.Errorf("id_hmac_key in %s is damaged", db.dsn)
	}
	return nil
}

// HashNationalID returns the HMAC-SHA256 of a national ID number under the
// database's key: how a resident is found again without storing the number.
func (db *DB) HashNationalID(id string) []byte {
	m := hmac.New(sha256.New, db.idKey)
	io.WriteString(m, id)
	return m.Sum(nil)
}
