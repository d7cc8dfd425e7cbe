package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/token"
)

// Trust material: our signed trust list, and the trust lists of the other
// issuers we recognise (互认), each pinned to its own trust-list key. An
// offline verifier that pins our trust-list key learns the others' pins
// from our signed Recognition statement, so it can verify both provinces'
// tokens.

// TrustMaterial is what a server publishes for verifiers.
type TrustMaterial struct {
	Issuer             string
	TrustKey           ed25519.PublicKey
	Version            uint64 // of our trust list
	List               []byte // our signed trust list (token.SignTrustList envelope)
	RecognitionVersion uint64
	Recognition        []byte // our signed Recognition statement
}

// Trust returns our trust material. Returns ENOTFOUND before the keys are
// created (EnsureKeys).
func (db *DB) Trust(ctx context.Context) (*TrustMaterial, error) {
	m := &TrustMaterial{}
	var pub []byte
	err := db.db.QueryRowContext(ctx, db.dialect.rebind(`SELECT s.issuer, s.version, s.envelope, s.recognition_version, s.recognition, k.public_key
		FROM trust_state s, token_keys k WHERE s.id = 1 AND k.purpose = ?`), PurposeTrust).
		Scan(&m.Issuer, &m.Version, &m.List, &m.RecognitionVersion, &m.Recognition, &pub)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no trust list yet: the signing keys have not been created")
	}
	if err != nil {
		if last := db.lastTrust.Load(); last != nil && unreachable(err) {
			// The database is restarting or cannot be reached: serve the
			// newest material read, signed and published before, so that
			// verifiers can go on fetching it.
			c := *last
			return &c, nil
		}
		return nil, fmt.Errorf("read trust state: %w", err)
	}
	m.TrustKey = ed25519.PublicKey(pub)
	// Remember the newest (concurrent reads finish in any order; what
	// is served while the database is down never goes back).
	for {
		last := db.lastTrust.Load()
		if last != nil && (last.Version > m.Version || last.Version == m.Version && last.RecognitionVersion >= m.RecognitionVersion) {
			break
		}
		c := *m
		if db.lastTrust.CompareAndSwap(last, &c) {
			break
		}
	}
	return m, nil
}

// ImportedTrustList returns the signed trust list imported for issuer and
// the trust-list key it is pinned to. Returns ENOTFOUND.
func (db *DB) ImportedTrustList(ctx context.Context, issuer string) ([]byte, ed25519.PublicKey, error) {
	var env, pub []byte
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT envelope, trust_key FROM trust_imports WHERE issuer = ?"), issuer).Scan(&env, &pub)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, healthcode.Errorf(healthcode.ENOTFOUND, "no trust list imported for issuer %q", issuer)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read imported trust list: %w", err)
	}
	return env, ed25519.PublicKey(pub), nil
}

// ImportTrustList adds (or updates) another issuer's signed trust list,
// verified against trustKey, the trust-list key pinned for that issuer, so
// that tokens it issued verify here; re-signs our Recognition statement;
// and logs a trust.imported entry, all in one transaction. Importing the
// same list again changes nothing. Returns EINVALID or the token package's
// errors for a list that does not verify, ECONFLICT for a list older than
// the one imported (token.ErrTrustListTooOld) or for a different list of the
// same version, EFORBIDDEN.
func (db *DB) ImportTrustList(ctx context.Context, secret, data []byte, trustKey ed25519.PublicKey) (*token.TrustList, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageKeys, "", ""); err != nil {
		return nil, err
	}
	tl, err := token.ParseTrustList(data, trustKey)
	if err != nil {
		return nil, err
	}
	trustPriv, err := db.trustPriv(ctx, secret)
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(t *Tx) error {
		var own string
		var recVersion uint64
		if err := t.queryRow("SELECT issuer, recognition_version FROM trust_state WHERE id = 1").Scan(&own, &recVersion); err != nil {
			return fmt.Errorf("read trust state: %w", err)
		}
		if tl.Issuer == own {
			return healthcode.Errorf(healthcode.EINVALID, "trust list of issuer %q is our own: import other issuers' lists", own)
		}
		var oldVersion uint64
		var oldEnv, oldKey []byte
		err := t.queryRow("SELECT version, envelope, trust_key FROM trust_imports WHERE issuer = ?", tl.Issuer).Scan(&oldVersion, &oldEnv, &oldKey)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case tl.Version < oldVersion:
			return fmt.Errorf("%w: %w", token.ErrTrustListTooOld, healthcode.Errorf(healthcode.ECONFLICT,
				"trust list too old: %s version %d is older than the imported version %d", tl.Issuer, tl.Version, oldVersion))
		case tl.Version == oldVersion && bytes.Equal(oldEnv, data) && bytes.Equal(oldKey, trustKey):
			return nil
		case tl.Version == oldVersion:
			return healthcode.Errorf(healthcode.ECONFLICT, "trust list %s version %d differs from the imported list of the same version", tl.Issuer, tl.Version)
		}
		if _, err := t.record(tlog.KindTrustImported, actor, "", &evTrustImported{
			Issuer: tl.Issuer, Version: tl.Version, TrustKey: hex.EncodeToString(trustKey),
			Keys: len(tl.Keys), RecognitionVersion: recVersion + 1,
		}, nil, func(table string, cols []string, vals []any) { setCol(cols, vals, "envelope", data) }); err != nil {
			return fmt.Errorf("store imported trust list: %w", err)
		}
		return t.publishRecognition(trustPriv, own, recVersion+1)
	})
	if err != nil {
		return nil, err
	}
	return tl, nil
}

func (t *Tx) publishRecognition(trustPriv ed25519.PrivateKey, own string, version uint64) error {
	rows, err := t.query("SELECT issuer, trust_key, version FROM trust_imports ORDER BY issuer")
	if err != nil {
		return err
	}
	r := &Recognition{Issuer: own, Version: version, IssuedAt: t.now}
	for rows.Next() {
		var ri RecognisedIssuer
		var pub []byte
		if err := rows.Scan(&ri.Issuer, &pub, &ri.Version); err != nil {
			rows.Close()
			return err
		}
		ri.TrustKey = ed25519.PublicKey(pub)
		r.Issuers = append(r.Issuers, ri)
	}
	if err := endRows(rows); err != nil {
		return err
	}
	data, err := SignRecognition(trustPriv, r)
	if err != nil {
		return err
	}
	_, err = t.exec("UPDATE trust_state SET recognition_version = ?, recognition = ? WHERE id = 1", version, data)
	return err
}

// A Recognition is an issuer's signed statement of the other issuers it
// recognises (互认), with the trust-list key pinned for each: a verifier
// that pins our trust-list key learns the others' pins from it. Signed
// like a trust list (an envelope of base64 payload, key id and Ed25519
// signature), under its own context string so neither can pass for the
// other.
type Recognition struct {
	Issuer   string // who recognises
	Version  uint64 // only grows
	IssuedAt time.Time
	Issuers  []RecognisedIssuer
}

// A RecognisedIssuer is one recognised issuer, its pinned trust-list key
// and the version of its list imported when the statement was signed.
type RecognisedIssuer struct {
	Issuer   string            `json:"issuer"`
	TrustKey ed25519.PublicKey `json:"trust_key"`
	Version  uint64            `json:"version"`
}

const recognitionContext = "healthcode recognition v1\x00"

type recognitionJSON struct {
	Issuer   string             `json:"issuer"`
	Version  uint64             `json:"version"`
	IssuedAt time.Time          `json:"issued_at"`
	Issuers  []RecognisedIssuer `json:"recognises"`
}

type signedEnvelope struct {
	Payload   string `json:"payload"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

// SignRecognition signs r with our trust-list key.
func SignRecognition(priv ed25519.PrivateKey, r *Recognition) ([]byte, error) {
	j := recognitionJSON{Issuer: r.Issuer, Version: r.Version, IssuedAt: r.IssuedAt.UTC().Truncate(time.Second), Issuers: r.Issuers}
	if j.Issuers == nil {
		j.Issuers = []RecognisedIssuer{}
	}
	payload, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("sign recognition: %w", err)
	}
	sig := ed25519.Sign(priv, append([]byte(recognitionContext), payload...))
	out, err := json.MarshalIndent(signedEnvelope{
		Payload:   base64.StdEncoding.EncodeToString(payload),
		KeyID:     token.KeyID(priv.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(sig),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ParseRecognition verifies a signed Recognition against the pinned
// trust-list key of its issuer and decodes it. Errors wrap
// token.ErrMalformed or token.ErrBadSignature.
func ParseRecognition(data []byte, trustKey ed25519.PublicKey) (*Recognition, error) {
	bad := func(sentinel error, format string, args ...any) error {
		return fmt.Errorf("%w: %w", sentinel, healthcode.Errorf(healthcode.EINVALID, "recognition statement: "+format, args...))
	}
	var env signedEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, bad(token.ErrMalformed, "%v", err)
	}
	payload, err1 := base64.StdEncoding.Strict().DecodeString(env.Payload)
	sig, err2 := base64.StdEncoding.Strict().DecodeString(env.Signature)
	if err1 != nil || err2 != nil || len(sig) != ed25519.SignatureSize {
		return nil, bad(token.ErrMalformed, "bad base64 or signature length")
	}
	if len(trustKey) != ed25519.PublicKeySize || env.KeyID != token.KeyID(trustKey) {
		return nil, bad(token.ErrBadSignature, "signed by key %q, not the pinned trust-list key", env.KeyID)
	}
	if !ed25519.Verify(trustKey, append([]byte(recognitionContext), payload...), sig) {
		return nil, bad(token.ErrBadSignature, "bad signature")
	}
	var j recognitionJSON
	pd := json.NewDecoder(bytes.NewReader(payload))
	pd.DisallowUnknownFields()
	if err := pd.Decode(&j); err != nil {
		return nil, bad(token.ErrMalformed, "%v", err)
	}
	for _, ri := range j.Issuers {
		if len(ri.TrustKey) != ed25519.PublicKeySize || ri.Issuer == "" {
			return nil, bad(token.ErrMalformed, "recognised issuer %q has no valid trust-list key", ri.Issuer)
		}
	}
	return &Recognition{Issuer: j.Issuer, Version: j.Version, IssuedAt: j.IssuedAt.UTC(), Issuers: j.Issuers}, nil
}
