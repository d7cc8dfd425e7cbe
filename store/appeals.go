package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// FileAppeal files an appeal against a resident's code: by the resident,
// or by a community worker whose post covers the resident's home (with a
// consent reference, or the resident confirms with ConsentAppeal); at most
// healthcode.MaxOpenAppeals undecided appeals per resident. The decisions
// are healthcode.PrepareAppeal and DecideFiling. It honours an
// Idempotency-Key (WithClaim): the answer is the appeal as filed. Returns
// EUNAUTH, EFORBIDDEN, ENOTFOUND, EINVALID, ECONFLICT, or *Replayed /
// *KeyReused.
func (db *DB) FileAppeal(ctx context.Context, req healthcode.AppealRequest) (*healthcode.Appeal, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "log in to file an appeal")
	}
	if len(req.Resident) > 128 {
		return nil, healthcode.FieldErrorf("resident", "is longer than 128 bytes")
	}
	r, err := db.resident(ctx, req.Resident)
	if healthcode.ErrorCode(err) == healthcode.ENOTFOUND && actor.Kind != healthcode.ActorSystem {
		return nil, healthcode.Errorf(healthcode.EFORBIDDEN, "not allowed")
	}
	if err != nil {
		return nil, err
	}
	req, err = healthcode.PrepareAppeal(actor, r, req)
	if err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := io.ReadFull(db.rand, b[:]); err != nil {
		return nil, fmt.Errorf("appeal id: %w", err)
	}
	id := "ap_" + hex.EncodeToString(b[:])
	err = db.writeKeyed(ctx, func(t *Tx) (any, string, error) {
		st, err := t.filingState(r.ID, req.FactKeys)
		if err != nil {
			return nil, "", err
		}
		f, err := healthcode.DecideFiling(actor, r, req, st, db.limits.AppealDeadline, t.now)
		if err != nil {
			return nil, "", err
		}
		if err := t.recordFiling(actor, id, r.ID, f, req.Statement); err != nil {
			return nil, "", err
		}
		a, err := db.appeal(t.ctx, t.tx, id)
		return a, r.ID, err
	})
	if err != nil {
		return nil, err
	}
	return db.appeal(ctx, db.db, id)
}

// filingState reads what filing an appeal decides on: the resident's
// undecided appeals and the disputed facts.
func (t *Tx) filingState(resident string, keys []string) (healthcode.FilingState, error) {
	st := healthcode.FilingState{Facts: map[string]healthcode.DisputedFact{}}
	if err := t.queryRow("SELECT COUNT(*) FROM appeals WHERE resident = ? AND status IN (?, ?)", resident, healthcode.AppealOpen, healthcode.AppealAwaitingConsent).Scan(&st.Undecided); err != nil {
		return st, fmt.Errorf("count undecided appeals: %w", err)
	}
	for _, k := range keys {
		f, err := t.disputedFact(k)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return st, err
		}
		st.Facts[k] = f
	}
	return st, nil
}

// disputedFact reads what an appeal's decisions need of a fact.
func (t *Tx) disputedFact(key string) (healthcode.DisputedFact, error) {
	var f healthcode.DisputedFact
	err := t.queryRow("SELECT subject, status, recorded_by, approved_by FROM facts WHERE uid = ?", key).Scan(&f.Subject, &f.Status, &f.RecordedBy, &f.ApprovedBy)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("read disputed fact %s: %w", key, err)
	}
	return f, err
}

// recordFiling appends a filing's appeal.filed entry (which projects the
// appeal and its attachments' rows).
func (t *Tx) recordFiling(actor healthcode.Actor, id, resident string, f *healthcode.AppealFiling, statement string) error {
	var deadline string
	if !f.Deadline.IsZero() {
		deadline = fmtTime(f.Deadline)
	}
	hashes := make([]evAttachment, len(f.Attachments))
	names := make([]string, len(f.Attachments))
	for i, a := range f.Attachments {
		hashes[i] = evAttachment{SHA256: a.SHA256, Size: int64(a.Size)}
		names[i] = a.Name
	}
	n := 0
	_, err := t.record(tlog.KindAppealFiled, actor, resident, &evAppealFiled{
		Appeal: id, Resident: resident, Facts: f.Facts, Status: f.Status, Assigned: f.Assigned, Deadline: deadline, Attachments: hashes,
	}, &evAppealFiledPersonal{Statement: statement, AttachmentNames: names, ConsentRef: consentRef(f.Consent)},
		func(table string, cols []string, vals []any) {
			if table == "appeal_attachments" {
				setCol(cols, vals, "media_type", f.Attachments[n].MediaType)
				setCol(cols, vals, "data", f.Attachments[n].Data)
				n++
			}
		})
	return err
}

// consentRef is the consent reference an appeal's consent column holds,
// if any: the one its appeal.filed entry logs.
func consentRef(consent string) string {
	if ref, ok := strings.CutPrefix(consent, "ref:"); ok {
		return ref
	}
	return ""
}

// ConsentAppeal is the resident confirming, in their own session, an
// appeal a community worker filed for them; the deadline starts then.
// Returns EUNAUTH, EFORBIDDEN, ENOTFOUND, ECONFLICT.
func (db *DB) ConsentAppeal(ctx context.Context, id string) (*healthcode.Appeal, error) {
	actor := healthcode.ActorFrom(ctx)
	err := db.write(ctx, func(t *Tx) error {
		a, err := db.appeal(t.ctx, t.tx, id)
		if err != nil {
			return err
		}
		deadline, err := healthcode.DecideConsent(actor, a, db.limits.AppealDeadline, t.now)
		if err != nil || deadline == nil {
			return err // a refusal, or a retry (its answer lost after the commit): the same answer, nothing recorded
		}
		_, err = t.record(tlog.KindAppealConsented, actor, a.Resident, &evAppealConsented{Appeal: id, Deadline: fmtTime(*deadline)}, nil, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return db.appeal(ctx, db.db, id)
}

// DecideAppeal grants or denies an open appeal. The decider is a command
// officer whose post covers the appeal's assigned jurisdiction. Granting
// retracts the disputed facts (cause appeal) and re-evaluates the code at
// once; denying needs a written reason. Returns EUNAUTH, EFORBIDDEN,
// ENOTFOUND, ECONFLICT, EINVALID.
func (db *DB) DecideAppeal(ctx context.Context, id string, grant bool, reason string) (*healthcode.Appeal, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.CheckAppealDecision(grant, reason); err != nil {
		return nil, err
	}
	err := db.write(ctx, func(t *Tx) error {
		a, err := db.appeal(t.ctx, t.tx, id)
		if err != nil {
			return err
		}
		facts := map[string]healthcode.DisputedFact{}
		for _, k := range a.FactKeys {
			f, err := t.disputedFact(k)
			if err != nil {
				return err
			}
			facts[k] = f
		}
		d, err := healthcode.DecideAppeal(actor, a, facts, grant, reason)
		if err != nil || d == nil {
			return err // a refusal, or a retry of this very decision (its answer lost after the commit): the same answer, nothing recorded
		}
		var personal any
		if d.Reason != "" {
			personal = &evAppealDecidedPersonal{Reason: d.Reason}
		}
		if _, err := t.record(tlog.KindAppealDecided, actor, a.Resident, &evAppealDecided{Appeal: id, Decision: d.Decision, Facts: d.Facts}, personal, nil); err != nil {
			return err
		}
		for _, k := range d.Retract {
			f, _, err := db.fact(t.ctx, t.tx, k)
			if err != nil {
				return err
			}
			if err := healthcode.Retractable(f); err != nil {
				return err
			}
			if err := t.retract(actor, f, "appeal "+id+" granted", CauseAppeal); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.appeal(ctx, db.db, id)
}

// EscalateOverdue escalates every open appeal past its deadline to the
// parent jurisdiction's command, with a new deadline, an appeal.escalated
// entry and an appeal_overdue alert. The scheduler runs it; it returns how
// many appeals escalated.
func (db *DB) EscalateOverdue(ctx context.Context) (int, error) {
	var due int
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT COUNT(*) FROM appeals WHERE status = ? AND deadline <= ?"),
		healthcode.AppealOpen, fmtTime(db.nowMs())).Scan(&due); err != nil || due == 0 {
		return 0, err // nothing due: no write transaction
	}
	n := 0
	err := db.write(ctx, func(t *Tx) error {
		ids, err := t.queryStrings("SELECT id FROM appeals WHERE status = ? AND deadline <= ? ORDER BY deadline, id", healthcode.AppealOpen, fmtTime(t.now))
		if err != nil {
			return err
		}
		sched := healthcode.Actor{Kind: healthcode.ActorSystem, ID: "scheduler"}
		for _, id := range ids {
			a, err := db.appeal(t.ctx, t.tx, id)
			if err != nil {
				return err
			}
			e := healthcode.DecideEscalation(a, db.limits.AppealDeadline, t.now)
			if e == nil {
				continue
			}
			if _, err := t.record(tlog.KindAppealEscalated, sched, a.Resident, &evAppealEscalated{Appeal: id, From: e.From, To: e.To, Deadline: fmtTime(e.Deadline)}, nil, nil); err != nil {
				return err
			}
			if err := t.raiseAlert(a.Resident, healthcode.AlertAppealOverdue, id, e.From, map[string]any{
				"appeal": id, "deadline": fmtTime(e.Missed), "escalated_from": e.From, "escalated_to": e.To,
			}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// Appeal returns one appeal with every step: to the resident, a community
// worker covering them, or a command officer covering them or the
// appeal's assigned jurisdiction (officials' reads are logged).
// Returns EUNAUTH, EFORBIDDEN, ENOTFOUND.
func (db *DB) Appeal(ctx context.Context, id string) (*healthcode.Appeal, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	}
	a, err := db.appeal(ctx, db.db, id)
	if err != nil {
		return nil, err
	}
	var home string
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT home FROM appeals WHERE id = ?"), id).Scan(&home); err != nil {
		return nil, fmt.Errorf("read appeal %s: %w", id, err)
	}
	if err := healthcode.Authorize(actor, healthcode.OpReadAppeal, home, a.Resident); err != nil {
		if healthcode.Authorize(actor, healthcode.OpReadAppeal, a.Assigned, a.Resident) != nil {
			return nil, err
		}
	}
	if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, []string{a.Resident}, "appeal", true) }); err != nil {
		return nil, err
	}
	return a, nil
}

// ResidentAppeals returns a resident's appeals, newest first, and the
// resident's pending facts (held for approval), for the resident, a
// community worker or command officer covering them (officials' reads are
// logged). Returns EUNAUTH, EFORBIDDEN, ENOTFOUND.
func (db *DB) ResidentAppeals(ctx context.Context, residentID string) ([]*healthcode.Appeal, []healthcode.PendingFact, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return nil, nil, healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	}
	r, err := db.resident(ctx, residentID)
	if err != nil {
		return nil, nil, err
	}
	if err := healthcode.Authorize(actor, healthcode.OpReadAppeal, r.Jurisdiction, r.ID); err != nil {
		return nil, nil, err
	}
	if !readLogged(ctx, r.ID) {
		if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, []string{r.ID}, "appeals", true) }); err != nil {
			return nil, nil, err
		}
	}
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT id FROM appeals WHERE resident = ? ORDER BY filed_at DESC, id"), residentID)
	if err != nil {
		return nil, nil, err
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, nil, err
	}
	out := []*healthcode.Appeal{}
	for _, id := range ids {
		a, err := db.appeal(ctx, db.db, id)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, a)
	}
	pending, err := db.pendingAbout(ctx, residentID)
	return out, pending, err
}

func (db *DB) pendingAbout(ctx context.Context, resident string) ([]healthcode.PendingFact, error) {
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT f.uid, f.kind, f.recorded_at, f.recorded_by, COALESCE(h.approval_scope, ''), COALESCE(h.why, ''), f.log_index
		FROM facts f LEFT JOIN fact_holds h ON h.fact = f.uid WHERE f.subject = ? AND f.status = 'pending' ORDER BY f.log_index`), resident)
	out := []healthcode.PendingFact{}
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		p := healthcode.PendingFact{RecordedBy: healthcode.Party{Kind: healthcode.ActorOfficial}}
		if err := rows.Scan(&p.Key, &p.Kind, timeCol(&p.RecordedAt), &p.RecordedBy.ID, &p.ApprovalScope, &p.Why, &p.LogIndex); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read pending facts: %w", err)
	}
	for i := range out {
		out[i].RecordedBy = db.party(ctx, healthcode.ActorOfficial, out[i].RecordedBy.ID)
	}
	return out, nil
}

// AppealQueue lists appeals of a status (default open) that the command
// officer may decide, soonest deadline first (the residents shown are
// logged as read). Returns EUNAUTH, EFORBIDDEN, EINVALID.
func (db *DB) AppealQueue(ctx context.Context, status string, page int) ([]*healthcode.Appeal, bool, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpDecideAppeal, actor.Jurisdiction, ""); err != nil {
		return nil, false, err
	}
	if status == "" {
		status = healthcode.AppealOpen
	}
	if !slices.Contains([]string{healthcode.AppealAwaitingConsent, healthcode.AppealOpen, healthcode.AppealGranted, healthcode.AppealDenied}, status) {
		return nil, false, healthcode.FieldErrorf("status", "unknown status %q", status)
	}
	// The appeals assigned within the officer's jurisdiction (Covers: the
	// assigned code begins with the jurisdiction's prefix).
	limit, offset := pageBounds(page)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT id, assigned FROM appeals WHERE status = ? AND assigned LIKE ? ORDER BY deadline, filed_at, id LIMIT ? OFFSET ?"),
		status, healthcode.CodePrefix(actor.Jurisdiction)+"%", limit, offset)
	var ids []string
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var id, assigned string
		if err := rows.Scan(&id, &assigned); err != nil {
			return err
		}
		if healthcode.Covers(actor.Jurisdiction, assigned) {
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		return nil, false, fmt.Errorf("read appeal queue: %w", err)
	}
	ids, more := cutPage(ids)
	out := []*healthcode.Appeal{}
	var shown []string
	for _, id := range ids {
		a, err := db.appeal(ctx, db.db, id)
		if err != nil {
			return nil, false, err
		}
		out = append(out, a)
		shown = append(shown, a.Resident)
	}
	if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, uniq(shown), "appeal_queue", false) }); err != nil {
		return nil, false, err
	}
	return out, more, nil
}

// AttachmentData returns an attachment's bytes, for whoever may read the
// appeal (Appeal's rules; logged). Returns EUNAUTH, EFORBIDDEN, ENOTFOUND.
func (db *DB) AttachmentData(ctx context.Context, id string, n int) (*healthcode.Attachment, error) {
	if _, err := db.Appeal(ctx, id); err != nil {
		return nil, err
	}
	var a healthcode.Attachment
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT name, media_type, sha256, size, data FROM appeal_attachments WHERE appeal = ? AND n = ?"), id, n).
		Scan(&a.Name, &a.MediaType, &a.SHA256, &a.Size, &a.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "appeal %s has no attachment %d", id, n)
	}
	return &a, err
}

type queryer interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// appeal reads an appeal with its attachments' descriptions and steps.
func (db *DB) appeal(ctx context.Context, q queryer, id string) (*healthcode.Appeal, error) {
	a := &healthcode.Appeal{ID: id}
	var filedBy, filedKind string
	var deadline time.Time
	err := q.QueryRowContext(ctx, db.dialect.rebind(`SELECT resident, status, fact_keys, statement, filed_by, filed_by_kind, consent, filed_at, deadline, assigned, escalations, reason, log_index
		FROM appeals WHERE id = ?`), id).Scan(&a.Resident, &a.Status, jsonCol(&a.FactKeys), &a.Statement, &filedBy, &filedKind, &a.Consent, timeCol(&a.FiledAt), timeCol(&deadline), &a.Assigned, &a.Escalations, &a.Reason, &a.LogIndex)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no appeal %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read appeal %s: %w", id, err)
	}
	if !deadline.IsZero() && (a.Status == healthcode.AppealOpen || a.Status == healthcode.AppealAwaitingConsent) {
		a.Deadline = &deadline
	}
	a.FiledBy = healthcode.Party{Kind: filedKind, ID: filedBy}
	if err := q.QueryRowContext(ctx, db.dialect.rebind("SELECT name FROM residents WHERE id = ?"), a.Resident).Scan(&a.ResidentName); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read appeal %s: resident: %w", id, err)
	}
	a.Attachments = []healthcode.Attachment{}
	rows, err := q.QueryContext(ctx, db.dialect.rebind("SELECT name, media_type, sha256, size FROM appeal_attachments WHERE appeal = ? ORDER BY n"), id)
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var at healthcode.Attachment
		if err := rows.Scan(&at.Name, &at.MediaType, &at.SHA256, &at.Size); err != nil {
			return err
		}
		a.Attachments = append(a.Attachments, at)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read appeal %s attachments: %w", id, err)
	}
	a.Steps = []healthcode.AppealStep{{Kind: string(tlog.KindAppealFiled), At: a.FiledAt, By: a.FiledBy, LogIndex: a.LogIndex}}
	rows, err = q.QueryContext(ctx, db.dialect.rebind("SELECT log_index, kind, actor, post, detail, at FROM appeal_steps WHERE appeal = ? ORDER BY log_index"), id)
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var s healthcode.AppealStep
		var actor string
		if err := rows.Scan(&s.LogIndex, &s.Kind, &actor, &s.By.Post, &s.Detail, timeCol(&s.At)); err != nil {
			return err
		}
		s.By.Kind, s.By.ID, _ = strings.Cut(actor, ":")
		a.Steps = append(a.Steps, s)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read appeal %s steps: %w", id, err)
	}
	// Names of the officials involved (outside the transaction's reads is
	// fine: officials are never deleted).
	if q == db.db {
		if a.FiledBy.Kind == healthcode.ActorOfficial {
			a.FiledBy = db.party(ctx, healthcode.ActorOfficial, a.FiledBy.ID)
			a.Steps[0].By = a.FiledBy
		}
		for i := range a.Steps {
			if a.Steps[i].By.Kind == healthcode.ActorOfficial {
				post := a.Steps[i].By.Post
				a.Steps[i].By = db.party(ctx, healthcode.ActorOfficial, a.Steps[i].By.ID)
				a.Steps[i].By.Post = post
			}
		}
	}
	return a, nil
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	var out []string
	err := scanRows(rows, nil, func(rows *sql.Rows) error {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}
