package store

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
)

// This file holds the answers to creates made with an Idempotency-Key
// (IETF draft-ietf-httpapi-idempotency-key-header): the table
// idempotency_keys maps (actor, key) to the request's fingerprint and the
// answer given, written in the same transaction as the create, so that a
// client that lost the answer (a dropped connection, a crash after the
// commit) and retries gets the same answer, and nothing is created twice.

// IdempotencyTTL is how long a key's answer is kept: a retry after it is
// a new request.
const IdempotencyTTL = 24 * time.Hour

// A Claim is a request's Idempotency-Key, carried in the context
// (WithClaim) to the store method that creates. Only the methods whose
// doc comments say so honour it; the others ignore it.
type Claim struct {
	Key   string // the client's key
	Route string // the route, e.g. "POST /v1/appeals": a key is the actor's, whatever the route
	// Fingerprint is the request's hash (route, path and body): called
	// by the store method, on the request's goroutine, once the body has
	// been read.
	Fingerprint func() string
	// Answer encodes the store method's result as the answer to keep
	// (the HTTP status and body): called in the create's transaction.
	Answer func(result any) (status int, body []byte, err error)
}

type claimKey struct{}

// WithClaim returns ctx carrying c.
func WithClaim(ctx context.Context, c *Claim) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

func claimFrom(ctx context.Context) *Claim {
	c, _ := ctx.Value(claimKey{}).(*Claim)
	return c
}

// Replayed is the error a create made with a key committed before returns
// instead of creating again: the answer it gave then.
type Replayed struct {
	Status int
	Body   []byte
}

func (r *Replayed) Error() string {
	return fmt.Sprintf("replayed the answer (%d) to an earlier request with the same Idempotency-Key", r.Status)
}

// KeyReused is the error of a key used before for a different request
// (another route, path or body): nothing is done.
type KeyReused struct{ Key, Route string }

func (k *KeyReused) Error() string {
	return fmt.Sprintf("Idempotency-Key %q was used for a different request (%s) in the last %s: use a new key for a new request", k.Key, k.Route, IdempotencyTTL)
}

// StoredAnswer is what is kept for a key.
type StoredAnswer struct {
	Route       string
	Fingerprint string
	Status      int
	Body        []byte
}

// Check returns the error a request with fingerprint fp gets: *Replayed
// if it is the request that was answered, *KeyReused if not.
func (a *StoredAnswer) Check(key, fp string) error {
	if subtle.ConstantTimeCompare([]byte(a.Fingerprint), []byte(fp)) != 1 {
		return &KeyReused{Key: key, Route: a.Route}
	}
	return &Replayed{Status: a.Status, Body: bytes.Clone(a.Body)}
}

// actorKey names whose keys these are: the kind and id of the actor.
func actorKey(a healthcode.Actor) string { return string(a.Kind) + ":" + a.ID }

// IdempotentAnswer is the answer kept for the acting actor's key, or nil
// if there is none (never used, or expired).
func (db *DB) IdempotentAnswer(ctx context.Context, key string) (*StoredAnswer, error) {
	return db.storedAnswer(ctx, db.db, healthcode.ActorFrom(ctx), key, db.nowMs())
}

func (db *DB) storedAnswer(ctx context.Context, q queryer, actor healthcode.Actor, key string, now time.Time) (*StoredAnswer, error) {
	var a StoredAnswer
	err := q.QueryRowContext(ctx, db.dialect.rebind(`SELECT route, request_hash, status, body FROM idempotency_keys
		WHERE actor = ? AND idem_key = ? AND created_at >= ?`), actorKey(actor), key, fmtTime(now.Add(-IdempotencyTTL))).
		Scan(&a.Route, &a.Fingerprint, &a.Status, &a.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	return &a, nil
}

// writeKeyed is db.write for a create that honours a Claim in ctx. fn
// does the create and returns its result and the resident the answer is
// about, if any (an erasure deletes the answers about them).
// With a claim, the key is looked up first in the same transaction (so
// two requests with one key, on one replica or several, create once):
// a kept answer is returned as *Replayed (or *KeyReused) and fn does not
// run; otherwise fn's result, encoded by the claim, is kept with the key.
func (db *DB) writeKeyed(ctx context.Context, fn func(*Tx) (result any, subject string, err error)) error {
	c := claimFrom(ctx)
	if c == nil {
		return db.write(ctx, func(t *Tx) error {
			_, _, err := fn(t)
			return err
		})
	}
	actor := healthcode.ActorFrom(ctx)
	if actor.ID == "" {
		return healthcode.Errorf(healthcode.EUNAUTH, "log in to use an Idempotency-Key")
	}
	fp := c.Fingerprint()
	return db.write(ctx, func(t *Tx) error {
		kept, err := db.storedAnswer(t.ctx, t.tx, actor, c.Key, t.now)
		if err != nil {
			return err
		}
		if kept != nil {
			return kept.Check(c.Key, fp)
		}
		v, subject, err := fn(t)
		if err != nil {
			return err
		}
		status, body, err := c.Answer(v)
		if err != nil {
			return fmt.Errorf("encode the answer to keep: %w", err)
		}
		if body == nil {
			body = []byte{} // no body (204): the column is NOT NULL
		}
		// Keys expire: forget those past their day (an indexed range, a
		// few rows at a time), this key's own if it had expired.
		if _, err := t.exec("DELETE FROM idempotency_keys WHERE created_at < ?", fmtTime(t.now.Add(-IdempotencyTTL))); err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO idempotency_keys (actor, idem_key, route, request_hash, status, body, subject, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, actorKey(actor), c.Key, c.Route, fp, status, body, subject, fmtTime(t.now))
		return err
	})
}
