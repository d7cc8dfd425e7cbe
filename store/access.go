package store

import (
	"context"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// recordAccess logs officials' reads of residents' data (data.accessed,
// one entry per resident) for the residents to see. limited reads count
// against the official's hourly limit (ETOOMANY beyond it); every read
// counts towards the bulk-read alert. Other actors' reads are not logged.
func (t *Tx) recordAccess(actor healthcode.Actor, residents []string, what string, limited bool) error {
	if actor.Kind != healthcode.ActorOfficial || len(residents) == 0 {
		return nil
	}
	since := t.now.Add(-time.Hour)
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM data_access WHERE official = ? AND at > ?", actor.ID, fmtTime(since)).Scan(&n); err != nil {
		return fmt.Errorf("count reads: %w", err)
	}
	lim := t.db.limits
	if limited && n+len(residents) > lim.ReadsPerHour {
		return healthcode.Errorf(healthcode.ETOOMANY, "you read %d residents' data in the last hour; the limit is %d: try later", n, lim.ReadsPerHour)
	}
	for _, id := range residents {
		if _, err := t.record(tlog.KindDataAccessed, actor, id, &evDataAccessed{Resident: id, What: what}, nil, nil); err != nil {
			return err
		}
	}
	if total := n + len(residents); n <= lim.BulkReadAlert && total > lim.BulkReadAlert {
		return t.alertOnce("", healthcode.AlertBulkReads, actor.ID, actor.Jurisdiction, since, map[string]any{
			"official": actor.ID, "post": actor.Jurisdiction, "reads_last_hour": total, "threshold": lim.BulkReadAlert,
		})
	}
	return nil
}

// AccessLog returns every read of the resident's personal data by an
// official, newest first: who, their post, when, what. The resident only.
// Returns EUNAUTH, EFORBIDDEN.
func (db *DB) AccessLog(ctx context.Context, residentID string, page int) ([]healthcode.Access, bool, error) {
	if err := healthcode.Authorize(healthcode.ActorFrom(ctx), healthcode.OpReadAccessLog, "", residentID); err != nil {
		return nil, false, err
	}
	limit, offset := pageBounds(page)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT d.log_index, d.at, d.official, d.post, d.what, COALESCE(o.name, ''), COALESCE(o.role, '')
		FROM data_access d LEFT JOIN officials o ON o.id = d.official WHERE d.resident = ? ORDER BY d.log_index DESC LIMIT ? OFFSET ?`), residentID, limit, offset)
	if err != nil {
		return nil, false, fmt.Errorf("read access log: %w", err)
	}
	defer rows.Close()
	out := []healthcode.Access{}
	for rows.Next() {
		var a healthcode.Access
		var at string
		a.By.Kind = healthcode.ActorOfficial
		if err := rows.Scan(&a.LogIndex, &at, &a.By.ID, &a.By.Post, &a.What, &a.By.Name, &a.By.Role); err != nil {
			return nil, false, err
		}
		a.At, _ = parseTime(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	out, more := cutPage(out)
	return out, more, nil
}
