package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

var monitor = healthcode.Actor{Kind: healthcode.ActorSystem, ID: "monitor"}

// raiseAlert records an alert and its alert.raised entry. An alert
// concerning one resident (about: re-raises, a case's contacts, overdue
// appeals) is an entry about them (issue 15): its leaf keeps only the
// public view (viewAlertRaised: the alert kind and the detail fields in
// publicAlertDetail) and the resident's county, the rest is in its
// personal part, erased with theirs. Any other alert is public whole, so
// its subject, jurisdiction and detail must name no resident, case, fact
// or place finer than a county.
func (t *Tx) raiseAlert(about, kind, subject, jurisdiction string, detail map[string]any) error {
	return t.raiseAlertWith(about, kind, subject, jurisdiction, detail, nil)
}

// raiseAlertWith is raiseAlert for an alert about no resident with
// personal fields: private, if not nil, is the entry's personal part (the
// subject and detail fields its leaf must not show), which the alert's row
// holds with the rest.
func (t *Tx) raiseAlertWith(about, kind, subject, jurisdiction string, detail map[string]any, private *evAlertPersonal) error {
	var b [8]byte
	if _, err := io.ReadFull(t.db.rand, b[:]); err != nil {
		return fmt.Errorf("alert id: %w", err)
	}
	id := "a_" + hex.EncodeToString(b[:])
	d, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("alert detail: %w", err)
	}
	var pers any
	if private != nil {
		pers = private
	}
	_, err = t.record(tlog.KindAlertRaised, monitor, about, &evAlert{
		Alert: id, Kind: kind, Subject: subject, Jurisdiction: jurisdiction, Detail: d,
	}, pers, nil)
	return err
}

// alerted reports whether an alert of kind about subject was raised since.
func (t *Tx) alerted(kind, subject string, since time.Time) (bool, error) {
	var n int
	err := t.queryRow("SELECT COUNT(*) FROM alerts WHERE kind = ? AND subject = ? AND raised_at >= ?", kind, subject, fmtTime(since)).Scan(&n)
	return n > 0, err
}

// alertOnce raises an alert unless one of the same kind and subject was
// raised since.
func (t *Tx) alertOnce(about, kind, subject, jurisdiction string, since time.Time, detail map[string]any) error {
	done, err := t.alerted(kind, subject, since)
	if err != nil || done {
		return err
	}
	return t.raiseAlert(about, kind, subject, jurisdiction, detail)
}

// Alerts lists alerts, newest first, optionally of one kind. Auditors
// only. Returns EUNAUTH, EFORBIDDEN.
func (db *DB) Alerts(ctx context.Context, kind string, page int) ([]*healthcode.Alert, bool, error) {
	if err := healthcode.Authorize(healthcode.ActorFrom(ctx), healthcode.OpReadAlerts, "", ""); err != nil {
		return nil, false, err
	}
	q := "SELECT id, kind, subject, jurisdiction, detail, raised_at, log_index FROM alerts"
	var args []any
	if kind != "" {
		q += " WHERE kind = ?"
		args = append(args, kind)
	}
	limit, offset := pageBounds(page)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(q+" ORDER BY log_index DESC LIMIT ? OFFSET ?"), append(args, limit, offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []*healthcode.Alert{}
	for rows.Next() {
		a := &healthcode.Alert{}
		if err := rows.Scan(&a.ID, &a.Kind, &a.Subject, &a.Jurisdiction, jsonCol(&a.Detail), timeCol(&a.RaisedAt), &a.LogIndex); err != nil {
			return nil, false, fmt.Errorf("read alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	out, more := cutPage(out)
	return out, more, nil
}
