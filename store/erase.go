package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// Erasure (issue 15 item 5). Erasing a resident deletes every personal
// value the platform holds about them: the personal parts of their log
// entries (log_personal; the leaves keep only salted commitments, so every
// leaf hash, proof and checkpoint stays valid), the evidence references of
// their facts, their name, phone and ID hash, their login and sessions,
// the statements, consent references, decision reasons and attachments of
// their appeals. The pseudonymous id, the facts' public parts, the code
// history and the statistics remain. The erasure is a log.erased entry,
// whose apply function clears the projected personal columns, so a
// rebuilt projection is the same without the erased parts; CheckErasures
// (run by log verify) finds any personal value that outlived one.

// EraseResult says what an erasure request did.
type EraseResult struct {
	Resident string
	// Status is "requested" (a second data operator must approve) or
	// "erased".
	Status        string
	LogIndex      int64
	PersonalParts int64
}

// EraseResident asks for, or approves, the erasure of a resident's
// personal data. The first data operator's call records a
// log.erase_requested entry with the reason; a second, different
// operator's call erases and records log.erased citing the request. The
// system actor (the sunset, retention) erases at once. Returns EUNAUTH,
// EFORBIDDEN, ENOTFOUND, ECONFLICT (already asked by the same operator),
// EINVALID (no reason). It honours an Idempotency-Key (WithClaim): the
// answer is the result.
func (db *DB) EraseResident(ctx context.Context, id, reason string) (*EraseResult, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpErasePersonal, "", ""); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) < 4 {
		return nil, healthcode.FieldErrorf("reason", "erasing a resident's data needs a written reason")
	}
	if utf8.RuneCountInString(reason) > 500 {
		return nil, healthcode.FieldErrorf("reason", "is longer than 500 characters")
	}
	var out *EraseResult
	err := db.writeKeyed(ctx, func(t *Tx) (any, string, error) {
		var by string
		var reqLog int64
		err := t.queryRow("SELECT erase_requested_by, erase_requested_log FROM residents WHERE id = ?", id).Scan(&by, &reqLog)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", healthcode.Errorf(healthcode.ENOTFOUND, "no resident %q", id)
		}
		if err != nil {
			return nil, "", err
		}
		ev := &evLogErased{Resident: id, Cause: "request", Reason: reason}
		if actor.Kind == healthcode.ActorSystem {
			ev.Cause = "system"
		} else {
			switch by {
			case "":
				idx, err := t.record(tlog.KindLogEraseRequested, actor, id, &evEraseRequested{Resident: id, Reason: reason}, nil, nil)
				out = &EraseResult{Resident: id, Status: "requested", LogIndex: idx}
				return out, "", err
			case actor.ID:
				return nil, "", healthcode.Errorf(healthcode.ECONFLICT, "you asked already to erase resident %s: a second data operator must approve it", id)
			}
			ev.RequestedBy, ev.RequestedEntry = by, reqLog
		}
		idx, n, err := t.erase(actor, ev)
		out = &EraseResult{Resident: id, Status: "erased", LogIndex: idx, PersonalParts: n}
		return out, "", err
	})
	if err != nil {
		return nil, err
	}
	if out.Status == "erased" {
		db.scrubFreedPages(ctx)
	}
	return out, nil
}

// erase deletes the resident's personal data in t and records ev.
func (t *Tx) erase(actor healthcode.Actor, ev *evLogErased) (int64, int64, error) {
	id := ev.Resident
	// What the resident's entries added to the statistics, from the
	// entries themselves, before their personal parts go
	// (erasedcounts.go).
	rec, entries, err := t.erasureRecord(id)
	if err != nil {
		return 0, 0, err
	}
	res, err := t.exec("DELETE FROM log_personal WHERE subject = ?", id)
	if err != nil {
		return 0, 0, err
	}
	n, _ := res.RowsAffected()
	res, err = t.exec("UPDATE facts SET evidence = '', evidence_salt = ? WHERE subject = ? AND length(evidence_salt) > 0", []byte{}, id)
	if err != nil {
		return 0, 0, err
	}
	m, _ := res.RowsAffected()
	n += m
	// The login's throttle counters are keyed by it (loginKeys).
	logins, err := t.queryStrings("SELECT login FROM accounts WHERE kind = ? AND ref = ?", healthcode.ActorResident, id)
	if err != nil {
		return 0, 0, err
	}
	for _, l := range logins {
		k := "account:" + l
		if _, err := t.exec("DELETE FROM login_throttle WHERE key = ? OR substr(key, 1, ?) = ?", k, len(k)+1, k+"@"); err != nil {
			return 0, 0, err
		}
	}
	// Operational copies: evidence kept beside the personal part (before
	// migration 0005), the login lookup key, attachment contents, the
	// login and its sessions.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE facts SET evidence = '' WHERE subject = ? AND evidence <> ''", []any{id}},
		{"UPDATE residents SET id_hash = ? WHERE id = ?", []any{[]byte("erased:" + id), id}},
		{"UPDATE appeal_attachments SET data = ? WHERE appeal IN (SELECT id FROM appeals WHERE resident = ?)", []any{[]byte{}, id}},
		{"DELETE FROM sessions WHERE login IN (SELECT login FROM accounts WHERE kind = ? AND ref = ?)", []any{healthcode.ActorResident, id}},
		{"DELETE FROM accounts WHERE kind = ? AND ref = ?", []any{healthcode.ActorResident, id}},
		// Kept answers to the resident's creates, and to officials'
		// creates about them (an appeal's statement, a retracted fact).
		{"DELETE FROM idempotency_keys WHERE subject = ? OR actor = ?", []any{id, string(healthcode.ActorResident) + ":" + id}},
	} {
		if _, err := t.exec(q.sql, q.args...); err != nil {
			return 0, 0, err
		}
	}
	// Since v2 leaves, whose personal parts say whom each entry is about,
	// the resident's entries no longer open once erased: the rows they set
	// cannot be rebuilt and go (the log.erased entry's apply function
	// deletes the projected ones; these are operational, keyed to the
	// resident), and the resident's chain starts anew, since nothing may
	// link to entries that no longer open.
	for _, q := range []string{"DELETE FROM code_schedule WHERE resident = ?", "DELETE FROM code_heads WHERE resident = ?"} {
		if _, err := t.exec(q, id); err != nil {
			return 0, 0, err
		}
	}
	head, had := t.b.subjects[id]
	if !had {
		if head, err = t.chainHead(id); err != nil {
			return 0, 0, err
		}
	}
	t.b.undo = append(t.b.undo, subjectUndo{subject: id, prev: head, had: had})
	t.b.subjects[id] = subjectHead{index: -1, county: head.county}
	ev.PersonalParts = n
	var pers any // an untyped nil without a record
	if rec != nil {
		pers = rec
	}
	t.erasing = entries
	idx, err := t.record(tlog.KindLogErased, actor, id, ev, pers, nil)
	t.erasing = nil
	return idx, n, err
}

// Sunset ends the programme: it erases the personal data of every
// resident registered before before, as the system, in batches, each
// resident with a log.erased entry (cause "sunset"). The log, its proofs
// and the statistics stay valid. It returns how many residents it erased.
func (db *DB) Sunset(ctx context.Context, before time.Time, reason string) (int, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind != healthcode.ActorSystem {
		return 0, healthcode.Errorf(healthcode.EFORBIDDEN, "only the system ends the programme (healthcode sunset)")
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		return 0, healthcode.FieldErrorf("reason", "ending the programme needs a written reason")
	}
	total := 0
	for {
		var ids []string
		rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT id FROM residents WHERE created_at < ? AND name || phone <> ''
			ORDER BY id LIMIT 500`), fmtTime(before))
		if err != nil {
			return total, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return total, err
		}
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(ids) == 0 {
			break
		}
		err = db.write(ctx, func(t *Tx) error {
			for _, id := range ids {
				if _, _, err := t.erase(actor, &evLogErased{Resident: id, Cause: "sunset", Reason: reason}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(ids)
	}
	db.scrubFreedPages(ctx)
	return total, nil
}

// scrubFreedPages makes an erasure reach the disk: SQLite runs with
// secure_delete, so freed cells and pages are zeroed, but the pages as
// they were before stay in the write-ahead log until a checkpoint copies
// the new ones into the database and truncates it. A checkpoint that a
// reader holds back (busy) is tried again for up to about two seconds;
// after that it is left to the next one, with a warning.
func (db *DB) scrubFreedPages(ctx context.Context) {
	if db.dialect.name() != SQLite {
		return
	}
	for attempt := 0; ; attempt++ {
		var busy, logPages, done int
		err := db.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
		if err != nil {
			db.logger.Warn("checkpoint after erasure", "err", err)
			return
		}
		if busy == 0 {
			return
		}
		if attempt == 40 {
			db.logger.Warn("checkpoint after erasure held back by readers; the next checkpoint completes it", "wal_pages", logPages, "checkpointed", done)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CheckErasures reports every personal value that outlived a log.erased
// entry: a personal part of the resident's entries before it, a name,
// phone, ID hash, login, evidence reference, appeal statement, consent
// reference, reason or attachment of the resident. log verify runs it.
func (db *DB) CheckErasures(ctx context.Context) ([]Problem, error) {
	// One pass over the log: the erasures are few, the entries many.
	rows, err := db.db.QueryContext(ctx, "SELECT e.idx, e.data, p.data FROM log_entries e LEFT JOIN log_personal p ON p.idx = e.idx ORDER BY e.idx")
	if err != nil {
		return nil, fmt.Errorf("check erasures: %w", err)
	}
	erased := map[string]int64{}
	marker := []byte(tlog.KindLogErased)
	for rows.Next() {
		var idx int64
		var data, stored []byte
		if err := rows.Scan(&idx, &data, &stored); err != nil {
			rows.Close()
			return nil, err
		}
		if !bytes.Contains(data, marker) {
			continue
		}
		o, err := openEntry(data, stored) // a v2 entry's event is in its personal part
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("check erasures: entry %d: %w", idx, err)
		}
		e := o.Entry
		if e.Kind != tlog.KindLogErased {
			continue
		}
		var ev evLogErased
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check erasures: entry %d: %w", idx, err)
		}
		if ev.Resident != "" {
			erased[ev.Resident] = idx
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var problems []Problem
	checks := []struct{ what, query string }{
		{"personal parts of earlier entries", "SELECT COUNT(*) FROM log_personal WHERE subject = ? AND idx < ?"},
		{"name, phone or ID hash", "SELECT COUNT(*) FROM residents WHERE id = ? AND (name <> '' OR phone <> '' OR id_hash <> ?)"},
		{"logins", "SELECT COUNT(*) FROM accounts WHERE kind = ? AND ref = ?"},
		{"fact evidence", "SELECT COUNT(*) FROM facts WHERE subject = ? AND (evidence <> '' OR length(evidence_salt) > 0)"},
		{"appeal statements, consent references or reasons", "SELECT COUNT(*) FROM appeals WHERE resident = ? AND (statement <> '' OR consent <> '' OR reason <> '')"},
		{"alerts concerning them", "SELECT COUNT(*) FROM alerts WHERE resident = ?"},
		{"appeal attachments", "SELECT COUNT(*) FROM appeal_attachments WHERE appeal IN (SELECT id FROM appeals WHERE resident = ?) AND (name <> '' OR length(data) > 0)"},
	}
	for _, r := range slices.Sorted(maps.Keys(erased)) {
		idx := erased[r]
		for _, c := range checks {
			var args []any
			switch c.what {
			case "personal parts of earlier entries":
				args = []any{r, idx}
			case "name, phone or ID hash":
				args = []any{r, []byte("erased:" + r)}
			case "logins":
				args = []any{healthcode.ActorResident, r}
			default:
				args = []any{r}
			}
			var n int64
			if err := db.db.QueryRowContext(ctx, db.dialect.rebind(c.query), args...).Scan(&n); err != nil {
				return nil, fmt.Errorf("check erasures: %w", err)
			}
			if n > 0 {
				problems = append(problems, Problem{Index: idx, What: fmt.Sprintf("resident %s was erased, but %d rows of %s outlived the erasure", r, n, c.what)})
			}
		}
	}
	return problems, nil
}
