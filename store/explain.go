package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// ExplainedFact is a fact behind a code, with who recorded and approved it.
type ExplainedFact struct {
	Key        string
	Kind       string
	ObservedAt time.Time
	Payload    json.RawMessage
	Status     string
	RecordedBy healthcode.Party
	ApprovedBy *healthcode.Party
	LogIndex   int64
}

// Explanation is why a code is what it is: the colour, since when, the rule
// and its legal basis, the facts, and the log entry of the change.
type Explanation struct {
	Resident       string
	Colour         healthcode.Colour
	Previous       healthcode.Colour
	Since          time.Time
	Cause          string
	LogIndex       int64
	RuleSet        string
	RuleSetVersion int
	LegalBasis     *rules.LegalBasis
	Rule           string
	Reason         map[string]string
	Facts          []ExplainedFact
	// Outlook is what happens next if nothing new is recorded (Explain
	// only; History leaves it nil).
	Outlook *healthcode.Outlook
	// Omitted counts by kind the resident's facts that the evaluation
	// left out, beyond the kind's bound (the most recent are kept, fairly
	// among their sources: docs/facts.md).
	Omitted map[string]int
	// RulesetDraftedBy and RulesetApprovedBy are the two command officers
	// who put the ruleset in force (its ruleset.drafted and
	// ruleset.published entries).
	RulesetDraftedBy  *healthcode.Party
	RulesetApprovedBy *healthcode.Party
	// Designation is the designation whose approval, recording or
	// retraction caused the change, and its recorder and approver, as the
	// code.changed entry names them.
	Designation           string
	DesignationRecordedBy *healthcode.Party
	DesignationApprovedBy *healthcode.Party

	// cited is what the code.changed entry names (code_changes).
	cited citedCols
}

// citedCols are the code_changes columns naming the officials behind a
// change (evCodeChanged): JSON lists, or "".
type citedCols struct{ rulesetBy, designationBy string }

// Explain returns why the resident's code is what it is now. Officials'
// reads are logged as data.accessed and shown to the resident. Returns
// ENOTFOUND, EUNAUTH, EFORBIDDEN.
func (db *DB) Explain(ctx context.Context, residentID string) (*Explanation, error) {
	res, err := db.readResident(ctx, residentID, "code")
	if err != nil {
		return nil, err
	}
	c, err := db.code(ctx, db.db, residentID)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Resident: residentID, Colour: c.Colour, Since: c.Since, LogIndex: c.LogIndex,
		RuleSet: c.RuleSet, RuleSetVersion: c.RuleSetVersion, Rule: c.Rule}
	if c.RuleSet != "" {
		var omitted string
		if err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT previous, cause, omitted, ruleset_by, designation, designation_by FROM code_changes WHERE log_index = ?"), c.LogIndex).
			Scan(&ex.Previous, &ex.Cause, &omitted, &ex.cited.rulesetBy, &ex.Designation, &ex.cited.designationBy); err != nil {
			return nil, fmt.Errorf("read code change %d: %w", c.LogIndex, err)
		}
		if err := decodeOmitted(ex, omitted); err != nil {
			return nil, err
		}
	}
	if ex.Outlook, err = db.outlook(ctx, residentID, res.Jurisdiction); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// A rule that fails at run time (recorded and alerted by the
		// evaluation: evaluation.failed) leaves the code as it was; its
		// explanation is still served, without the outlook.
		db.logger.Warn("outlook left out of an explanation", "resident", residentID, "err", err)
		ex.Outlook = nil
	}
	return ex, db.fillExplanation(ctx, ex, c.FactIDs)
}

// History returns every change of the resident's code, newest first, with
// the same detail as Explain.
func (db *DB) History(ctx context.Context, residentID string, page int) ([]*Explanation, bool, error) {
	if _, err := db.readResident(ctx, residentID, "history"); err != nil {
		return nil, false, err
	}
	limit, offset := pageBounds(page)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT log_index, colour, previous, changed_at, ruleset, ruleset_version, rule, fact_ids, cause, omitted, ruleset_by, designation, designation_by
		FROM code_changes WHERE resident = ? ORDER BY log_index DESC LIMIT ? OFFSET ?`), residentID, limit, offset)
	type row struct {
		ex  *Explanation
		ids []string
	}
	var list []row
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		r := row{ex: &Explanation{Resident: residentID}}
		ex := r.ex
		var omitted string
		if err := rows.Scan(&ex.LogIndex, &ex.Colour, &ex.Previous, timeCol(&ex.Since), &ex.RuleSet, &ex.RuleSetVersion, &ex.Rule, jsonCol(&r.ids), &ex.Cause, &omitted,
			&ex.cited.rulesetBy, &ex.Designation, &ex.cited.designationBy); err != nil {
			return err
		}
		if err := decodeOmitted(ex, omitted); err != nil {
			return err
		}
		list = append(list, r)
		return nil
	}); err != nil {
		return nil, false, fmt.Errorf("read history: %w", err)
	}
	list, more := cutPage(list)
	out := make([]*Explanation, len(list))
	for i, r := range list {
		if err := db.fillExplanation(ctx, r.ex, r.ids); err != nil {
			return nil, false, err
		}
		out[i] = r.ex
	}
	return out, more, nil
}

// decodeOmitted sets ex.Omitted from a code change's omitted column.
func decodeOmitted(ex *Explanation, omitted string) error {
	if omitted == "" {
		return nil
	}
	return decodeStored(fmt.Sprintf("code change %d omitted", ex.LogIndex), []byte(omitted), &ex.Omitted)
}

func (db *DB) fillExplanation(ctx context.Context, ex *Explanation, factIDs []string) error {
	ex.Facts = []ExplainedFact{}
	if ex.RuleSet != "" {
		rs, err := db.compiledRuleset(ctx, ex.RuleSet, ex.RuleSetVersion)
		if err != nil {
			return err
		}
		lb := rs.LegalBasis()
		ex.LegalBasis = &lb
		// The entry names the two officials; a change logged before
		// entries named them takes them from the ruleset's row.
		by, err := decodeCited(ex, "ruleset_by", ex.cited.rulesetBy)
		if err != nil {
			return err
		}
		if len(by) == 0 {
			info, err := db.Ruleset(ctx, ex.RuleSet, ex.RuleSetVersion)
			if err != nil {
				return err
			}
			by = []string{info.DraftedBy, info.DecidedBy}
		}
		ex.RulesetDraftedBy, ex.RulesetApprovedBy = db.parties(ctx, healthcode.ActorOfficial, by)
		for _, r := range rs.Rules() {
			if r.ID == ex.Rule {
				ex.Reason = r.Reason
			}
		}
	}
	if ex.Designation != "" {
		by, err := decodeCited(ex, "designation_by", ex.cited.designationBy)
		if err != nil {
			return err
		}
		kind := healthcode.ActorOfficial
		if f, _, err := db.fact(ctx, db.db, ex.Designation); err == nil && len(by) > 0 && f.Source == by[0] {
			kind = healthcode.ActorSource
		}
		ex.DesignationRecordedBy, ex.DesignationApprovedBy = db.parties(ctx, kind, by)
	}
	for _, key := range factIDs {
		f, _, err := db.fact(ctx, db.db, key)
		if err != nil {
			return err
		}
		ef := ExplainedFact{Key: f.Key, Kind: f.Kind, ObservedAt: f.ObservedAt, Payload: f.Payload, Status: string(f.Status), LogIndex: f.LogIndex}
		if f.Source != "" {
			ef.RecordedBy = db.party(ctx, healthcode.ActorSource, f.Source)
		} else {
			ef.RecordedBy = db.party(ctx, healthcode.ActorOfficial, f.RecordedBy)
		}
		if f.ApprovedBy != "" {
			p := db.party(ctx, healthcode.ActorOfficial, f.ApprovedBy)
			ef.ApprovedBy = &p
		}
		ex.Facts = append(ex.Facts, ef)
	}
	return nil
}

// decodeCited decodes a code change's column naming officials (what).
func decodeCited(ex *Explanation, what, col string) ([]string, error) {
	if col == "" {
		return nil, nil
	}
	var by []string
	err := decodeStored(fmt.Sprintf("code change %d %s", ex.LogIndex, what), []byte(col), &by)
	return by, err
}

// parties names the first two of by (nil for one absent or empty), the
// first of kind, the second an official.
func (db *DB) parties(ctx context.Context, kind string, by []string) (first, second *healthcode.Party) {
	if len(by) > 0 && by[0] != "" {
		p := db.party(ctx, kind, by[0])
		first = &p
	}
	if len(by) > 1 && by[1] != "" {
		p := db.party(ctx, healthcode.ActorOfficial, by[1])
		second = &p
	}
	return first, second
}

// party names an official or source.
func (db *DB) party(ctx context.Context, kind, id string) healthcode.Party {
	p := healthcode.Party{Kind: kind, ID: id}
	switch kind {
	case healthcode.ActorOfficial:
		if o, err := db.Official(ctx, id); err == nil {
			p.Name, p.Role, p.Post = o.Name, string(o.Role), o.Jurisdiction
		}
	case healthcode.ActorSource:
		if s, err := db.source(ctx, id); err == nil {
			p.Name = s.Name
		}
	}
	return p
}

// compiledRuleset returns a stored ruleset compiled, cached by id and
// version (every version stays readable, and explanations cite old ones).
func (db *DB) compiledRuleset(ctx context.Context, id string, version int) (*rules.Ruleset, error) {
	key := fmt.Sprintf("%s@%d", id, version)
	if rs, ok := db.compiled.Load(key); ok {
		return rs.(*rules.Ruleset), nil
	}
	info, err := db.Ruleset(ctx, id, version)
	if err != nil {
		return nil, err
	}
	rs, err := rules.Parse(key, []byte(info.Source))
	if err != nil {
		return nil, fmt.Errorf("ruleset %s no longer compiles: %w", key, err)
	}
	db.compiled.Store(key, rs)
	return rs, nil
}

// readResident authorises reading a resident's data and, when an official
// reads it, records the access (data.accessed) for the resident to see.
func (db *DB) readResident(ctx context.Context, id, what string) (*healthcode.Resident, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "log in to read a resident's data")
	}
	r, err := db.resident(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := healthcode.Authorize(actor, healthcode.OpReadResident, r.Jurisdiction, r.ID); err != nil {
		return nil, err
	}
	if actor.Kind == healthcode.ActorOfficial && !readLogged(ctx, r.ID) {
		err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, []string{id}, what, true) })
		if err != nil {
			return nil, fmt.Errorf("record access: %w", err)
		}
	}
	return r, nil
}
