package store

// Moving a log to a new origin: a database created before unique origins
// (with the shared healthcode.local/log) cannot be witnessed beside another
// province's, and an origin cannot change in place (the log key is named
// after it). The move writes a new database that continues the same tree
// under the new origin and a new key, and whose first entry under it cites
// the old origin's final checkpoint.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// MovedLog is the outcome of MoveOriginInto.
type MovedLog struct {
	FromOrigin string // the old origin, whose final checkpoint is cited
	FromKey    string // the old log key
	Origin     string // the new origin
	Key        string // the new log key, to publish
	Index      int64  // the log.continued entry: the old log's size
}

// MoveOriginInto writes a fresh database at dsn (an empty one, as for
// RebuildInto) that continues db's log under origin with a new log key
// (sealed under db's key secret if it has one): the entries, hashes and
// checkpoints are copied, the projection rebuilt, and then the first
// entry under the new origin, log.continued, cites the old origin's final
// checkpoint (the signed note text, with the old key). The tree is the
// same tree: every index, proof and hash chain stays valid, and the new
// log's tree of the old size has the cited root (VerifyLog checks it).
// db is only read; it must not grow during the move (stop its server).
//
// Returns EINVALID for a bad or unchanged origin or a non-empty dsn,
// ErrNoKeySecret if db's keys are sealed and it has no secret, ECONFLICT
// if db's log grew during the move.
func (db *DB) MoveOriginInto(ctx context.Context, dsn, origin string, progress func(phase string, done, total int64)) (moved *MovedLog, err error) {
	if origin == db.origin {
		return nil, healthcode.Errorf(healthcode.EINVALID, "the log's origin is already %q", origin)
	}
	skey, vkey, err := tlog.GenerateKey(db.rand, origin)
	if err != nil {
		return nil, healthcode.Errorf(healthcode.EINVALID, "bad origin %q: %v", origin, err)
	}
	if db.secret == nil {
		if err := db.CanSign(); err != nil {
			return nil, fmt.Errorf("seal the new log key: %w", err)
		}
	} else if skey, err = sealSignerKey(db.secret, skey, db.rand); err != nil {
		return nil, err
	}
	final, err := db.LogCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := tlog.OpenCheckpoint(final, db.log.verifier, db.origin)
	if err != nil {
		return nil, fmt.Errorf("the log's own checkpoint: %w", err)
	}
	if err := db.RebuildInto(ctx, dsn, progress); err != nil {
		return nil, err
	}
	if err := replaceLogKeys(ctx, dsn, final, skey, vkey); err != nil {
		return nil, err
	}
	nd, err := Open(ctx, dsn, Options{Now: db.now, Rand: db.rand, LogOrigin: origin, Logger: db.logger, Limits: db.limits, KeySecret: db.secret})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dsn, err)
	}
	defer func() {
		if cerr := nd.Close(); cerr != nil && err == nil {
			moved, err = nil, fmt.Errorf("close %s: %w", dsn, cerr)
		}
	}()
	payload := evLogContinued{FromOrigin: db.origin, FromKey: db.log.vkey, Checkpoint: string(final)}
	var idx int64
	err = nd.write(ctx, func(t *Tx) error {
		var err error
		idx, err = t.record(tlog.KindLogContinued, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "move-origin"}, "", &payload, nil, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append log.continued: %w", err)
	}
	if idx != cp.Size {
		return nil, fmt.Errorf("log.continued is entry %d, not %d", idx, cp.Size)
	}
	return &MovedLog{FromOrigin: db.origin, FromKey: db.log.vkey, Origin: origin, Key: vkey, Index: idx}, nil
}

// replaceLogKeys puts the new log key pair in the moved database at dsn,
// after checking that its copied head is the old log's final checkpoint.
func replaceLogKeys(ctx context.Context, dsn string, final []byte, skey, vkey string) (err error) {
	dst := &DB{closed: make(chan struct{}), logger: slog.New(slog.DiscardHandler)}
	if err := dst.open(ctx, dsn); err != nil {
		return err
	}
	defer func() {
		if cerr := dst.closeDBs(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", dsn, cerr)
		}
	}()
	tx, err := dst.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var head []byte
	if err := tx.QueryRowContext(ctx, "SELECT checkpoint FROM log_head WHERE id = 1").Scan(&head); err != nil {
		return fmt.Errorf("read the copied log head: %w", err)
	}
	if !bytes.Equal(head, final) {
		return healthcode.Errorf(healthcode.ECONFLICT, "the log grew during the move: stop its server, and move again into an empty database")
	}
	for _, kv := range [][2]string{{"log_signer_key", skey}, {"log_verifier_key", vkey}} {
		if _, err := tx.ExecContext(ctx, dst.dialect.rebind("UPDATE meta SET value = ? WHERE key = ?"), kv[1], kv[0]); err != nil {
			return fmt.Errorf("store the new log key: %w", err)
		}
	}
	return tx.Commit()
}

// logEra is the key that signed a log's checkpoints up to a size: the
// origin a log.continued entry at index Size moved from.
type logEra struct {
	Size     int64
	Origin   string
	Verifier note.Verifier
}

// checkContinued checks a log.continued entry at index idx: its cited
// checkpoint verifies under the old key and origin, has size idx, and
// the root of the tree of that size. It returns the era it closes.
func checkContinued(e *tlog.Entry, reader sumtlog.HashReader) (logEra, error) {
	var v evLogContinued
	if err := json.Unmarshal(e.Payload, &v); err != nil {
		return logEra{}, fmt.Errorf("payload: %w", err)
	}
	ver, err := note.NewVerifier(v.FromKey)
	if err != nil {
		return logEra{}, fmt.Errorf("from_key: %w", err)
	}
	cp, err := tlog.OpenCheckpoint([]byte(v.Checkpoint), ver, v.FromOrigin)
	if err != nil {
		return logEra{}, fmt.Errorf("the cited checkpoint does not verify with from_key: %w", err)
	}
	if cp.Size != e.Index {
		return logEra{}, fmt.Errorf("the cited checkpoint has size %d, but the entry is at index %d", cp.Size, e.Index)
	}
	root, err := sumtlog.TreeHash(cp.Size, reader)
	if err != nil || root != cp.Root {
		return logEra{}, fmt.Errorf("the cited checkpoint's root is not the tree's of size %d", cp.Size)
	}
	return logEra{Size: cp.Size, Origin: v.FromOrigin, Verifier: ver}, nil
}
