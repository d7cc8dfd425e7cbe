package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
)

// A resident's inbox (the page /inbox) lists what concerns them: appeals
// decided, facts about them held for approval, code changes. Its items
// derive from the projection (ResidentAppeals, History); only how far the
// resident has read it is kept, in the operational table inbox_reads.

// InboxSeen returns when the acting resident last opened their inbox (the
// zero time if never). Returns EUNAUTH, EFORBIDDEN for anyone else.
func (db *DB) InboxSeen(ctx context.Context) (time.Time, error) {
	a, err := inboxOwner(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err = db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT seen_at FROM inbox_reads WHERE resident = ?"), a.ID).Scan(timeCol(&at))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("read inbox mark: %w", err)
	}
	return at, nil
}

// MarkInboxRead records that the acting resident has read their inbox up
// to at. Returns EUNAUTH, EFORBIDDEN for anyone else.
func (db *DB) MarkInboxRead(ctx context.Context, at time.Time) error {
	a, err := inboxOwner(ctx)
	if err != nil {
		return err
	}
	_, err = db.db.ExecContext(ctx, db.dialect.rebind(`INSERT INTO inbox_reads (resident, seen_at) VALUES (?, ?)
		ON CONFLICT (resident) DO UPDATE SET seen_at = excluded.seen_at`), a.ID, fmtTime(at))
	if err != nil {
		return fmt.Errorf("mark inbox read: %w", err)
	}
	return nil
}

func inboxOwner(ctx context.Context) (healthcode.Actor, error) {
	a := healthcode.ActorFrom(ctx)
	switch {
	case a.Kind == "":
		return a, healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	case a.Kind != healthcode.ActorResident:
		return a, healthcode.Errorf(healthcode.EFORBIDDEN, "only residents have an inbox")
	}
	return a, nil
}
