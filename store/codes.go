package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/healthcode/healthcode"
)

// Code returns a resident's current code state, if the actor may read the
// resident (see Resident). A resident never evaluated is green since
// registration, citing the registration entry. Returns ENOTFOUND, EUNAUTH,
// EFORBIDDEN.
func (db *DB) Code(ctx context.Context, residentID string) (*healthcode.CodeState, error) {
	r, err := db.readResident(ctx, residentID, "code")
	if err != nil {
		return nil, err
	}
	return db.code(ctx, db.db, r.ID)
}

// code reads the code state without authorisation, checked against the
// log (checkCode): it returns an *IntegrityError, and no state, for a
// state that differs from the log.
func (db *DB) code(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, residentID string) (*healthcode.CodeState, error) {
	c := &healthcode.CodeState{Resident: residentID}
	var colour, since, factIDs, next string
	var head int64 // the resident's latest code.changed entry (code_heads), or -1
	err := q.QueryRowContext(ctx, db.dialect.rebind(`SELECT c.colour, c.since, c.ruleset, c.ruleset_version, c.rule, c.fact_ids, c.log_index, COALESCE(s.next_check, ''),
		COALESCE(h.log_index, -1) FROM codes c LEFT JOIN code_schedule s ON s.resident = c.resident LEFT JOIN code_heads h ON h.resident = c.resident
		WHERE c.resident = ?`), residentID).
		Scan(&colour, &since, &c.RuleSet, &c.RuleSetVersion, &c.Rule, &factIDs, &c.LogIndex, &next, &head)
	if errors.Is(err, sql.ErrNoRows) {
		var created string
		err := q.QueryRowContext(ctx, db.dialect.rebind(`SELECT r.created_at, r.log_index, COALESCE(h.log_index, -1) FROM residents r
			LEFT JOIN code_heads h ON h.resident = r.id WHERE r.id = ?`), residentID).Scan(&created, &c.LogIndex, &head)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no resident %q", residentID)
		}
		if err != nil {
			return nil, fmt.Errorf("read resident: %w", err)
		}
		c.Colour = healthcode.Green
		if c.Since, err = parseTime(created); err != nil {
			return nil, err
		}
		if err := db.checkCode(ctx, c, false, head); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read code: %w", err)
	}
	c.Colour = healthcode.Colour(colour)
	if c.Since, err = parseTime(since); err != nil {
		return nil, err
	}
	if c.NextCheck, err = parseTime(next); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(factIDs), &c.FactIDs); err != nil {
		return nil, fmt.Errorf("code of %s: fact ids: %w", residentID, err)
	}
	if err := db.checkCode(ctx, c, true, head); err != nil {
		return nil, err
	}
	return c, nil
}
