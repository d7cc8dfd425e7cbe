package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// parentScope is the command above an official's post: the parent
// jurisdiction (the province's own command for a province post).
func parentScope(post string) string {
	if p := healthcode.ParentCode(post); p != "" {
		return p
	}
	return post
}

// factHold reads a fact's hold, nil if it has none.
func (t *Tx) factHold(key string) (*healthcode.FactHold, error) {
	var h healthcode.FactHold
	err := t.queryRow("SELECT approval_scope, why FROM fact_holds WHERE fact = ?", key).Scan(&h.Scope, &h.Why)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hold: %w", err)
	}
	return &h, nil
}

// guardRaising applies the accountability rules to an official's pending
// (raising) facts before they are stored:
//
//   - in the cooling period after a granted appeal, a raising fact about
//     that resident must not repeat the retracted facts' evidence reference
//     or content (EINVALID), is held for the parent jurisdiction's command,
//     and raises an alert;
//   - a designation that would raise a resident restored by such an appeal
//     is held for that resident only (the returned residentHolds, by the
//     fact's index: fact.held_for entries, designationholds.go), for the
//     parent jurisdiction's command, with an alert per such resident; for
//     everyone else it goes through its usual approval;
//   - beyond Limits.OfficialRaisesPerHour raising facts in an hour, the
//     official's further ones are held for the parent jurisdiction's
//     command, and crossing the threshold raises an alert.
func (t *Tx) guardRaising(actor healthcode.Actor, facts []healthcode.Fact, fresh []int, status map[int]healthcode.FactStatus) (map[int]healthcode.FactHold, map[int][]residentHold, error) {
	if actor.Kind != healthcode.ActorOfficial {
		return nil, nil, nil
	}
	var pending []int
	var subjects []string
	for _, i := range fresh {
		if status[i] == healthcode.FactPending {
			pending = append(pending, i)
			if personSubject(&facts[i]) != "" {
				subjects = append(subjects, facts[i].Subject)
			}
		}
	}
	if len(pending) == 0 {
		return nil, nil, nil
	}
	holds := map[int]healthcode.FactHold{}
	lim := t.db.limits
	up := parentScope(actor.Jurisdiction)

	// Cooling period after a granted appeal.
	appealed, err := t.grantedSince(uniq(subjects), t.now.Add(-lim.CoolingPeriod))
	if err != nil {
		return nil, nil, err
	}
	var errs []*healthcode.Error
	for _, i := range pending {
		f := &facts[i]
		g, ok := appealed[f.Subject]
		if !ok || personSubject(f) == "" {
			continue
		}
		if err := healthcode.CheckReraise(f, healthcode.GrantedAppeal{Appeal: g.appeal, GrantedAt: fmtTime(g.at), Facts: g.facts}); err != nil {
			errs = append(errs, lineError(i+1, err))
		}
		holds[i] = healthcode.FactHold{Scope: up, Why: healthcode.HoldReraise}
		if err := t.raiseAlert(f.Subject, healthcode.AlertReraise, f.Key, actor.Jurisdiction, map[string]any{
			"resident": f.Subject, "appeal": g.appeal, "granted_at": fmtTime(g.at), "official": actor.ID, "post": actor.Jurisdiction, "approval_scope": up,
		}); err != nil {
			return nil, nil, err
		}
	}
	if len(errs) > 0 {
		return nil, nil, batchError(errs)
	}
	// A designation that would raise a resident restored by an appeal is
	// held for that resident.
	perResident := map[int][]residentHold{}
	for _, i := range pending {
		f := &facts[i]
		if f.Kind != rules.KindRiskArea {
			continue
		}
		raised, appeals, err := t.restoredRaised(f, t.now.Add(-lim.CoolingPeriod))
		if err != nil {
			return nil, nil, err
		}
		for _, r := range raised {
			g := appeals[r]
			perResident[i] = append(perResident[i], residentHold{resident: r, appeal: g.appeal})
			if err := t.raiseAlert(r, healthcode.AlertReraise, f.Key, actor.Jurisdiction, map[string]any{
				"resident": r, "appeal": g.appeal, "granted_at": fmtTime(g.at), "official": actor.ID, "post": actor.Jurisdiction, "approval_scope": up,
				"designation": f.Key, "area": f.Subject,
			}); err != nil {
				return nil, nil, err
			}
		}
	}

	// One official's hourly volume.
	since := t.now.Add(-time.Hour)
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM facts WHERE recorded_by = ? AND recorded_by <> '' AND recorded_at > ? AND (status = 'pending' OR approved_by <> '')",
		actor.ID, fmtTime(since)).Scan(&n); err != nil {
		return nil, nil, fmt.Errorf("count an official's raising facts: %w", err)
	}
	for k, i := range pending {
		if healthcode.VolumeHeld(n, k, lim.OfficialRaisesPerHour) {
			if _, ok := holds[i]; !ok {
				holds[i] = healthcode.FactHold{Scope: up, Why: healthcode.HoldVolume}
			}
		}
	}
	if healthcode.VolumeCrossed(n, len(pending), lim.OfficialRaisesPerHour) {
		if err := t.alertOnce("", healthcode.AlertOfficialVolume, actor.ID, actor.Jurisdiction, since, map[string]any{
			"official": actor.ID, "post": actor.Jurisdiction, "raising_facts_last_hour": n + len(pending), "threshold": lim.OfficialRaisesPerHour, "approval_scope": up,
		}); err != nil {
			return nil, nil, err
		}
	}
	return holds, perResident, nil
}

// granted is a resident's latest granted appeal and the facts it retracted.
type granted struct {
	appeal string
	at     time.Time
	facts  []healthcode.Fact
}

// grantedSince returns, for residents with an appeal granted since, the
// latest such appeal and the facts it disputed.
func (t *Tx) grantedSince(residents []string, since time.Time) (map[string]granted, error) {
	out := map[string]granted{}
	err := inChunks(residents, func(part []string, args []any) error {
		rows, err := t.query("SELECT id, resident, decided_at, fact_keys FROM appeals WHERE status = 'granted' AND decided_at >= ? AND resident IN ("+placeholders(len(part))+") ORDER BY decided_at",
			append([]any{fmtTime(since)}, args...)...)
		type row struct {
			granted
			resident string
			keys     []string
		}
		var list []row
		if err := scanRows(rows, err, func(rows *sql.Rows) error {
			var r row
			if err := rows.Scan(&r.appeal, &r.resident, timeCol(&r.at), jsonCol(&r.keys)); err != nil {
				return err
			}
			list = append(list, r)
			return nil
		}); err != nil {
			return fmt.Errorf("read granted appeals: %w", err)
		}
		for _, r := range list {
			g := r.granted
			for _, k := range r.keys {
				f, err := scanFact(t.queryRow("SELECT "+factColumns+" FROM facts WHERE uid = ?", k))
				if err != nil {
					return fmt.Errorf("read appealed fact %s: %w", k, err)
				}
				g.facts = append(g.facts, f)
			}
			out[r.resident] = g
		}
		return nil
	})
	return out, err
}

// citedCases counts, before a batch's facts are stored, the residents
// citing each case the batch's fresh facts cite, for afterRecord's
// case-contacts alert.
type citedCases map[string]int

func (t *Tx) citationCounts(actor healthcode.Actor, facts []healthcode.Fact, fresh []int) (citedCases, error) {
	out := citedCases{}
	for _, i := range fresh {
		f := &facts[i]
		if !cites(f.Kind) || personSubject(f) == "" {
			continue
		}
		cases, err := rules.CitedCases(f)
		if err != nil {
			return nil, fmt.Errorf("fact %s: cited cases: %w", f.Key, err)
		}
		for _, c := range cases {
			out[c] = 0
		}
	}
	for _, c := range keysOf(out) {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM case_citations WHERE case_id = ?", c).Scan(&n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, nil
}

// afterRecord raises the case-contacts and source-surge alerts once a
// batch is stored and evaluated; before is citationCounts' from before the
// batch, from the first log index the batch wrote.
func (t *Tx) afterRecord(actor healthcode.Actor, before citedCases, from int64) error {
	lim := t.db.limits
	// Residents citing each case.
	for _, c := range keysOf(before) {
		var after int
		if err := t.queryRow("SELECT COUNT(*) FROM case_citations WHERE case_id = ?", c).Scan(&after); err != nil {
			return err
		}
		if before[c] <= lim.PlausibleContacts && after > lim.PlausibleContacts {
			// The alert is about the case's resident (an entry about them:
			// the case id is not public), if the case is recorded.
			var about string
			err := t.queryRow("SELECT subject FROM facts WHERE kind = 'case_status' AND case_id = ? ORDER BY recorded_at LIMIT 1", c).Scan(&about)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err := t.alertOnce(about, healthcode.AlertCaseContacts, c, actor.Jurisdiction, time.Time{}, map[string]any{
				"case_id": c, "residents": after, "threshold": lim.PlausibleContacts, "last_recorded_by": actor.ID,
			}); err != nil {
				return err
			}
		}
	}

	// A source's codes raised this hour against its baseline.
	if actor.Kind != healthcode.ActorSource {
		return nil
	}
	var raised int
	if err := t.queryRow(`SELECT COUNT(*) FROM code_changes WHERE log_index >= ? AND cause = ?
		AND (colour = 'red' AND previous <> 'red' OR colour = 'yellow' AND previous IN ('', 'green'))`, from, CauseFact).Scan(&raised); err != nil {
		return err
	}
	if raised == 0 {
		return nil
	}
	hour := t.now.Truncate(time.Hour)
	if _, err := t.exec("INSERT INTO source_rates (source, hour, raised) VALUES (?, ?, ?) ON CONFLICT (source, hour) DO UPDATE SET raised = source_rates.raised + excluded.raised",
		actor.ID, fmtTime(hour), raised); err != nil {
		return err
	}
	var now, past int
	if err := t.queryRow("SELECT raised FROM source_rates WHERE source = ? AND hour = ?", actor.ID, fmtTime(hour)).Scan(&now); err != nil {
		return err
	}
	if err := t.queryRow("SELECT COALESCE(SUM(raised), 0) FROM source_rates WHERE source = ? AND hour >= ? AND hour < ?",
		actor.ID, fmtTime(hour.Add(-24*time.Hour)), fmtTime(hour)).Scan(&past); err != nil {
		return err
	}
	baseline := float64(past) / 24
	threshold := max(float64(lim.SourceSurgeMin), lim.SourceSurgeFactor*baseline)
	if float64(now-raised) <= threshold && float64(now) > threshold {
		return t.alertOnce("", healthcode.AlertSourceSurge, actor.ID, actor.Jurisdiction, hour, map[string]any{
			"source": actor.ID, "codes_raised_this_hour": now, "baseline_per_hour": baseline, "threshold": threshold,
		})
	}
	return nil
}
