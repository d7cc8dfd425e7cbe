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
// force — decided by evaluating it, never by its level.

// designationSpan is a designation's from and until, as recorded.
func designationSpan(f *healthcode.Fact) (from, until time.Time, err error) {
	var p struct{ From, Until time.Time }
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("designation %s: payload: %w", f.Key, err)
	}
	return p.From, p.Until, nil
}

// checkDesignationLength refuses a designation longer than the limit.
func checkDesignationLength(f *healthcode.Fact, limit time.Duration) (string, bool) {
	from, until, err := designationSpan(f)
	if err != nil {
		return err.Error(), false
	}
	if d := until.Sub(from); d > limit {
		return fmt.Sprintf("a designation lasts at most %s (Limits.MaxDesignation), this one %s: to extend one, record a new designation, approved on its own",
			fmtDays(limit), fmtDays(d)), false
	}
	return "", true
}

// fmtDays is d in days and hours, e.g. "14d" or "14d0h0m1s".
func fmtDays(d time.Duration) string {
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, rest)
}

// designationCap is how many designations may cover one place at once: as
// many as an evaluation of a visitor accepts.
func designationCap() int {
	k, _ := rules.LookupKind(rules.KindRiskArea)
	return k.Max
}

// checkDesignationCap refuses a designation that would make more than
// designationCap designations cover some place at some instant of its
// window: stored ones (active or pending) and those earlier in the batch.
func (t *Tx) checkDesignationCap(f *healthcode.Fact, batch []*healthcode.Fact) (string, bool, error) {
	area := f.Subject
	ancestors := healthcode.Ancestors(area)
	args := []any{healthcode.CodePrefix(area) + "%"}
	for _, a := range ancestors {
		args = append(args, a)
	}
	rows, err := t.query("SELECT "+factColumns+" FROM facts WHERE kind = 'risk_area' AND status IN ('active', 'pending') AND (subject LIKE ? OR subject IN ("+placeholders(len(ancestors))+"))", args...)
	if err != nil {
		return "", false, err
	}
	var near []healthcode.Fact
	for rows.Next() {
		g, err := scanFact(rows)
		if err != nil {
			rows.Close()
			return "", false, err
		}
		near = append(near, g)
	}
	if err := endRows(rows); err != nil {
		return "", false, err
	}
	for _, g := range batch {
		if healthcode.Covers(area, g.Subject) || healthcode.Covers(g.Subject, area) {
			near = append(near, *g)
		}
	}
	from, until, err := rules.WindowOf(f)
	if err != nil {
		return "", false, err
	}
	type span struct {
		area        string
		from, until time.Time
	}
	var spans []span
	places := []string{area}
	for i := range near {
		a, b, err := rules.WindowOf(&near[i])
		if err != nil || !a.Before(until) || !from.Before(b) {
			continue
		}
		spans = append(spans, span{near[i].Subject, a, b})
		if healthcode.Covers(area, near[i].Subject) {
			places = append(places, near[i].Subject)
		}
	}
	limit := designationCap()
	for _, place := range uniq(places) {
		instants := []time.Time{from}
		for _, s := range spans {
			if healthcode.Covers(s.area, place) && s.from.After(from) && s.from.Before(until) {
				instants = append(instants, s.from)
			}
		}
		for _, at := range instants {
			n := 1
			for _, s := range spans {
				if healthcode.Covers(s.area, place) && !at.Before(s.from) && at.Before(s.until) {
					n++
				}
			}
			if n > limit {
				return fmt.Sprintf("%s would be covered by %d designations at %s, more than the %d an evaluation accepts: let one end or retract one first",
					place, n, at.UTC().Format(time.RFC3339), limit), false, nil
			}
		}
	}
	return "", true, nil
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
	from, until, err := designationSpan(f)
	if err != nil {
		return false, err
	}
	at := t.now
	if at.Before(from) || !at.Before(until) {
		at = from
	}
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
