package store

// The apply functions: one per kind of entry, each the projection of that
// kind onto the state tables. Rebuilding the projection (log verify, log
// rebuild) runs them over the log alone; an entry whose payload does not
// decode into its kind's shape is an error, never skipped.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/token"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// projector applies entries to one database's state tables, inside tx.
// It notes, per row, the entry that last set it (in projection_last) and
// which rows' personal columns could not be rebuilt because their
// personal part is erased.
type projector struct {
	ctx   context.Context
	tx    *sql.Tx
	d     dialect
	e     *tlog.Entry
	stmts map[string]*sql.Stmt // tx's prepared statements, by query: preparing each exec anew was 40% of a rebuild
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
	st, ok := p.stmts[q]
	if !ok {
		var err error
		if st, err = p.tx.PrepareContext(p.ctx, p.d.rebind(q)); err != nil {
			return err
		}
		if p.stmts == nil {
			p.stmts = make(map[string]*sql.Stmt)
		}
		p.stmts[q] = st
	}
	_, err := st.ExecContext(p.ctx, args...)
	return err
}

// touch notes that the current entry set a row. hasPersonal false marks
// the row's personal columns unknown (an erased personal part); once
// unknown they stay so. nil or true leaves the mark as it is.
func (p *projector) touch(table string, hasPersonal *bool, key ...any) error {
	k := rowKey(key...)
	if hasPersonal == nil {
		return p.exec(`INSERT INTO projection_last (tbl, row_key, idx, personal) VALUES (?, ?, ?, 1)
			ON CONFLICT (tbl, row_key) DO UPDATE SET idx = excluded.idx`, table, k, p.e.Index)
	}
	v := 0
	if *hasPersonal {
		v = 1
	}
	return p.exec(`INSERT INTO projection_last (tbl, row_key, idx, personal) VALUES (?, ?, ?, ?)
		ON CONFLICT (tbl, row_key) DO UPDATE SET idx = excluded.idx,
		personal = CASE WHEN excluded.personal = 0 THEN 0 ELSE projection_last.personal END`, table, k, p.e.Index, v)
}

func rowKey(key ...any) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = fmt.Sprint(k)
	}
	return strings.Join(parts, "/")
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
		Code, Name, Level, Parent string
	}
	evResident struct {
		ID           string `json:"id"`
		Jurisdiction string `json:"jurisdiction"`
	}
	evResidentPersonal struct {
		Name   string `json:"name"`
		Phone  string `json:"phone"`
		IDHash []byte `json:"id_hash"`
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
		RecordedBy    string `json:"recorded_by"`
		RecordedEntry int64  `json:"recorded_entry"`
		Reason        string `json:"reason"`
	}
	evFactRetracted struct {
		Key            string `json:"key"`
		Reason         string `json:"reason"`
		PreviousStatus string `json:"previous_status"`
		RecordedEntry  int64  `json:"recorded_entry"`
	}
	evCodeChanged struct {
		Colour         string   `json:"colour"`
		Previous       string   `json:"previous"`
		Ruleset        string   `json:"ruleset"`
		RulesetVersion int      `json:"ruleset_version"`
		Rule           string   `json:"rule"`
		FactIDs        []string `json:"fact_ids"`
		Cause          string   `json:"cause"`
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
		Reason       string `json:"reason"`
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
		Appeal      string   `json:"appeal"`
		Resident    string   `json:"resident"`
		Facts       []string `json:"facts"`
		Status      string   `json:"status"`
		Assigned    string   `json:"assigned"`
		Deadline    string   `json:"deadline"`
		Attachments []struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"attachments"`
	}
	evAppealFiledPersonal struct {
		Statement       string   `json:"statement"`
		AttachmentNames []string `json:"attachment_names"`
		ConsentRef      string   `json:"consent_ref"`
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
	}
	evLogErased struct {
		Resident      string `json:"resident"`
		PersonalParts int64  `json:"personal_parts"`
	}
)

// apply projects one entry. personalData is the entry's personal part
// when it is held in log_personal and not erased, else nil.
func (p *projector) apply(e *tlog.Entry, personalData []byte) error {
	p.e = e
	at := fmtTime(e.Time)
	decode := func(v any) error {
		if err := decodeStrict(e.Payload, v); err != nil {
			return fmt.Errorf("entry %d: %s payload does not decode: %w", e.Index, e.Kind, err)
		}
		return nil
	}
	decodePersonal := func(v any) (bool, error) {
		if personalData == nil {
			return false, nil
		}
		if err := decodeStrict(personalData, v); err != nil {
			return false, fmt.Errorf("entry %d: %s personal part does not decode: %w", e.Index, e.Kind, err)
		}
		return true, nil
	}
	switch e.Kind {
	case tlog.KindJurisdictionCreated:
		var v evJurisdiction
		if err := decode(&v); err != nil {
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
		if err := p.exec("INSERT INTO jurisdictions (code, name, level, parent, log_index) VALUES (?, ?, ?, ?, ?)",
			v.Code, v.Name, int(lvl), parent, e.Index); err != nil {
			return err
		}
		return p.touch("jurisdictions", nil, v.Code)

	case tlog.KindResidentRegistered:
		var v evResident
		var pv evResidentPersonal
		if err := decode(&v); err != nil {
			return err
		}
		has, err := decodePersonal(&pv)
		if err != nil {
			return err
		}
		idHash := pv.IDHash
		if !has || len(idHash) == 0 {
			idHash = []byte("erased:" + v.ID) // unique placeholder; the column is operational
		}
		if err := p.exec("INSERT INTO residents (id, id_hash, name, phone, jurisdiction, created_at, log_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
			v.ID, idHash, pv.Name, pv.Phone, v.Jurisdiction, at, e.Index); err != nil {
			return err
		}
		return p.touch("residents", &has, v.ID)

	case tlog.KindOfficialCreated:
		var v evOfficial
		var pv evOfficialPersonal
		if err := decode(&v); err != nil {
			return err
		}
		has, err := decodePersonal(&pv)
		if err != nil {
			return err
		}
		if err := p.exec("INSERT INTO officials (id, name, role, jurisdiction, disabled, created_at, log_index) VALUES (?, ?, ?, ?, 0, ?, ?)",
			v.ID, pv.Name, v.Role, v.Jurisdiction, at, e.Index); err != nil {
			return err
		}
		return p.touch("officials", &has, v.ID)

	case tlog.KindOfficialDisabled:
		var v evOfficialDisabled
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE officials SET disabled = 1 WHERE id = ?", v.ID); err != nil {
			return err
		}
		return p.touch("officials", nil, v.ID)

	case tlog.KindSourceCreated:
		var v evSource
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("INSERT INTO sources (id, name, kinds, jurisdiction, key_hash, disabled, created_at, log_index) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
			v.ID, v.Name, strings.Join(v.Kinds, ","), v.Jurisdiction, []byte("unknown:"+v.ID), at, e.Index); err != nil {
			return err
		}
		return p.touch("sources", nil, v.ID)

	case tlog.KindSourceDisabled:
		var v evSourceDisabled
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE sources SET disabled = 1 WHERE id = ?", v.ID); err != nil {
			return err
		}
		return p.touch("sources", nil, v.ID)

	case tlog.KindFactRecorded:
		return p.applyFactRecorded(e, at)

	case tlog.KindFactApproved, tlog.KindFactRejected:
		var v evFactDecided
		if err := decode(&v); err != nil {
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
		var v evFactRetracted
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE facts SET status = ?, retracted_by = ?, reason = ?, decided_log = ? WHERE uid = ?",
			string(healthcode.FactRetracted), e.Actor.ID, v.Reason, e.Index, v.Key); err != nil {
			return err
		}
		return p.touch("facts", nil, v.Key)

	case tlog.KindCodeChanged:
		var v evCodeChanged
		if err := decode(&v); err != nil {
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
			return err
		}
		if err := p.exec(`INSERT INTO code_changes (resident, log_index, colour, previous, changed_at, ruleset, ruleset_version, rule, fact_ids, cause)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Subject, e.Index, v.Colour, v.Previous, at, v.Ruleset, v.RulesetVersion, v.Rule, string(fids), v.Cause); err != nil {
			return err
		}
		if err := p.touch("codes", nil, e.Subject); err != nil {
			return err
		}
		return p.touch("code_changes", nil, e.Index)

	case tlog.KindRulesetDrafted:
		var v evRulesetDrafted
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec(`INSERT INTO rulesets (id, version, scope, status, source, legal_number, legal_title, effective_at, drafted_by, drafted_at, log_index)
			VALUES (?, ?, ?, ?, '', ?, '', ?, ?, ?, ?)`, v.ID, v.Version, v.Scope, RulesetDraft, v.LegalBasis, v.EffectiveAt, e.Actor.ID, at, e.Index); err != nil {
			return err
		}
		return p.touch("rulesets", nil, v.ID, v.Version)

	case tlog.KindRulesetPublished, tlog.KindRulesetRefused:
		var v evRulesetDecided
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE rulesets SET status = ?, decided_by = ?, decided_at = ?, reason = ?, decided_log = ? WHERE id = ? AND version = ?",
			v.Decision, e.Actor.ID, at, v.Reason, e.Index, v.ID, v.Version); err != nil {
			return err
		}
		return p.touch("rulesets", nil, v.ID, v.Version)

	case tlog.KindKeyAdded:
		var v evKeyAdded
		if err := decode(&v); err != nil {
			return err
		}
		return p.insertKey(v.ID, v.Purpose, v.PublicKey, v.NotBefore, at)

	case tlog.KindKeyRotated:
		var v evKeyRotated
		if err := decode(&v); err != nil {
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
		var v evKeyRevoked
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE token_keys SET status = ? WHERE id = ?", token.KeyRevoked, v.ID); err != nil {
			return err
		}
		return p.touch("token_keys", nil, v.ID)

	case tlog.KindTrustImported:
		var v evTrustImported
		if err := decode(&v); err != nil {
			return err
		}
		key, err := hex.DecodeString(v.TrustKey)
		if err != nil {
			return fmt.Errorf("entry %d: trust_key: %w", e.Index, err)
		}
		if err := p.exec(`INSERT INTO trust_imports (issuer, trust_key, version, envelope, imported_at, log_index) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (issuer) DO UPDATE SET trust_key = excluded.trust_key, version = excluded.version,
			imported_at = excluded.imported_at, log_index = excluded.log_index`,
			v.Issuer, key, v.Version, []byte{}, at, e.Index); err != nil {
			return err
		}
		return p.touch("trust_imports", nil, v.Issuer)

	case tlog.KindAppealFiled:
		return p.applyAppealFiled(e, at, decode, decodePersonal)

	case tlog.KindAppealConsented:
		var v evAppealConsented
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE appeals SET status = ?, consent = ?, deadline = ? WHERE id = ?", AppealOpen, "confirmed", v.Deadline, v.Appeal); err != nil {
			return err
		}
		return p.appealStep(v.Appeal, "", at)

	case tlog.KindAppealDecided:
		var v evAppealDecided
		var pv struct {
			Reason string `json:"reason"`
		}
		if err := decode(&v); err != nil {
			return err
		}
		has, err := decodePersonal(&pv)
		if err != nil {
			return err
		}
		status := AppealGranted
		if v.Decision != "granted" {
			status = AppealDenied
		}
		// The reason is personal; a decision without one has no personal
		// part, which is no erasure.
		known := has || e.Personal == (sumtlog.Hash{})
		if err := p.exec("UPDATE appeals SET status = ?, decided_by = ?, decided_at = ?, reason = ?, decided_log = ? WHERE id = ?",
			status, e.Actor.ID, at, pv.Reason, e.Index, v.Appeal); err != nil {
			return err
		}
		if err := p.touch("appeals", &known, v.Appeal); err != nil {
			return err
		}
		return p.appealStep(v.Appeal, v.Decision, at)

	case tlog.KindAppealEscalated:
		var v evAppealEscalated
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE appeals SET assigned = ?, deadline = ?, escalations = escalations + 1 WHERE id = ?", v.To, v.Deadline, v.Appeal); err != nil {
			return err
		}
		return p.appealStep(v.Appeal, v.From+" → "+v.To, at)

	case tlog.KindDataAccessed:
		var v evDataAccessed
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("INSERT INTO data_access (log_index, resident, official, post, what, at) VALUES (?, ?, ?, ?, ?, ?)",
			e.Index, v.Resident, e.Actor.ID, e.Actor.Post, v.What, at); err != nil {
			return err
		}
		return p.touch("data_access", nil, e.Index)

	case tlog.KindAlertRaised:
		var v evAlert
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("INSERT INTO alerts (id, kind, subject, jurisdiction, detail, raised_at, log_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
			v.Alert, v.Kind, v.Subject, v.Jurisdiction, string(v.Detail), at, e.Index); err != nil {
			return err
		}
		return p.touch("alerts", nil, v.Alert)

	case tlog.KindJobStarted:
		var v evJobStarted
		if err := decode(&v); err != nil {
			return err
		}
		params, err := json.Marshal(v.Params)
		if err != nil {
			return err
		}
		if err := p.exec("INSERT INTO jobs (id, kind, params, status, run_at, created_at, log_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
			v.Job, v.Kind, string(params), JobPending, v.RunAt, at, e.Index); err != nil {
			return err
		}
		return p.touch("jobs", nil, v.Job)

	case tlog.KindJobFinished:
		var v evJobFinished
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?", JobDone, at, v.Job); err != nil {
			return err
		}
		return p.touch("jobs", nil, v.Job)

	case tlog.KindJobProgressed:
		return nil // progress is operational (the job's cursor and counters)

	case tlog.KindLogErased:
		var v evLogErased
		if err := decode(&v); err != nil {
			return err
		}
		if err := p.exec("UPDATE residents SET name = '', phone = '' WHERE id = ?", v.Resident); err != nil {
			return err
		}
		f := false
		return p.touch("residents", &f, v.Resident)
	}
	return fmt.Errorf("entry %d: no projection for kind %q", e.Index, e.Kind)
}

func (p *projector) insertKey(id, purpose, pubHex, notBefore, at string) error {
	pub, err := hex.DecodeString(pubHex)
	if err != nil {
		return fmt.Errorf("entry %d: public_key: %w", p.e.Index, err)
	}
	if err := p.exec(`INSERT INTO token_keys (id, purpose, public_key, sealed, not_before, not_after, status, created_at, log_index)
		VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)`, id, purpose, pub, []byte{}, notBefore, token.KeyActive, at, p.e.Index); err != nil {
		return err
	}
	return p.touch("token_keys", nil, id)
}

func (p *projector) applyFactRecorded(e *tlog.Entry, at string) error {
	var v factEntry
	if err := decodeStrict(e.Payload, &v); err != nil {
		return fmt.Errorf("entry %d: %s payload does not decode: %w", e.Index, e.Kind, err)
	}
	f := healthcode.Fact{Key: v.Key, ID: v.ID, Kind: v.Kind, Subject: v.Subject, Source: v.Source, Payload: v.Payload, Status: v.Status}
	if v.Source == "" {
		f.RecordedBy = e.Actor.ID
	}
	var area, caseID string
	switch f.Kind {
	case rules.KindAreaVisit, rules.KindCaseStatus:
		var q struct {
			Area   string `json:"area"`
			CaseID string `json:"case_id"`
		}
		if err := json.Unmarshal(f.Payload, &q); err != nil {
			return fmt.Errorf("entry %d: fact payload: %w", e.Index, err)
		}
		area, caseID = q.Area, q.CaseID
	case rules.KindRiskArea:
		area = f.Subject
	}
	if err := p.exec(`INSERT INTO facts (uid, origin, id, kind, subject, observed_at, recorded_at, source, recorded_by, approved_by, evidence,
		evidence_salt, payload, status, content_hash, log_index, area, case_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, ?, ?, ?, ?)`,
		f.Key, f.Origin(), f.ID, f.Kind, f.Subject, v.ObservedAt, at, f.Source, f.RecordedBy, []byte{}, string(f.Payload), string(f.Status),
		[]byte{}, e.Index, area, caseID); err != nil {
		return err
	}
	if err := p.touch("facts", nil, f.Key); err != nil {
		return err
	}
	if v.ApprovalScope != "" {
		if err := p.exec("INSERT INTO fact_holds (fact, subject, approval_scope, why, log_index) VALUES (?, ?, ?, '', ?)",
			f.Key, personSubject(&f), v.ApprovalScope, e.Index); err != nil {
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
			if err := p.exec("INSERT INTO case_citations (case_id, resident) VALUES (?, ?) ON CONFLICT DO NOTHING", c, f.Subject); err != nil {
				return err
			}
			if err := p.touch("case_citations", nil, c, f.Subject); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *projector) applyAppealFiled(e *tlog.Entry, at string, decode func(any) error, decodePersonal func(any) (bool, error)) error {
	var v evAppealFiled
	var pv evAppealFiledPersonal
	if err := decode(&v); err != nil {
		return err
	}
	has, err := decodePersonal(&pv)
	if err != nil {
		return err
	}
	consent := "self"
	switch {
	case v.Status == AppealAwaitingConsent:
		consent = ""
	case pv.ConsentRef != "":
		consent = "ref:" + pv.ConsentRef
	}
	var home string
	if err := p.tx.QueryRowContext(p.ctx, p.d.rebind("SELECT jurisdiction FROM residents WHERE id = ?"), v.Resident).Scan(&home); err != nil {
		return fmt.Errorf("entry %d: appeal of resident %s: %w", e.Index, v.Resident, err)
	}
	fk, err := json.Marshal(v.Facts)
	if err != nil {
		return err
	}
	if err := p.exec(`INSERT INTO appeals (id, resident, home, assigned, filed_by, filed_by_kind, consent, fact_keys, statement, status, filed_at, deadline, log_index)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Appeal, v.Resident, home, v.Assigned, e.Actor.ID, e.Actor.Kind, consent, string(fk), pv.Statement, v.Status, at, v.Deadline, e.Index); err != nil {
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
		if err := p.exec("INSERT INTO appeal_attachments (appeal, n, name, media_type, sha256, size, data) VALUES (?, ?, ?, '', ?, ?, ?)",
			v.Appeal, i, name, a.SHA256, a.Size, []byte{}); err != nil {
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
	if err := p.exec("INSERT INTO appeal_steps (log_index, appeal, resident, kind, actor, post, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		e.Index, appeal, e.Subject, string(e.Kind), e.Actor.Kind+":"+e.Actor.ID, e.Actor.Post, detail, at); err != nil {
		return err
	}
	if err := p.touch("appeals", nil, appeal); err != nil {
		return err
	}
	return p.touch("appeal_steps", nil, e.Index)
}
