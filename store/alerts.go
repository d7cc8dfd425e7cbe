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

// Alert kinds. Each fires when its count exceeds its threshold (Limits),
// once per subject per hour (once per case for AlertCaseContacts).
const (
	AlertOfficialVolume = "official_volume"      // one official's hand-entered raising facts in an hour above OfficialRaisesPerHour
	AlertSourceSurge    = "source_surge"         // a source's codes raised this hour far above its baseline
	AlertCaseContacts   = "case_contacts"        // residents citing one case above PlausibleContacts
	AlertBulkReads      = "bulk_reads"           // one official's personal-data reads in an hour above BulkReadAlert
	AlertAppealOverdue  = "appeal_overdue"       // an appeal passed its deadline undecided and escalated
	AlertReraise        = "reraise_after_appeal" // a raising fact recorded in the cooling period after a granted appeal
	AlertWitness        = "witness"              // the log's witness policy not met for longer than the server allows (RaiseWitnessAlert)
	AlertEvalFailed     = "evaluation_failed"    // a resident's evaluation failed under a ruleset version: skipped and recorded (evaluation.failed), once per version and hour
	AlertNearBound      = "facts_near_bound"     // a resident has three quarters of a kind's bound of facts within their windows; the subject is the origin that filed most
	AlertMassChange     = "mass_change"          // an approved ruleset's or designation's dry run changes more codes than Limits.MassChange; names both officials
	AlertJobFailed      = "job_failed"           // a job's run failed as a whole; it is retried later, the jobs behind it go on
)

// Alert is an anomaly for auditors, with its alert.raised entry.
type Alert struct {
	ID           string         `json:"id"`
	Kind         string         `json:"kind"`
	Subject      string         `json:"subject"` // the official, source, case, appeal or fact concerned
	Jurisdiction string         `json:"jurisdiction,omitempty"`
	Detail       map[string]any `json:"detail"`
	RaisedAt     time.Time      `json:"raised_at"`
	LogIndex     int64          `json:"log_index"`
}

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
func (db *DB) Alerts(ctx context.Context, kind string, page int) ([]*Alert, bool, error) {
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
	out := []*Alert{}
	for rows.Next() {
		a := &Alert{}
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
