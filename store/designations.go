package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// Designations (risk_area facts) are about places, so one of them can turn
// many codes. This file holds what is checked when one is recorded: that
// it is bounded in time (Limits.MaxDesignation), that it does not take a
// place over the number of designations an evaluation accepts (rules'
// Max for risk_area), and whether it raises any code under the ruleset in
// force — decided by evaluating it, never by its level. The decisions
// themselves are pure functions in the root package
// (designation_decide.go); this file reads what they need.

// designationCap is how many designations may cover one place at once: as
// many as an evaluation of a visitor accepts.
func designationCap() int {
	k, _ := rules.LookupKind(rules.KindRiskArea)
	return k.Max
}

// checkDesignationCap refuses a designation that would make more than
// designationCap designations cover some place at some instant of its
// window (healthcode.CheckDesignationCap): stored ones (active or
// pending) and those earlier in the batch. It returns the refusal, if
// any, and an error if it could not tell.
func (t *Tx) checkDesignationCap(f *healthcode.Fact, batch []*healthcode.Fact) (refused, err error) {
	area := f.Subject
	ancestors := healthcode.Ancestors(area)
	args := []any{healthcode.CodePrefix(area) + "%"}
	for _, a := range ancestors {
		args = append(args, a)
	}
	rows, err := t.query("SELECT "+factColumns+" FROM facts WHERE kind = 'risk_area' AND status IN ('active', 'pending') AND (subject LIKE ? OR subject IN ("+placeholders(len(ancestors))+"))", args...)
	if err != nil {
		return nil, err
	}
	var near []healthcode.Fact
	for rows.Next() {
		g, err := scanFact(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		near = append(near, g)
	}
	if err := endRows(rows); err != nil {
		return nil, err
	}
	for _, g := range batch {
		if healthcode.Covers(area, g.Subject) || healthcode.Covers(g.Subject, area) {
			near = append(near, *g)
		}
	}
	from, until, err := rules.WindowOf(f)
	if err != nil {
		return nil, err
	}
	spans := make([]healthcode.AreaSpan, 0, len(near))
	for i := range near {
		if a, b, err := rules.WindowOf(&near[i]); err == nil {
			spans = append(spans, healthcode.AreaSpan{Area: near[i].Subject, From: a, Until: b})
		}
	}
	return healthcode.CheckDesignationCap(healthcode.AreaSpan{Area: area, From: from, Until: until}, spans, designationCap()), nil
}

// maxRaiseChecks bounds the residents raisesArea evaluates in the write
// transaction; a designation of a place with more visitors counts as
// raising (it waits for a second command officer) without evaluating them.
const maxRaiseChecks = 1000

// raisesArea reports whether a designation would make any code more severe
// under the ruleset in force: the code of a visitor who comes while it is
// in force (so a designation of a place nobody has visited yet raises too,
// if the rules make it matter), or of any resident with a visit to the
// place or a place inside it.
func (t *Tx) raisesArea(f *healthcode.Fact) (bool, error) {
	list, err := t.db.published(t.ctx, t.tx)
	if err != nil {
		return false, err
	}
	from, until, err := healthcode.DesignationSpan(f)
	if err != nil {
		return false, err
	}
	at := healthcode.DesignationEvalTime(from, until, t.now)
	if rs := applicable(list, f.Subject, at); rs != nil {
		stamp := at.UTC().Format(time.RFC3339)
		visit := healthcode.Fact{ID: "visitor", Kind: rules.KindAreaVisit, Subject: "visitor", ObservedAt: at, Status: healthcode.FactActive,
			Payload: json.RawMessage(fmt.Sprintf(`{"area":%q,"arrived_at":%q,"departed_at":%q}`, f.Subject, stamp, stamp))}
		set := map[string]bool{}
		for _, a := range healthcode.Ancestors(f.Subject) {
			set[a] = true
		}
		areas, err := t.riskAreas(set)
		if err != nil {
			return false, err
		}
		raises, err := rules.Raises(rs, rules.Input{Now: at, Facts: []healthcode.Fact{visit}, Areas: areas}, forEval(*f))
		if err != nil || raises {
			return raises, err
		}
	}
	rows, err := t.query("SELECT DISTINCT f.subject, r.jurisdiction FROM facts f JOIN residents r ON r.id = f.subject WHERE f.kind = 'area_visit' AND f.status = 'active' AND f.area LIKE ? ORDER BY f.subject LIMIT ?",
		healthcode.CodePrefix(f.Subject)+"%", maxRaiseChecks+1)
	if err != nil {
		return false, err
	}
	var visitors [][2]string
	for rows.Next() {
		var v [2]string
		if err := rows.Scan(&v[0], &v[1]); err != nil {
			rows.Close()
			return false, err
		}
		visitors = append(visitors, v)
	}
	if err := endRows(rows); err != nil {
		return false, err
	}
	if len(visitors) > maxRaiseChecks {
		// Too many to evaluate inside the write: count it as raising, so
		// it waits for a second command officer.
		return true, nil
	}
	for _, v := range visitors {
		rs := applicable(list, v[1], t.now)
		if rs == nil {
			continue
		}
		in, err := t.input(v[0])
		if err != nil {
			return false, err
		}
		if raises, err := rules.Raises(rs, in, forEval(*f)); err != nil || raises {
			return raises, err
		}
	}
	return false, nil
}

// restoredRaised returns the residents restored by an appeal granted since
// whom the designation f would raise under the ruleset in force, with
// their appeals: the re-raise guard's subjects for a designation.
func (t *Tx) restoredRaised(f *healthcode.Fact, since time.Time) ([]string, map[string]granted, error) {
	rows, err := t.query(`SELECT DISTINCT a.resident, r.jurisdiction FROM appeals a
		JOIN facts v ON v.subject = a.resident AND v.kind = 'area_visit' AND v.status = 'active' AND v.area LIKE ?
		JOIN residents r ON r.id = a.resident
		WHERE a.status = 'granted' AND a.decided_at >= ? ORDER BY a.resident`, healthcode.CodePrefix(f.Subject)+"%", fmtTime(since))
	if err != nil {
		return nil, nil, err
	}
	homes := map[string]string{}
	var ids []string
	for rows.Next() {
		var id, home string
		if err := rows.Scan(&id, &home); err != nil {
			rows.Close()
			return nil, nil, err
		}
		ids, homes[id] = append(ids, id), home
	}
	if err := endRows(rows); err != nil || len(ids) == 0 {
		return nil, nil, err
	}
	list, err := t.db.published(t.ctx, t.tx)
	if err != nil {
		return nil, nil, err
	}
	var raised []string
	for _, id := range ids {
		rs := applicable(list, homes[id], t.now)
		if rs == nil {
			continue
		}
		in, err := t.input(id)
		if err != nil {
			return nil, nil, err
		}
		up, err := rules.Raises(rs, in, forEval(*f))
		if err != nil {
			return nil, nil, err
		}
		if up {
			raised = append(raised, id)
		}
	}
	appeals, err := t.grantedSince(raised, since)
	return raised, appeals, err
}
