package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// replayer recomputes codes from the log alone: it follows the rulesets
// the entries record and, at every code.changed entry, re-evaluates the
// resident from the facts projected from the entries before it (in the
// scratch database's transaction: the state as of that entry) and
// compares. It is what makes "a code is a pure function of published
// rules and attributable facts" checkable by anyone holding the log and
// the published ruleset texts. It holds only the rulesets in memory.
type replayer struct {
	ctx       context.Context
	rep       *VerifyReport
	sources   map[string][]byte // "id@version" → stored ruleset text
	drafted   map[string]bool   // "id@version" drafted and its text matches
	published []*rules.Ruleset
	by        map[string][]string // "id@version" → its drafter and (once published) its approver, from the entries
	Changes   int                 // code changes replayed

	tx    *sql.Tx // the projection's transaction, and its statements
	stmts map[string]*sql.Stmt
}

func (db *DB) newReplayer(ctx context.Context, rep *VerifyReport) (*replayer, error) {
	r := &replayer{ctx: ctx, rep: rep, sources: map[string][]byte{}, drafted: map[string]bool{}, by: map[string][]string{}}
	rows, err := db.db.QueryContext(ctx, "SELECT id, version, source FROM rulesets")
	if err != nil {
		return nil, fmt.Errorf("read rulesets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, src string
		var v int
		if err := rows.Scan(&id, &v, &src); err != nil {
			return nil, err
		}
		r.sources[fmt.Sprintf("%s@%d", id, v)] = []byte(src)
	}
	return r, rows.Err()
}

// entry feeds one entry, in log order, before it is projected through tx.
// An entry whose payload does not decode into its kind's type is a problem
// of the report, never skipped.
func (r *replayer) entry(tx *sql.Tx, e *tlog.Entry) error {
	if tx != r.tx {
		r.tx, r.stmts = tx, map[string]*sql.Stmt{}
	}
	err := r.follow(e)
	var qe *queryError
	if errors.As(err, &qe) {
		return qe.err
	}
	if err != nil {
		r.rep.add(e.Index, "%v", err)
	}
	return nil
}

// queryError is a failure to read the scratch database: it stops the
// replay, unlike a problem of the log.
type queryError struct{ err error }

func (q *queryError) Error() string { return q.err.Error() }

// query runs q on the projection's transaction with a statement prepared
// once per transaction.
func (r *replayer) query(q string, args ...any) (*sql.Rows, error) {
	st := r.stmts[q]
	if st == nil {
		var err error
		if st, err = r.tx.PrepareContext(r.ctx, q); err != nil {
			return nil, &queryError{err}
		}
		r.stmts[q] = st
	}
	rows, err := st.QueryContext(r.ctx, args...)
	if err != nil {
		return nil, &queryError{err}
	}
	return rows, nil
}

func (r *replayer) follow(e *tlog.Entry) error {
	switch e.Kind {
	case tlog.KindRulesetDrafted:
		var v evRulesetDrafted
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		key := fmt.Sprintf("%s@%d", v.ID, v.Version)
		src, ok := r.sources[key]
		switch {
		case !ok:
			r.rep.add(e.Index, "ruleset %s was drafted but its text is not stored", key)
		case sha256Hex(src) != v.SourceSHA256:
			r.rep.add(e.Index, "the stored text of ruleset %s is not the one drafted (SHA-256 differs)", key)
		default:
			r.drafted[key] = true
			r.by[key] = []string{e.Actor.ID}
		}
	case tlog.KindRulesetPublished:
		var v evRulesetDecided
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		key := fmt.Sprintf("%s@%d", v.ID, v.Version)
		if !r.drafted[key] {
			return fmt.Errorf("publishes ruleset %s, which was never drafted intact", key)
		}
		rs, err := rules.Parse(key, r.sources[key])
		if err != nil {
			return fmt.Errorf("ruleset %s does not compile: %v", key, err)
		}
		r.published = append(r.published, rs)
		slices.SortStableFunc(r.published, rulesetOrder)
		r.by[key] = append(slices.Clip(r.by[key]), e.Actor.ID)
	case tlog.KindRulesetWithdrawn:
		var v evRulesetWithdrawn
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		key := fmt.Sprintf("%s@%d", v.ID, v.Version)
		i := slices.IndexFunc(r.published, func(rs *rules.Ruleset) bool { return rs.ID() == v.ID && rs.Version() == v.Version })
		if i < 0 {
			return fmt.Errorf("withdraws ruleset %s, which is not published", key)
		}
		r.published = slices.Delete(r.published, i, i+1)
	case tlog.KindCodeChanged:
		var v evCodeChanged
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		return r.codeChanged(e, &v)
	}
	return nil
}

// activeFacts reads the active facts filed under subject (of kind, if not
// ""), in key order, as the projection holds them now.
func (r *replayer) activeFacts(subject, kind string) ([]healthcode.Fact, error) {
	// The origin (source, or the recording official) counts: a kind's
	// facts beyond its bound are shared fairly among origins.
	q, args := "SELECT uid, kind, observed_at, payload, source, recorded_by FROM facts WHERE subject = ? AND status = 'active' ORDER BY uid", []any{subject}
	if kind != "" {
		q, args = "SELECT uid, kind, observed_at, payload, source, recorded_by FROM facts WHERE subject = ? AND status = 'active' AND kind = ? ORDER BY uid", []any{subject, kind}
	}
	rows, err := r.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []healthcode.Fact
	for rows.Next() {
		f := healthcode.Fact{Subject: subject, Status: healthcode.FactActive}
		var observed, payload string
		if err := rows.Scan(&f.Key, &f.Kind, &observed, &payload, &f.Source, &f.RecordedBy); err != nil {
			return nil, &queryError{err}
		}
		f.ID, f.Payload = f.Key, []byte(payload)
		if f.ObservedAt, err = time.Parse(timeFormat, observed); err != nil {
			return nil, fmt.Errorf("fact %s observed at %q: %v", f.Key, observed, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, &queryError{err}
	}
	return out, nil
}

// heldFor reads, as the projection holds them now, the designations held
// or refused for a resident.
func (r *replayer) heldFor(id string) (map[string]bool, error) {
	rows, err := r.query(heldQuery+"= ?", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	held := map[string]bool{}
	for rows.Next() {
		var resident, designation string
		if err := rows.Scan(&resident, &designation); err != nil {
			return nil, &queryError{err}
		}
		held[designation] = true
	}
	if err := rows.Err(); err != nil {
		return nil, &queryError{err}
	}
	return held, nil
}

func (r *replayer) codeChanged(e *tlog.Entry, v *evCodeChanged) error {
	colour, rule, want := v.Colour, v.Rule, v.FactIDs
	r.Changes++
	id := e.Subject
	rows, err := r.query("SELECT jurisdiction FROM residents WHERE id = ?", id)
	if err != nil {
		return err
	}
	var home string
	found := rows.Next()
	if found {
		err = rows.Scan(&home)
	}
	if err := errors.Join(err, endRows(rows)); err != nil {
		return &queryError{err}
	}
	if !found {
		return fmt.Errorf("changes the code of %s, who was never registered", id)
	}
	got := rules.Result{Colour: healthcode.Green}
	rs := applicable(r.published, home, e.Time)
	if rs != nil {
		in := rules.Input{Now: e.Time}
		if in.Facts, err = r.activeFacts(id, ""); err != nil {
			return err
		}
		areas := map[string]bool{}
		for i := range in.Facts {
			if err := addVisitedAreas(areas, &in.Facts[i]); err != nil {
				return fmt.Errorf("replaying the code of %s: %v", id, err)
			}
		}
		for _, a := range slices.Sorted(maps.Keys(areas)) {
			fs, err := r.activeFacts(a, rules.KindRiskArea)
			if err != nil {
				return err
			}
			in.Areas = append(in.Areas, fs...)
		}
		slices.SortFunc(in.Areas, func(a, b healthcode.Fact) int { return cmpString(a.Key, b.Key) })
		if len(in.Areas) > 0 {
			// A designation held or refused for the resident does not
			// count for them (fact.held_for, fact.refused_for).
			held, err := r.heldFor(id)
			if err != nil {
				return err
			}
			in.Areas = withoutHeld(in.Areas, held)
		}
		if got, err = rs.Evaluate(in); err != nil {
			return fmt.Errorf("replaying the code of %s: %v", id, err)
		}
	}
	if got.FactIDs == nil {
		got.FactIDs = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if string(got.Colour) != colour || got.Rule != rule || !slices.Equal(got.FactIDs, want) {
		r.rep.add(e.Index, "the code of %s does not follow from the logged facts and rules: the log says %s (rule %q, facts %v), replay gives %s (rule %q, facts %v)",
			id, colour, rule, want, got.Colour, got.Rule, got.FactIDs)
	}
	return r.citedOfficials(e, id, rs, v)
}

// citedOfficials checks the officials a code.changed entry names (changes
// logged before they were cited name none): the ruleset's drafter and
// approver as its entries say, and the designation's recorder and approver
// as the projection of the entries before holds them.
func (r *replayer) citedOfficials(e *tlog.Entry, id string, rs *rules.Ruleset, v *evCodeChanged) error {
	if len(v.RulesetBy) > 0 {
		var by []string
		if rs != nil {
			by = r.by[fmt.Sprintf("%s@%d", rs.ID(), rs.Version())]
		}
		if !slices.Equal(by, v.RulesetBy) {
			r.rep.add(e.Index, "the code change of %s names %v as the officials of its ruleset; the log's ruleset entries name %v", id, v.RulesetBy, by)
		}
	}
	if v.Designation == "" {
		return nil
	}
	rows, err := r.query("SELECT kind, recorded_by, source, approved_by FROM facts WHERE uid = ?", v.Designation)
	if err != nil {
		return err
	}
	var kind, recorder, source, approver string
	found := rows.Next()
	if found {
		err = rows.Scan(&kind, &recorder, &source, &approver)
	}
	if err := errors.Join(err, endRows(rows)); err != nil {
		return &queryError{err}
	}
	var by []string
	if recorder == "" {
		recorder = source
	}
	for _, o := range []string{recorder, approver} {
		if o != "" {
			by = append(by, o)
		}
	}
	if !found || !rules.IsAreaKind(kind) || !slices.Equal(by, v.DesignationBy) {
		r.rep.add(e.Index, "the code change of %s cites designation %q by %v; the log's entries give %v", id, v.Designation, v.DesignationBy, by)
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
