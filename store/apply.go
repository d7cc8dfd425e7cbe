package store

// The apply functions: one per kind of entry, each the projection of that
// kind onto the state tables. Rebuilding the projection (log verify, log
// rebuild) runs them over the log alone; an entry whose payload does not
// decode into its kind's shape is an error, never skipped.

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/token"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// projector applies entries to one database's state tables, inside tx.
// It is the only code that writes projected rows: the writer applies each
// entry it appends through it, in the same transaction (live), and
// rebuilding runs it over the log alone. Rebuilding, it notes, per row,
// the entry that last set it (in projection_last) and which rows'
// personal columns could not be rebuilt because their personal part is
// erased.
type projector struct {
	ctx context.Context
	tx  *sql.Tx
	d   dialect
	e   *tlog.Entry

	// stmts are tx's prepared statements, by query, when rebuilding:
	// preparing each statement anew was 40% of a rebuild.
	stmts map[string]*sql.Stmt

	// The writer's transaction: t gathers inserts into multi-row INSERTs
	// (until the next statement or flush), and fill, if set, sets the
	// operational columns of an inserted row (credentials, sealed keys,
	// evidence: what the log does not hold).
	t    *Tx
	fill func(table string, cols []string, vals []any)
	pend []pendingInsert

	// last is what touch noted for projection_last, not yet written
	// (flushLast), when rebuilding.
	last map[lastKey]lastTouch

	// atTime and at are the last entry time applyEvent formatted, and its
	// text: a batch's entries share their time.
	atTime time.Time
	at     string
}

// pendingInsert is a run of rows of one shape waiting for one INSERT.
type pendingInsert struct {
	table, suffix string
	cols          []string
	rows          [][]any
}

// lastTable records, in a scratch or rebuilt database, which entry last
// set each row and whether its personal columns were rebuilt.
const lastTable = `CREATE TABLE IF NOT EXISTS projection_last (
	tbl      TEXT NOT NULL,
	row_key  TEXT NOT NULL,
	idx      INTEGER NOT NULL,
	personal INTEGER NOT NULL,
	PRIMARY KEY (tbl, row_key)
)`

func (p *projector) exec(q string, args ...any) error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.run(q, args...)
}

// run executes q (not yet rebound) with a statement prepared once: in the
// writer's transaction through its statement cache, else in p's.
func (p *projector) run(q string, args ...any) error {
	var st *sql.Stmt
	var err error
	if p.t != nil {
		st, err = p.t.prepared(p.d.rebind(q))
	} else if st = p.stmts[q]; st == nil {
		if st, err = p.tx.PrepareContext(p.ctx, p.d.rebind(q)); err == nil {
			if p.stmts == nil {
				p.stmts = make(map[string]*sql.Stmt)
			}
			p.stmts[q] = st
		}
	}
	if err != nil {
		return err
	}
	if p.t != nil {
		p.t.db.failpoint(failStmtBefore)
		defer p.t.db.failpoint(failStmtAfter)
	}
	_, err = st.ExecContext(p.ctx, args...)
	return err
}

// insert writes one row of table with the columns cols; suffix is an ON
// CONFLICT clause or "". In the writer's transaction, rows of one shape
// wait to be written together (flush).
func (p *projector) insert(table string, cols []string, suffix string, vals ...any) error {
	if p.fill != nil {
		p.fill(table, cols, vals)
	}
	if p.t == nil {
		return p.run("INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+placeholders(len(cols))+")"+suffix, vals...)
	}
	for i := range p.pend {
		q := &p.pend[i]
		if q.table == table && q.suffix == suffix && &q.cols[0] == &cols[0] {
			q.rows = append(q.rows, vals)
			return nil
		}
	}
	p.pend = append(p.pend, pendingInsert{table: table, suffix: suffix, cols: cols, rows: [][]any{vals}})
	return nil
}

// flush writes the rows waiting, a table at a time in the order the
// tables were first written.
func (p *projector) flush() error {
	for _, q := range p.pend {
		rows := q.rows
		if err := upsertRows(p.t, q.table+" ("+strings.Join(q.cols, ", ")+")", len(q.cols), len(rows), q.suffix,
			func(i int) []any { return rows[i] }); err != nil {
			p.pend = nil
			return err
		}
	}
	p.pend = p.pend[:0]
	return nil
}

// touch notes that the current entry set a row. hasPersonal false marks
// the row's personal columns unknown (an erased personal part); once
// unknown they stay so. nil or true leaves the mark as it is. The notes
// wait in memory, the last per row, until flushLast writes them.
func (p *projector) touch(table string, hasPersonal *bool, key ...any) error {
	if p.t != nil {
		return nil // the live state keeps no projection_last
	}
	k := lastKey{table, rowKey(key...)}
	l := p.last[k]
	if p.last == nil {
		p.last = make(map[lastKey]lastTouch)
	}
	p.last[k] = lastTouch{idx: p.e.Index, unknown: l.unknown || hasPersonal != nil && !*hasPersonal}
	return nil
}

// lastKey is a row of projection_last, and lastTouch what touch noted of
// it: the entry that last set it, and whether its personal columns became
// unknown.
type lastKey struct{ table, row string }

type lastTouch struct {
	idx     int64
	unknown bool
}

// lastUpsert is the upsert of n rows of projection_last: the entry that
// set each row last, and its personal columns unknown once any entry
// left them so.
func lastUpsert(n int) string {
	return multiInsert("projection_last (tbl, row_key, idx, personal)", 4, n, `
		ON CONFLICT (tbl, row_key) DO UPDATE SET idx = excluded.idx,
		personal = CASE WHEN excluded.personal = 0 THEN 0 ELSE projection_last.personal END`)
}

// flushLast writes the rows touch noted to projection_last, in key order
// (fewer pages touched), lastRows rows a statement. Nothing in the apply
// functions reads projection_last: the notes need only be written before
// their transaction commits.
func (p *projector) flushLast() error {
	if len(p.last) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(p.last), func(a, b lastKey) int {
		return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.row, b.row))
	})
	args := make([]any, 0, 4*min(len(keys), lastRows))
	for start := 0; start < len(keys); {
		n := lastRows
		if left := len(keys) - start; left < n {
			n = 1 << (bits.Len(uint(left)) - 1) // a few shapes of statement
		}
		args = args[:0]
		for _, k := range keys[start : start+n] {
			l := p.last[k]
			personal := 1
			if l.unknown {
				personal = 0
			}
			args = append(args, k.table, k.row, l.idx, personal)
		}
		if err := p.run(lastUpsert(n), args...); err != nil {
			return fmt.Errorf("projection_last: %w", err)
		}
		start += n
	}
	clear(p.last)
	return nil
}

// lastRows is how many rows of projection_last one upsert writes at most.
const lastRows = 256

func rowKey(key ...any) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = fmt.Sprint(k)
	}
	return strings.Join(parts, "/")
}

// decodeEntry decodes e's public payload into v, its kind's type.
func decodeEntry(e *tlog.Entry, v any) error {
	if err := decodeStrict(e.Payload, v); err != nil {
		return fmt.Errorf("entry %d: %s payload does not decode: %w", e.Index, e.Kind, err)
	}
	return nil
}

// decodeStrict decodes an entry's JSON part into v, refusing fields the
// kind does not have.
func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// The public parts of the entries, one type per kind.
type (
	evJurisdiction struct {
		Code   string `json:"code"`
		Level  string `json:"level"`
		Name   string `json:"name"`
		Parent string `json:"parent"`
	}
	evResident struct {
		ID           string `json:"id"`
		Jurisdiction string `json:"jurisdiction"`
	}
	evResidentPersonal struct {
		Name   string `json:"name"`
		Phone  string `json:"phone"`
		IDHash []byte `json:"id_hash"`
		// IDMasked is the national ID number masked for officials'
		// lists (healthcode.MaskNationalID); empty in older entries.
		IDMasked string `json:"id_masked,omitempty"`
	}
	evOfficial struct {
		ID           string `json:"id"`
		Role         string `json:"role"`
		Jurisdiction string `json:"jurisdiction"`
	}
	evOfficialPersonal struct {
		Name  string `json:"name"`
		Login string `json:"login"`
	}
	evOfficialDisabled struct {
		ID           string `json:"id"`
		Jurisdiction string `json:"jurisdiction"`
		Reason       string `json:"reason"`
		// RequestedBy is the first operator, when disabling took two
		// (the actor confirmed their official.disable_requested).
		RequestedBy    string `json:"requested_by,omitempty"`
		RequestedEntry int64  `json:"requested_entry,omitempty"`
	}
	// evPasswordChanged: an official changed their own password.
	evPasswordChanged struct {
		ID           string `json:"id"`
		Jurisdiction string `json:"jurisdiction"`
	}
	// evOfficialAccount is a request to disable an official's account
	// (official.disable_requested), its re-enabling (official.enabled),
	// or a request to reset its password (official.password_reset_requested).
	// An official.password_reset is an evOfficialDisabled: the id, the
	// reason, and the first admin when it took two.
	evOfficialAccount struct {
		ID           string `json:"id"`
		Jurisdiction string `json:"jurisdiction"`
		Reason       string `json:"reason"`
	}
	evSource struct {
		ID           string   `json:"id"`
		Name         string   `json:"name"`
		Kinds        []string `json:"kinds"`
		Jurisdiction string   `json:"jurisdiction"`
	}
	evSourceDisabled struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	evFactDecided struct {
		Key           string `json:"key"`
		Reason        string `json:"reason,omitempty"`
		RecordedBy    string `json:"recorded_by"`
		RecordedEntry int64  `json:"recorded_entry"`
	}
	evFactRetracted struct {
		Key            string `json:"key"`
		Reason         string `json:"reason"`
		PreviousStatus string `json:"previous_status"`
		RecordedEntry  int64  `json:"recorded_entry"`
	}
	// evFactHeldFor: a designation (Designation, its fact key) that would
	// raise a resident restored by a granted appeal (Appeal) within the
	// cooling period does not count in that resident's evaluation until a
	// command officer of ApprovalScope (the parent jurisdiction of the
	// recorder's post) releases it for them. The entry's subject is the
	// resident; the actor is the designation's recorder; RecordedEntry is
	// the designation's fact.recorded entry.
	evFactHeldFor struct {
		Designation   string `json:"designation"`
		Appeal        string `json:"appeal"`
		ApprovalScope string `json:"approval_scope"`
		RecordedEntry int64  `json:"recorded_entry"`
	}
	// evFactDecidedFor: a designation held for a resident, released for
	// them (fact.released_for: it counts from now on) or refused for them
	// (fact.refused_for: it never counts for them), by a command officer
	// of the hold's scope. HeldEntry is the fact.held_for entry.
	evFactDecidedFor struct {
		Designation string `json:"designation"`
		Reason      string `json:"reason,omitempty"`
		HeldEntry   int64  `json:"held_entry"`
	}
	evCodeChanged struct {
		Colour         string   `json:"colour"`
		Previous       string   `json:"previous"`
		Ruleset        string   `json:"ruleset"`
		RulesetVersion int      `json:"ruleset_version"`
		Rule           string   `json:"rule"`
		FactIDs        []string `json:"fact_ids"`
		Cause          string   `json:"cause"`
		// Omitted counts by kind the facts the evaluation left out, more
		// than the kind's bound (rules.Result.Omitted).
		Omitted map[string]int `json:"omitted,omitempty"`
		// RulesetBy are the two command officers who put the ruleset in
		// force: its drafter and its approver. Designation is the
		// designation (risk_area fact key) whose approval, recording or
		// retraction caused the change, and DesignationBy its recorder and
		// approver (if any). Officials are public actors; the replayer
		// checks the names against the entries they come from. Absent in
		// changes logged before they were cited.
		RulesetBy     []string `json:"ruleset_by,omitempty"`
		Designation   string   `json:"designation,omitempty"`
		DesignationBy []string `json:"designation_by,omitempty"`
	}
	// evEvalFailed is a resident's evaluation that failed: skipped, the
	// code left as it was, the job going on (the entry's subject is the
	// resident).
	evEvalFailed struct {
		Ruleset        string `json:"ruleset"`
		RulesetVersion int    `json:"ruleset_version"`
		Error          string `json:"error"`
		Cause          string `json:"cause"`
		Job            string `json:"job,omitempty"`
	}
	evRulesetDrafted struct {
		ID           string `json:"id"`
		Version      int    `json:"version"`
		Scope        string `json:"scope"`
		SourceSHA256 string `json:"source_sha256"`
		LegalBasis   string `json:"legal_basis"`
		EffectiveAt  string `json:"effective_at"`
	}
	evRulesetDecided struct {
		ID           string `json:"id"`
		Version      int    `json:"version"`
		Decision     string `json:"decision"`
		DraftedBy    string `json:"drafted_by"`
		DraftedEntry int64  `json:"drafted_entry"`
		Reason       string `json:"reason,omitempty"`
	}
	// evRulesetWithdrawn is a published ruleset that stopped applying:
	// scoped below a province (from before 一省一码), withdrawn by the
	// start-up migration (withdraw.go). PublishedEntry is its
	// ruleset.published entry.
	evRulesetWithdrawn struct {
		ID             string `json:"id"`
		Version        int    `json:"version"`
		Scope          string `json:"scope"`
		Reason         string `json:"reason"`
		PublishedEntry int64  `json:"published_entry"`
	}
	evKeyAdded struct {
		ID        string `json:"id"`
		Purpose   string `json:"purpose"`
		PublicKey string `json:"public_key"`
		NotBefore string `json:"not_before"`
	}
	evKeyRotated struct {
		ID               string   `json:"id"`
		PublicKey        string   `json:"public_key"`
		NotBefore        string   `json:"not_before"`
		Retired          []string `json:"retired"`
		RetiredNotAfter  string   `json:"retired_not_after"`
		TrustListVersion uint64   `json:"trust_list_version"`
	}
	evKeyRevoked struct {
		ID               string `json:"id"`
		TrustListVersion uint64 `json:"trust_list_version"`
	}
	evTrustImported struct {
		Issuer             string `json:"issuer"`
		Version            uint64 `json:"version"`
		TrustKey           string `json:"trust_key"`
		Keys               int    `json:"keys"`
		RecognitionVersion uint64 `json:"recognition_version"`
	}
	evAppealFiled struct {
		Appeal      string         `json:"appeal"`
		Resident    string         `json:"resident"`
		Facts       []string       `json:"facts"`
		Status      string         `json:"status"`
		Assigned    string         `json:"assigned"`
		Deadline    string         `json:"deadline"`
		Attachments []evAttachment `json:"attachments"`
	}
	evAttachment struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	}
	evAppealFiledPersonal struct {
		Statement       string   `json:"statement"`
		AttachmentNames []string `json:"attachment_names"`
		ConsentRef      string   `json:"consent_ref,omitempty"`
	}
	evAppealConsented struct {
		Appeal   string `json:"appeal"`
		Deadline string `json:"deadline"`
	}
	evAppealDecided struct {
		Appeal   string   `json:"appeal"`
		Decision string   `json:"decision"`
		Facts    []string `json:"facts"`
	}
	evAppealEscalated struct {
		Appeal   string `json:"appeal"`
		From     string `json:"from"`
		To       string `json:"to"`
		Deadline string `json:"deadline"`
	}
	evDataAccessed struct {
		Resident string `json:"resident"`
		What     string `json:"what"`
	}
	evAlert struct {
		Alert        string          `json:"alert"`
		Kind         string          `json:"kind"`
		Subject      string          `json:"subject"`
		Jurisdiction string          `json:"jurisdiction"`
		Detail       json.RawMessage `json:"detail"`
	}
	// evAlertPersonal is the personal part of an alert about no resident
	// whose subject or detail may name one (an integrity alert's row key
	// and verify's line): the alert's row has Subject instead of the
	// public one and the detail with Detail's fields added.
	evAlertPersonal struct {
		Subject string            `json:"subject"`
		Detail  map[string]string `json:"detail"`
	}
	evJobStarted struct {
		Job    string            `json:"job"`
		Kind   string            `json:"kind"`
		Params map[string]string `json:"params"`
		RunAt  string            `json:"run_at"`
	}
	evJobFinished struct {
		Job       string            `json:"job"`
		Kind      string            `json:"kind"`
		Params    map[string]string `json:"params"`
		Residents int64             `json:"residents"`
		Changed   int64             `json:"changed"`
		Failed    int64             `json:"failed,omitempty"` // residents whose evaluation failed (evaluation.failed)
	}
	// evLogErased records an erasure (erase.go): on a data operator's
	// request that a second one approved (Cause "request", citing the
	// request entry), or by the programme's end (Cause "sunset"). Entries
	// from before issue 15 carry only Resident and PersonalParts.
	evLogErased struct {
		Resident       string `json:"resident"`
		PersonalParts  int64  `json:"personal_parts"`
		Cause          string `json:"cause,omitempty"`
		Reason         string `json:"reason,omitempty"`
		RequestedBy    string `json:"requested_by,omitempty"`
		RequestedEntry int64  `json:"requested_entry,omitempty"`
	}
	// evLogErasedPersonal is the personal part of a log.erased entry
	// about a resident whose entries are all v2 (erasedrecord.go): what
	// their erased entries added to the statistics that their public parts
	// cannot say, worked out from the entries as the erasure opened them.
	// It is kept after the erasure: beside the resident's id (the entry's
	// subject, as in every log.erased entry) it holds none of their
	// personal values (no name, contact, payload, case, fact or appeal),
	// only where and how they counted: their jurisdiction and their code's
	// colour (one resident there, as their entries say, not as a possibly
	// edited row says), their code changes resting on a hand-entered fact
	// by UTC day (the days of code changes are public), and how many of
	// their appeals were escalated (overdue).
	evLogErasedPersonal struct {
		Jurisdiction string           `json:"jurisdiction"`
		Colour       string           `json:"colour"`
		HandEntered  map[string]int64 `json:"hand_entered,omitempty"`
		Overdue      int64            `json:"overdue,omitempty"`
	}
	// evEraseRequested is a data operator's request to erase a resident's
	// personal data, which a second operator approves (log.erased).
	evEraseRequested struct {
		Resident string `json:"resident"`
		Reason   string `json:"reason"`
	}
	evAppealDecidedPersonal struct {
		Reason string `json:"reason"`
	}
	// evLogContinued is the first entry of a log moved to a new origin
	// (logmove.go): it cites the previous origin's final checkpoint.
	evLogContinued struct {
		FromOrigin string `json:"from_origin"`
		FromKey    string `json:"from_key"`
		Checkpoint string `json:"checkpoint"`
	}
)

// newEvent returns a new value of the type of kind's public part, and of
// its personal part held in log_personal (nil for a kind without one).
func newEvent(kind tlog.Kind) (pub, pers any, err error) {
	switch kind {
	case tlog.KindJurisdictionCreated:
		return new(evJurisdiction), nil, nil
	case tlog.KindResidentRegistered:
		return new(evResident), new(evResidentPersonal), nil
	case tlog.KindOfficialCreated:
		return new(evOfficial), new(evOfficialPersonal), nil
	case tlog.KindOfficialDisabled:
		return new(evOfficialDisabled), nil, nil
	case tlog.KindOfficialDisableReq, tlog.KindOfficialEnabled, tlog.KindPasswordResetReq:
		return new(evOfficialAccount), nil, nil
	case tlog.KindPasswordChanged:
		return new(evPasswordChanged), nil, nil
	case tlog.KindPasswordReset:
		return new(evOfficialDisabled), nil, nil
	case tlog.KindSourceCreated:
		return new(evSource), nil, nil
	case tlog.KindSourceDisabled:
		return new(evSourceDisabled), nil, nil
	case tlog.KindFactRecorded:
		return new(factEntry), nil, nil // its personal part is kept in the fact's row
	case tlog.KindFactApproved, tlog.KindFactRejected:
		return new(evFactDecided), nil, nil
	case tlog.KindFactRetracted:
		return new(evFactRetracted), nil, nil
	case tlog.KindFactHeldFor:
		return new(evFactHeldFor), nil, nil
	case tlog.KindFactReleasedFor, tlog.KindFactRefusedFor:
		return new(evFactDecidedFor), nil, nil
	case tlog.KindCodeChanged:
		return new(evCodeChanged), nil, nil
	case tlog.KindEvalFailed:
		return new(evEvalFailed), nil, nil
	case tlog.KindRulesetDrafted:
		return new(evRulesetDrafted), nil, nil
	case tlog.KindRulesetPublished, tlog.KindRulesetRefused:
		return new(evRulesetDecided), nil, nil
	case tlog.KindRulesetWithdrawn:
		return new(evRulesetWithdrawn), nil, nil
	case tlog.KindKeyAdded:
		return new(evKeyAdded), nil, nil
	case tlog.KindKeyRotated:
		return new(evKeyRotated), nil, nil
	case tlog.KindKeyRevoked:
		return new(evKeyRevoked), nil, nil
	case tlog.KindTrustImported:
		return new(evTrustImported), nil, nil
	case tlog.KindAppealFiled:
		return new(evAppealFiled), new(evAppealFiledPersonal), nil
	case tlog.KindAppealConsented:
		return new(evAppealConsented), nil, nil
	case tlog.KindAppealDecided:
		return new(evAppealDecided), new(evAppealDecidedPersonal), nil
	case tlog.KindAppealEscalated:
		return new(evAppealEscalated), nil, nil
	case tlog.KindDataAccessed:
		return new(evDataAccessed), nil, nil
	case tlog.KindAlertRaised:
		return new(evAlert), new(evAlertPersonal), nil
	case tlog.KindJobStarted:
		return new(evJobStarted), nil, nil
	case tlog.KindJobFinished:
		return new(evJobFinished), nil, nil
	case tlog.KindJobProgressed:
		return nil, nil, nil // progress is operational (the job's cursor and counters)
	case tlog.KindLogErased:
		return new(evLogErased), new(evLogErasedPersonal), nil
	case tlog.KindLogEraseRequested:
		return new(evEraseRequested), nil, nil
	case tlog.KindLogContinued:
		return new(evLogContinued), nil, nil
	}
	return nil, nil, fmt.Errorf("no projection for kind %q", kind)
}

// decodeEvent decodes an entry's public part, and its personal part when
// it is held and not erased (personalData not nil), into their kind's
// types. pers is nil when there is no personal part to decode.
func decodeEvent(e *tlog.Entry, personalData []byte) (pub, pers any, err error) {
	pub, pers, err = newEvent(e.Kind)
	if err != nil {
		return nil, nil, fmt.Errorf("entry %d: %w", e.Index, err)
	}
	if pub != nil {
		if err := decodeEntry(e, pub); err != nil {
			return nil, nil, err
		}
	}
	if pers == nil || personalData == nil {
		return pub, nil, nil
	}
	if err := decodeStrict(personalData, pers); err != nil {
		return nil, nil, fmt.Errorf("entry %d: %s personal part does not decode: %w", e.Index, e.Kind, err)
	}
	return pub, pers, nil
}

// apply projects one stored entry, opened (openEntry). A v2 entry about
// a resident whose personal part is erased projects to no row: whom it
// was about is no longer known (the log.erased entry removed the rows it
// had set); what it added to the statistics it adds to erased_counts.
func (p *projector) apply(o *openedEntry) error {
	if o.erased {
		// What it added to the statistics stays (erasedcounts.go).
		return p.tallyErased(o.Entry, o.public)
	}
	pub, pers, err := decodeEvent(o.Entry, o.personal)
	if err != nil {
		return err
	}
	if err := o.checkView(pub); err != nil {
		return err
	}
	return p.applyEvent(o.Entry, pub, pers)
}

// event asserts that ev is of kind's type.
func event[T any](e *tlog.Entry, ev any) (*T, error) {
	v, ok := ev.(*T)
	if !ok || v == nil {
		return nil, fmt.Errorf("entry %d: %s: event is %T, not %T", e.Index, e.Kind, ev, v)
	}
	return v, nil
}

// personalOf asserts that a personal part, if any, is of type T; an
// absent (nil) one yields a zero value and has false.
func personalOf[T any](e *tlog.Entry, pers any) (v *T, has bool, err error) {
	if pers == nil {
		return new(T), false, nil
	}
	v, ok := pers.(*T)
	if !ok || v == nil {
		return nil, false, fmt.Errorf("entry %d: %s: personal part is %T, not %T", e.Index, e.Kind, pers, v)
	}
	return v, true, nil
}

// applyEvent projects one entry whose parts are decoded: pub is the
// public part (newEvent's type for the kind), pers the personal part, or
// nil when there is none or it is erased.
func (p *projector) applyEvent(e *tlog.Entry, pub, pers any) error {
	p.e = e
	if p.at == "" || !e.Time.Equal(p.atTime) {
		p.atTime, p.at = e.Time, fmtTime(e.Time)
	}
	at := p.at
	switch e.Kind {
	case tlog.KindJurisdictionCreated:
		v, err := event[evJurisdiction](e, pub)
		if err != nil {
			return err
		}
		lvl, err := healthcode.LevelOf(v.Code)
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		var parent any
		if v.Parent != "" {
			parent = v.Parent
		}
		if err := p.insert("jurisdictions", colsJurisdictions, "", v.Code, v.Name, int(lvl), parent, e.Index); err != nil {
			return err
		}
		return p.touch("jurisdictions", nil, v.Code)

	case tlog.KindResidentRegistered:
		v, err := event[evResident](e, pub)
		if err != nil {
			return err
		}
		pv, has, err := personalOf[evResidentPersonal](e, pers)
		if err != nil {
			return err
		}
		idHash := pv.IDHash
		if !has || len(idHash) == 0 {
			idHash = []byte("erased:" + v.ID) // unique placeholder; the column is operational
		}
		if err := p.insert("residents", colsResidents, "", v.ID, idHash, pv.Name, pv.Phone, v.Jurisdiction, at, e.Index, pv.IDMasked); err != nil {
			return err
		}
		return p.touch("residents", &has, v.ID)

	case tlog.KindOfficialCreated:
		v, err := event[evOfficial](e, pub)
		if err != nil {
			return err
		}
		pv, has, err := personalOf[evOfficialPersonal](e, pers)
		if err != nil {
			return err
		}
		if err := p.insert("officials", colsOfficials, "", v.ID, pv.Name, v.Role, v.Jurisdiction, 0, at, e.Index); err != nil {
			return err
		}
		return p.touch("officials", &has, v.ID)

	case tlog.KindOfficialDisabled:
		v, err := event[evOfficialDisabled](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE officials SET disabled = 1, disable_requested_by = '', disable_requested_log = -1 WHERE id = ?", v.ID); err != nil {
			return err
		}
		return p.touch("officials", nil, v.ID)

	case tlog.KindOfficialDisableReq:
		v, err := event[evOfficialAccount](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE officials SET disable_requested_by = ?, disable_requested_log = ? WHERE id = ?", e.Actor.ID, e.Index, v.ID); err != nil {
			return err
		}
		return p.touch("officials", nil, v.ID)

	case tlog.KindPasswordChanged:
		// The hash is a credential, never logged: the entry says who
		// changed their password and when; no projected row changes.
		_, err := event[evPasswordChanged](e, pub)
		return err

	case tlog.KindPasswordResetReq:
		v, err := event[evOfficialAccount](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE officials SET reset_requested_by = ?, reset_requested_log = ? WHERE id = ?", e.Actor.ID, e.Index, v.ID); err != nil {
			return err
		}
		return p.touch("officials", nil, v.ID)

	case tlog.KindPasswordReset:
		v, err := event[evOfficialDisabled](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE officials SET reset_requested_by = '', reset_requested_log = -1 WHERE id = ?", v.ID); err != nil {
			return err
		}
		return p.touch("officials", nil, v.ID)

	case tlog.KindOfficialEnabled:
		v, err := event[evOfficialAccount](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE officials SET disabled = 0, disable_requested_by = '', disable_requested_log = -1 WHERE id = ?", v.ID); err != nil {
			return err
		}
		return p.touch("officials", nil, v.ID)

	case tlog.KindSourceCreated:
		v, err := event[evSource](e, pub)
		if err != nil {
			return err
		}
		if err := p.insert("sources", colsSources, "", v.ID, v.Name, strings.Join(v.Kinds, ","), v.Jurisdiction, []byte("unknown:"+v.ID), 0, at, e.Index); err != nil {
			return err
		}
		return p.touch("sources", nil, v.ID)

	case tlog.KindSourceDisabled:
		v, err := event[evSourceDisabled](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE sources SET disabled = 1 WHERE id = ?", v.ID); err != nil {
			return err
		}
		return p.touch("sources", nil, v.ID)

	case tlog.KindFactRecorded:
		v, err := event[factEntry](e, pub)
		if err != nil {
			return err
		}
		return p.applyFactRecorded(e, v, at)

	case tlog.KindFactApproved, tlog.KindFactRejected:
		v, err := event[evFactDecided](e, pub)
		if err != nil {
			return err
		}
		status := healthcode.FactActive
		if e.Kind == tlog.KindFactRejected {
			status = healthcode.FactRejected
		}
		if err := p.exec("UPDATE facts SET status = ?, approved_by = ?, reason = ?, decided_log = ? WHERE uid = ?",
			string(status), e.Actor.ID, v.Reason, e.Index, v.Key); err != nil {
			return err
		}
		return p.touch("facts", nil, v.Key)

	case tlog.KindFactRetracted:
		v, err := event[evFactRetracted](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE facts SET status = ?, retracted_by = ?, reason = ?, decided_log = ? WHERE uid = ?",
			string(healthcode.FactRetracted), e.Actor.ID, v.Reason, e.Index, v.Key); err != nil {
			return err
		}
		return p.touch("facts", nil, v.Key)

	case tlog.KindFactHeldFor:
		v, err := event[evFactHeldFor](e, pub)
		if err != nil {
			return err
		}
		if err := p.insert("designation_holds", colsDesignationHolds, "", v.Designation, e.Subject, v.Appeal, v.ApprovalScope, HoldHeld, e.Index); err != nil {
			return err
		}
		return p.touch("designation_holds", nil, v.Designation, e.Subject)

	case tlog.KindFactReleasedFor, tlog.KindFactRefusedFor:
		v, err := event[evFactDecidedFor](e, pub)
		if err != nil {
			return err
		}
		status := HoldReleased
		if e.Kind == tlog.KindFactRefusedFor {
			status = HoldRefused
		}
		if err := p.exec("UPDATE designation_holds SET status = ?, decided_by = ?, reason = ?, decided_log = ? WHERE designation = ? AND resident = ?",
			status, e.Actor.ID, v.Reason, e.Index, v.Designation, e.Subject); err != nil {
			return err
		}
		return p.touch("designation_holds", nil, v.Designation, e.Subject)

	case tlog.KindCodeChanged:
		v, err := event[evCodeChanged](e, pub)
		if err != nil {
			return err
		}
		fids, err := json.Marshal(v.FactIDs)
		if err != nil {
			return err
		}
		if err := p.exec(`INSERT INTO codes (resident, colour, since, ruleset, ruleset_version, rule, fact_ids, log_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (resident) DO UPDATE SET colour = excluded.colour, since = excluded.since, ruleset = excluded.ruleset,
			ruleset_version = excluded.ruleset_version, rule = excluded.rule, fact_ids = excluded.fact_ids, log_index = excluded.log_index`,
			e.Subject, v.Colour, at, v.Ruleset, v.RulesetVersion, v.Rule, string(fids), e.Index); err != nil {
			return fmt.Errorf("store code of %s: %w", e.Subject, err)
		}
		omitted := ""
		if len(v.Omitted) > 0 {
			b, err := json.Marshal(v.Omitted)
			if err != nil {
				return err
			}
			omitted = string(b)
		}
		rulesetBy, err := jsonListCol(v.RulesetBy)
		if err != nil {
			return err
		}
		designationBy, err := jsonListCol(v.DesignationBy)
		if err != nil {
			return err
		}
		if err := p.insert("code_changes", colsCodeChanges, "", e.Subject, e.Index, v.Colour, v.Previous, at, v.Ruleset, v.RulesetVersion, v.Rule, string(fids), v.Cause, omitted,
			rulesetBy, v.Designation, designationBy); err != nil {
			return err
		}
		if err := p.touch("codes", nil, e.Subject); err != nil {
			return err
		}
		return p.touch("code_changes", nil, e.Index)

	case tlog.KindEvalFailed:
		v, err := event[evEvalFailed](e, pub)
		if err != nil {
			return err
		}
		if err := p.insert("evaluation_failures", colsEvalFailures, "", e.Index, e.Subject, at, v.Ruleset, v.RulesetVersion, v.Error, v.Cause, v.Job); err != nil {
			return err
		}
		return p.touch("evaluation_failures", nil, e.Index)

	case tlog.KindRulesetDrafted:
		v, err := event[evRulesetDrafted](e, pub)
		if err != nil {
			return err
		}
		if err := p.insert("rulesets", colsRulesets, "", v.ID, v.Version, v.Scope, healthcode.RulesetDraft, "", v.LegalBasis, "", v.EffectiveAt, e.Actor.ID, at, e.Index); err != nil {
			return err
		}
		return p.touch("rulesets", nil, v.ID, v.Version)

	case tlog.KindRulesetPublished, tlog.KindRulesetRefused:
		v, err := event[evRulesetDecided](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE rulesets SET status = ?, decided_by = ?, decided_at = ?, reason = ?, decided_log = ? WHERE id = ? AND version = ?",
			v.Decision, e.Actor.ID, at, v.Reason, e.Index, v.ID, v.Version); err != nil {
			return err
		}
		return p.touch("rulesets", nil, v.ID, v.Version)

	case tlog.KindRulesetWithdrawn:
		v, err := event[evRulesetWithdrawn](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE rulesets SET status = ?, reason = ? WHERE id = ? AND version = ?",
			healthcode.RulesetWithdrawn, v.Reason, v.ID, v.Version); err != nil {
			return err
		}
		return p.touch("rulesets", nil, v.ID, v.Version)

	case tlog.KindKeyAdded:
		v, err := event[evKeyAdded](e, pub)
		if err != nil {
			return err
		}
		return p.insertKey(v.ID, v.Purpose, v.PublicKey, v.NotBefore, at)

	case tlog.KindKeyRotated:
		v, err := event[evKeyRotated](e, pub)
		if err != nil {
			return err
		}
		for _, id := range v.Retired {
			if err := p.touch("token_keys", nil, id); err != nil {
				return err
			}
		}
		if err := p.exec("UPDATE token_keys SET status = ?, not_after = ? WHERE purpose = ? AND status = ?",
			token.KeyRetired, v.RetiredNotAfter, PurposeToken, token.KeyActive); err != nil {
			return err
		}
		return p.insertKey(v.ID, PurposeToken, v.PublicKey, v.NotBefore, at)

	case tlog.KindKeyRevoked:
		v, err := event[evKeyRevoked](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE token_keys SET status = ? WHERE id = ?", token.KeyRevoked, v.ID); err != nil {
			return err
		}
		return p.touch("token_keys", nil, v.ID)

	case tlog.KindTrustImported:
		v, err := event[evTrustImported](e, pub)
		if err != nil {
			return err
		}
		key, err := hex.DecodeString(v.TrustKey)
		if err != nil {
			return fmt.Errorf("entry %d: trust_key: %w", e.Index, err)
		}
		if err := p.insert("trust_imports", colsTrustImports, ` ON CONFLICT (issuer) DO UPDATE SET trust_key = excluded.trust_key, version = excluded.version,
			envelope = excluded.envelope, imported_at = excluded.imported_at, log_index = excluded.log_index`,
			v.Issuer, key, v.Version, []byte{}, at, e.Index); err != nil {
			return err
		}
		if err := p.flush(); err != nil { // an upsert: one row a statement
			return err
		}
		return p.touch("trust_imports", nil, v.Issuer)

	case tlog.KindAppealFiled:
		v, err := event[evAppealFiled](e, pub)
		if err != nil {
			return err
		}
		pv, has, err := personalOf[evAppealFiledPersonal](e, pers)
		if err != nil {
			return err
		}
		return p.applyAppealFiled(e, v, pv, has, at)

	case tlog.KindAppealConsented:
		v, err := event[evAppealConsented](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE appeals SET status = ?, consent = ?, deadline = ? WHERE id = ?", healthcode.AppealOpen, "confirmed", v.Deadline, v.Appeal); err != nil {
			return err
		}
		return p.appealStep(v.Appeal, "", at)

	case tlog.KindAppealDecided:
		v, err := event[evAppealDecided](e, pub)
		if err != nil {
			return err
		}
		pv, has, err := personalOf[evAppealDecidedPersonal](e, pers)
		if err != nil {
			return err
		}
		status := healthcode.AppealGranted
		if v.Decision != "granted" {
			status = healthcode.AppealDenied
		}
		// The reason is personal; a decision without one has no personal
		// part, which is no erasure.
		// A v2 entry is applied only with its personal part (an erased
		// one is not applied at all).
		known := has || e.Personal == (sumtlog.Hash{}) || e.V2()
		if err := p.exec("UPDATE appeals SET status = ?, decided_by = ?, decided_at = ?, reason = ?, decided_log = ? WHERE id = ?",
			status, e.Actor.ID, at, pv.Reason, e.Index, v.Appeal); err != nil {
			return err
		}
		if err := p.touch("appeals", &known, v.Appeal); err != nil {
			return err
		}
		return p.appealStep(v.Appeal, v.Decision, at)

	case tlog.KindAppealEscalated:
		v, err := event[evAppealEscalated](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE appeals SET assigned = ?, deadline = ?, escalations = escalations + 1 WHERE id = ?", v.To, v.Deadline, v.Appeal); err != nil {
			return err
		}
		return p.appealStep(v.Appeal, v.From+" → "+v.To, at)

	case tlog.KindDataAccessed:
		v, err := event[evDataAccessed](e, pub)
		if err != nil {
			return err
		}
		if err := p.insert("data_access", colsDataAccess, "", e.Index, v.Resident, e.Actor.ID, e.Actor.Post, v.What, at); err != nil {
			return err
		}
		return p.touch("data_access", nil, e.Index)

	case tlog.KindAlertRaised:
		v, err := event[evAlert](e, pub)
		if err != nil {
			return err
		}
		priv, has, err := personalOf[evAlertPersonal](e, pers)
		if err != nil {
			return err
		}
		subject, detail := v.Subject, []byte(v.Detail)
		if has {
			var d map[string]any
			if err := json.Unmarshal(v.Detail, &d); err != nil {
				return fmt.Errorf("entry %d: alert detail: %w", e.Index, err)
			}
			if d == nil {
				d = map[string]any{}
			}
			for k, s := range priv.Detail {
				d[k] = s
			}
			if detail, err = json.Marshal(d); err != nil {
				return err
			}
			subject = priv.Subject
		}
		if err := p.insert("alerts", colsAlerts, "", v.Alert, v.Kind, subject, v.Jurisdiction, string(detail), at, e.Index, e.Subject); err != nil {
			return err
		}
		return p.touch("alerts", nil, v.Alert)

	case tlog.KindJobStarted:
		v, err := event[evJobStarted](e, pub)
		if err != nil {
			return err
		}
		params, err := json.Marshal(v.Params)
		if err != nil {
			return err
		}
		if err := p.insert("jobs", colsJobs, "", v.Job, v.Kind, string(params), healthcode.JobPending, v.RunAt, at, e.Index); err != nil {
			return err
		}
		return p.touch("jobs", nil, v.Job)

	case tlog.KindJobFinished:
		v, err := event[evJobFinished](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?", healthcode.JobDone, at, v.Job); err != nil {
			return err
		}
		return p.touch("jobs", nil, v.Job)

	case tlog.KindJobProgressed:
		return nil // progress is operational (the job's cursor and counters)

	case tlog.KindLogContinued:
		_, err := event[evLogContinued](e, pub)
		return err // projects to no row: VerifyLog checks the cited checkpoint

	case tlog.KindLogErased:
		v, err := event[evLogErased](e, pub)
		if err != nil || v.Resident == "" {
			return err // retention: the personal parts of facts, no projected column
		}
		if err := p.exec("UPDATE residents SET name = '', phone = '', erase_requested_by = '', erase_requested_log = -1 WHERE id = ?", v.Resident); err != nil {
			return err
		}
		if e.V2() {
			// The resident's v2 entries no longer open: the rows they set
			// cannot be rebuilt, and go, with those of any v1 entries.
			rec, has, err := personalOf[evLogErasedPersonal](e, pers)
			if err != nil {
				return err
			}
			if !has {
				rec = nil // before the record, or a resident with v1 entries
			}
			return p.eraseRows(v.Resident, e.County, rec)
		}
		// The personal columns of the resident's appeals and attachments
		// (their contents are operational and deleted by the erasure).
		if err := p.exec("UPDATE appeals SET consent = '', statement = '', reason = '' WHERE resident = ?", v.Resident); err != nil {
			return err
		}
		if err := p.exec("UPDATE appeal_attachments SET name = '' WHERE appeal IN (SELECT id FROM appeals WHERE resident = ?)", v.Resident); err != nil {
			return err
		}
		f := false
		return p.touch("residents", &f, v.Resident)

	case tlog.KindLogEraseRequested:
		v, err := event[evEraseRequested](e, pub)
		if err != nil {
			return err
		}
		if err := p.exec("UPDATE residents SET erase_requested_by = ?, erase_requested_log = ? WHERE id = ?", e.Actor.ID, e.Index, v.Resident); err != nil {
			return err
		}
		return p.touch("residents", nil, v.Resident)
	}
	return fmt.Errorf("entry %d: no projection for kind %q", e.Index, e.Kind)
}

// The columns of the rows the apply functions insert.
var (
	colsJurisdictions = []string{"code", "name", "level", "parent", "log_index"}
	colsResidents     = []string{"id", "id_hash", "name", "phone", "jurisdiction", "created_at", "log_index", "id_masked"}
	colsOfficials     = []string{"id", "name", "role", "jurisdiction", "disabled", "created_at", "log_index"}
	colsSources       = []string{"id", "name", "kinds", "jurisdiction", "key_hash", "disabled", "created_at", "log_index"}
	colsFacts         = []string{"uid", "origin", "id", "kind", "subject", "observed_at", "recorded_at", "source", "recorded_by", "approved_by", "evidence",
		"evidence_salt", "payload", "status", "content_hash", "log_index", "area", "case_id"}
	colsFactHolds        = []string{"fact", "subject", "approval_scope", "why", "log_index"}
	colsCaseCitations    = []string{"case_id", "resident"}
	colsDesignationHolds = []string{"designation", "resident", "appeal", "approval_scope", "status", "log_index"}
	colsCodeChanges      = []string{"resident", "log_index", "colour", "previous", "changed_at", "ruleset", "ruleset_version", "rule", "fact_ids", "cause", "omitted", "ruleset_by", "designation", "designation_by"}
	colsEvalFailures     = []string{"log_index", "resident", "failed_at", "ruleset", "ruleset_version", "error", "cause", "job"}
	colsRulesets         = []string{"id", "version", "scope", "status", "source", "legal_number", "legal_title", "effective_at", "drafted_by", "drafted_at", "log_index"}
	colsTokenKeys        = []string{"id", "purpose", "public_key", "sealed", "not_before", "not_after", "status", "created_at", "log_index"}
	colsTrustImports     = []string{"issuer", "trust_key", "version", "envelope", "imported_at", "log_index"}
	colsAppeals          = []string{"id", "resident", "home", "assigned", "filed_by", "filed_by_kind", "consent", "fact_keys", "statement", "status", "filed_at", "deadline", "log_index"}
	colsAttachments      = []string{"appeal", "n", "name", "media_type", "sha256", "size", "data"}
	colsAppealSteps      = []string{"log_index", "appeal", "resident", "kind", "actor", "post", "detail", "at"}
	colsDataAccess       = []string{"log_index", "resident", "official", "post", "what", "at"}
	colsAlerts           = []string{"id", "kind", "subject", "jurisdiction", "detail", "raised_at", "log_index", "resident"}
	colsJobs             = []string{"id", "kind", "params", "status", "run_at", "created_at", "log_index"}
)

// setCol sets column name of an inserted row (a fill function's helper).
func setCol(cols []string, vals []any, name string, v any) {
	for i, c := range cols {
		if c == name {
			vals[i] = v
			return
		}
	}
	panic("setCol: no column " + name)
}

func (p *projector) insertKey(id, purpose, pubHex, notBefore, at string) error {
	pub, err := hex.DecodeString(pubHex)
	if err != nil {
		return fmt.Errorf("entry %d: public_key: %w", p.e.Index, err)
	}
	if err := p.insert("token_keys", colsTokenKeys, "", id, purpose, pub, []byte{}, notBefore, "", token.KeyActive, at, p.e.Index); err != nil {
		return err
	}
	return p.touch("token_keys", nil, id)
}

func (p *projector) applyFactRecorded(e *tlog.Entry, v *factEntry, at string) error {
	f := healthcode.Fact{Key: v.Key, ID: v.ID, Kind: v.Kind, Subject: v.Subject, Source: v.Source, Payload: v.Payload, Status: v.Status}
	if v.Source == "" {
		f.RecordedBy = e.Actor.ID
	}
	area, caseID := v.area, v.caseID
	if !v.derived {
		var err error
		if area, caseID, err = factRefs(&f); err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
	}
	if err := p.insert("facts", colsFacts, "", f.Key, f.Origin(), f.ID, f.Kind, f.Subject, v.ObservedAt, at, f.Source, f.RecordedBy, "", "",
		[]byte{}, string(f.Payload), string(f.Status), []byte{}, e.Index, area, caseID); err != nil {
		return err
	}
	if err := p.touch("facts", nil, f.Key); err != nil {
		return err
	}
	if v.ApprovalScope != "" {
		if err := p.insert("fact_holds", colsFactHolds, "", f.Key, personSubject(&f), v.ApprovalScope, "", e.Index); err != nil {
			return err
		}
		if err := p.touch("fact_holds", nil, f.Key); err != nil {
			return err
		}
	}
	if cites(f.Kind) && personSubject(&f) != "" {
		cases, err := rules.CitedCases(&f)
		if err != nil {
			return fmt.Errorf("entry %d: cited cases: %w", e.Index, err)
		}
		for _, c := range cases {
			if err := p.insert("case_citations", colsCaseCitations, " ON CONFLICT DO NOTHING", c, f.Subject); err != nil {
				return err
			}
			if err := p.touch("case_citations", nil, c, f.Subject); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *projector) applyAppealFiled(e *tlog.Entry, v *evAppealFiled, pv *evAppealFiledPersonal, has bool, at string) error {
	consent := "self"
	switch {
	case v.Status == healthcode.AppealAwaitingConsent:
		consent = ""
	case pv.ConsentRef != "":
		consent = "ref:" + pv.ConsentRef
	}
	if err := p.flush(); err != nil {
		return err
	}
	var home string
	if err := p.tx.QueryRowContext(p.ctx, p.d.rebind("SELECT jurisdiction FROM residents WHERE id = ?"), v.Resident).Scan(&home); err != nil {
		return fmt.Errorf("entry %d: appeal of resident %s: %w", e.Index, v.Resident, err)
	}
	fk, err := json.Marshal(v.Facts)
	if err != nil {
		return err
	}
	if err := p.insert("appeals", colsAppeals, "", v.Appeal, v.Resident, home, v.Assigned, e.Actor.ID, e.Actor.Kind, consent, string(fk), pv.Statement,
		v.Status, at, v.Deadline, e.Index); err != nil {
		return err
	}
	if err := p.touch("appeals", &has, v.Appeal); err != nil {
		return err
	}
	for i, a := range v.Attachments {
		var name string
		if i < len(pv.AttachmentNames) {
			name = pv.AttachmentNames[i]
		}
		if err := p.insert("appeal_attachments", colsAttachments, "", v.Appeal, i, name, "", a.SHA256, a.Size, []byte{}); err != nil {
			return err
		}
		if err := p.touch("appeal_attachments", &has, v.Appeal, i); err != nil {
			return err
		}
	}
	return nil
}

// appealStep inserts the step row of the current entry.
func (p *projector) appealStep(appeal, detail, at string) error {
	e := p.e
	if err := p.insert("appeal_steps", colsAppealSteps, "", e.Index, appeal, e.Subject, string(e.Kind), e.Actor.Kind+":"+e.Actor.ID, e.Actor.Post, detail, at); err != nil {
		return err
	}
	if err := p.touch("appeals", nil, appeal); err != nil {
		return err
	}
	return p.touch("appeal_steps", nil, e.Index)
}

// eraseRows deletes every projected row about resident id of county (log.erased in
// a v2 log): the rebuilt projection, which cannot open the resident's
// erased entries, has none of them either. What the rows added to the
// statistics stays in erased_counts (countErasure).
func (p *projector) eraseRows(id, county string, rec *evLogErasedPersonal) error {
	if err := p.countErasure(id, county, rec); err != nil {
		return err
	}
	for _, q := range []string{
		"DELETE FROM appeal_attachments WHERE appeal IN (SELECT id FROM appeals WHERE resident = ?)",
		"DELETE FROM appeal_steps WHERE resident = ?",
		"DELETE FROM appeals WHERE resident = ?",
		"DELETE FROM code_changes WHERE resident = ?",
		"DELETE FROM codes WHERE resident = ?",
		"DELETE FROM fact_holds WHERE subject = ?",
		"DELETE FROM designation_holds WHERE resident = ?",
		"DELETE FROM case_citations WHERE resident = ?",
		"DELETE FROM facts WHERE subject = ? AND kind <> 'risk_area'",
		"DELETE FROM data_access WHERE resident = ?",
		"DELETE FROM alerts WHERE resident = ?",
		"DELETE FROM evaluation_failures WHERE resident = ?",
		"DELETE FROM residents WHERE id = ?",
	} {
		if err := p.exec(q, id); err != nil {
			return fmt.Errorf("erase the rows of %s: %w", id, err)
		}
	}
	return nil
}

// jsonListCol is a list as a column: its JSON, or "" if empty.
func jsonListCol(list []string) (string, error) {
	if len(list) == 0 {
		return "", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}
