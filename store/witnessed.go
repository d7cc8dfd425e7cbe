package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/healthcode/healthcode"
	"time"
)

// LogWitnessed returns the newest checkpoint stored as meeting the
// server's witness policy (the log's signed checkpoint with the witnesses'
// cosignature lines), and when the policy was last met for it. It returns
// nil if none was stored.
func (db *DB) LogWitnessed(ctx context.Context) ([]byte, time.Time, error) {
	var signed []byte
	var at string
	err := db.db.QueryRowContext(ctx, "SELECT signed, quorum_at FROM log_witnessed WHERE id = 1").Scan(&signed, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read witnessed checkpoint: %w", err)
	}
	t, err := parseTime(at)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read witnessed checkpoint: %w", err)
	}
	return signed, t, nil
}

// SetLogWitnessed stores signed, a checkpoint of the given size whose
// cosignatures met the witness policy at quorumAt, unless a checkpoint of
// a larger size is stored already: what is served never goes back. The
// caller has verified signed (the log's signature and the cosignatures).
func (db *DB) SetLogWitnessed(ctx context.Context, size int64, signed []byte, quorumAt time.Time) error {
	_, err := db.wdb.ExecContext(ctx, db.dialect.rebind(`INSERT INTO log_witnessed (id, size, signed, quorum_at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET size = excluded.size, signed = excluded.signed, quorum_at = excluded.quorum_at
		WHERE log_witnessed.size <= excluded.size`), size, signed, fmtTime(quorumAt))
	if err != nil {
		return fmt.Errorf("store witnessed checkpoint: %w", err)
	}
	return nil
}

// RaiseWitnessAlert records an AlertWitness alert about policy (its
// description) with its alert.raised entry, unless one about it was raised
// since.
func (db *DB) RaiseWitnessAlert(ctx context.Context, policy string, since time.Time, detail map[string]any) error {
	return db.write(ctx, func(t *Tx) error { return t.alertOnce("", healthcode.AlertWitness, policy, "", since, detail) })
}
