package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// Retention is how long the personal parts of facts are kept, per kind
// (issue 15 item 5): itinerary visits from their departure, test results
// and contacts from their observation. Zero keeps them.
type Retention struct {
	Visits   time.Duration
	Results  time.Duration
	Contacts time.Duration
}

// DefaultRetention is 14 days after departure for visits and 28 days for
// test results and contacts.
var DefaultRetention = Retention{Visits: 14 * 24 * time.Hour, Results: 28 * 24 * time.Hour, Contacts: 28 * 24 * time.Hour}

// Retain erases, as the system, the personal parts (evidence references,
// and personal parts kept in log_personal) of the facts whose retention
// ended at the store's clock: one log.erased entry per kind with cause
// "retention" and the number of parts, none when nothing was due. The
// facts' public parts and every code stay as they were. It returns how
// many parts it erased.
func (db *DB) Retain(ctx context.Context, r Retention) (int64, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind != healthcode.ActorSystem {
		return 0, healthcode.Errorf(healthcode.EFORBIDDEN, "only the system applies retention")
	}
	now := db.now().UTC()
	var total int64
	for _, k := range []struct {
		kind string
		keep time.Duration
	}{{rules.KindAreaVisit, r.Visits}, {rules.KindTestResult, r.Results}, {rules.KindContact, r.Contacts}} {
		if k.keep <= 0 {
			continue
		}
		cutoff := now.Add(-k.keep)
		// A visit's window ends at its departure, after its observation
		// (its arrival): select by observation, then check the departure.
		rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT uid, log_index, payload FROM facts
			WHERE kind = ? AND observed_at < ? AND (evidence <> '' OR length(evidence_salt) > 0 OR log_index IN (SELECT idx FROM log_personal))`),
			k.kind, fmtTime(cutoff))
		if err != nil {
			return total, fmt.Errorf("retention: %w", err)
		}
		type due struct {
			uid string
			idx int64
		}
		var dues []due
		for rows.Next() {
			var d due
			var payload string
			if err := rows.Scan(&d.uid, &d.idx, &payload); err != nil {
				rows.Close()
				return total, err
			}
			if k.kind == rules.KindAreaVisit {
				var v struct {
					DepartedAt time.Time `json:"departed_at"`
				}
				if json.Unmarshal([]byte(payload), &v) == nil && v.DepartedAt.After(cutoff) {
					continue
				}
			}
			dues = append(dues, d)
		}
		if err := rows.Close(); err != nil {
			return total, err
		}
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(dues) == 0 {
			continue
		}
		err = db.write(ctx, func(t *Tx) error {
			var n int64
			for _, d := range dues {
				// A v2 entry's personal part is the whole event (whom it
				// is about included): deleting it would leave the fact
				// unattributable, so retention clears only the fact row's
				// copy of the evidence, and the part goes with the
				// resident's erasure (a known gap: docs/log.md).
				var v2 int
				if err := t.queryRow("SELECT COUNT(*) FROM log_entries WHERE idx = ? AND substr(data, 1, 17) = ?", d.idx, []byte("healthcode/log/v2")).Scan(&v2); err != nil {
					return err
				}
				if v2 == 0 {
					res, err := t.exec("DELETE FROM log_personal WHERE idx = ?", d.idx)
					if err != nil {
						return err
					}
					m, _ := res.RowsAffected()
					n += m
				}
				if res, err := t.exec("UPDATE facts SET evidence = '', evidence_salt = ? WHERE uid = ? AND (evidence <> '' OR length(evidence_salt) > 0)", []byte{}, d.uid); err != nil {
					return err
				} else {
					m, _ := res.RowsAffected()
					n += m
				}
			}
			total += n
			_, err := t.record(tlog.KindLogErased, actor, "", &evLogErased{PersonalParts: n, Cause: "retention",
				Reason: fmt.Sprintf("%s facts kept %s", k.kind, k.keep)}, nil, nil)
			return err
		})
		if err != nil {
			return total, err
		}
	}
	if total > 0 {
		db.scrubFreedPages(ctx)
	}
	return total, nil
}
