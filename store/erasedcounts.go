package store

// Erasure keeps the statistics (issue 15). Erasing a resident deletes
// every row about them (eraseRows), and with them what they added to the
// public statistics (Stats). What they added stays in erased_counts, and
// is worked out from the log, never from the rows (which an insider may
// have edited): from the public part of each of their entries (its kind,
// county, time and public view: their code by county and colour, their
// code changes by day and cause and by day and rule, their alerts by
// kind, their appeals by status), and from the log.erased entry's
// personal part (evLogErasedPersonal, erasedrecord.go: their code below
// the county, their code changes resting on a hand-entered fact by day,
// their overdue appeals), which the erasure works out from their entries
// as it opens them, before it deletes their personal parts. The writer
// counts the public parts at the erasure, from the entries the erasure
// opened (Tx.erasing); a rebuild, where the resident's erased entries
// project to no row, counts the same public parts as it passes them; both
// then add the record. So the statistics are the same before and after an
// erasure, and the live counts are the rebuilt ones by construction. A
// resident with v1 entries (registered before migration 0013) has no
// record: what their rows add is counted from the rows (tallyRows), as
// before, and their code below the county, their hand-entered changes and
// overdue appeals are not kept.

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// What an erased_counts row counts: a and b are its keys.
const (
	erasedCode        = "code"         // a jurisdiction (a county, finer from a record), b colour: residents
	erasedChangeCause = "change_cause" // a UTC day, b cause: code changes
	erasedChangeRule  = "change_rule"  // a UTC day, b rule: code changes
	erasedAlert       = "alert"        // a alert kind: alerts
	erasedAppeal      = "appeal"       // a status: appeals
	erasedHandEntered = "hand_entered" // a UTC day: code changes resting on a hand-entered fact
	erasedOverdue     = "overdue"      // appeals escalated at least once
)

// tally adds n to the erased_counts row (what, a, b), which goes when it
// comes to 0.
func (p *projector) tally(what, a, b string, n int64) error {
	if err := p.exec(`INSERT INTO erased_counts (what, a, b, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (what, a, b) DO UPDATE SET n = erased_counts.n + excluded.n`, what, a, b, n); err != nil {
		return fmt.Errorf("count the erased: %w", err)
	}
	if err := p.exec("DELETE FROM erased_counts WHERE what = ? AND a = ? AND b = ? AND n = 0", what, a, b); err != nil {
		return err
	}
	return p.touch("erased_counts", nil, what, a, b)
}

// tallyErased counts what an erased v2 entry about a resident added to the
// statistics, from its public part (public, the leaf's payload).
func (p *projector) tallyErased(e *tlog.Entry, public []byte) error {
	day := e.Time.UTC().Format(time.DateOnly)
	view := func(v any) error {
		if err := json.Unmarshal(public, v); err != nil {
			return fmt.Errorf("entry %d: %s public view: %w", e.Index, e.Kind, err)
		}
		return nil
	}
	switch e.Kind {
	case tlog.KindResidentRegistered:
		return p.tally(erasedCode, e.County, "green", 1)
	case tlog.KindCodeChanged:
		var v viewCodeChanged
		if err := view(&v); err != nil {
			return err
		}
		for _, t := range []struct {
			what, a, b string
			n          int64
		}{{erasedCode, e.County, v.Previous, -1}, {erasedCode, e.County, v.Colour, 1},
			{erasedChangeCause, day, v.Cause, 1}, {erasedChangeRule, day, v.Rule, 1}} {
			if err := p.tally(t.what, t.a, t.b, t.n); err != nil {
				return err
			}
		}
	case tlog.KindAlertRaised:
		var v viewAlertRaised
		if err := view(&v); err != nil {
			return err
		}
		return p.tally(erasedAlert, v.Alert, "", 1)
	case tlog.KindAppealFiled:
		var v viewAppealFiled
		if err := view(&v); err != nil {
			return err
		}
		return p.tally(erasedAppeal, v.Status, "", 1)
	case tlog.KindAppealConsented:
		if err := p.tally(erasedAppeal, healthcode.AppealAwaitingConsent, "", -1); err != nil {
			return err
		}
		return p.tally(erasedAppeal, healthcode.AppealOpen, "", 1)
	case tlog.KindAppealDecided:
		var v viewAppealDecided
		if err := view(&v); err != nil {
			return err
		}
		status := healthcode.AppealGranted
		if v.Decision != "granted" {
			status = healthcode.AppealDenied
		}
		if err := p.tally(erasedAppeal, healthcode.AppealOpen, "", -1); err != nil {
			return err
		}
		return p.tally(erasedAppeal, status, "", 1)
	}
	return nil
}

// countErasure counts in erased_counts what resident id of county, about
// to be erased, added to the statistics. With a record (rec), the writer
// counts the public parts of the entries the erasure opened (a rebuild
// counted them as it passed), and both add the record; without one, the
// rows are counted. In a rebuild the rows of a resident with a record are
// gone already (their entries opened to no one), and tallyRows finds
// none.
func (p *projector) countErasure(id, county string, rec *evLogErasedPersonal) error {
	if rec == nil || p.t == nil {
		if err := p.tallyRows(id); err != nil {
			return err
		}
	} else {
		for _, o := range p.t.erasing {
			if err := p.tallyErased(o.Entry, o.public); err != nil {
				return err
			}
		}
	}
	if rec == nil {
		return nil
	}
	if healthcode.CountyOf(rec.Jurisdiction) != county {
		return fmt.Errorf("entry %d: log.erased: the record's jurisdiction %q is not in the entry's county %q", p.e.Index, rec.Jurisdiction, county)
	}
	if rec.Jurisdiction != county {
		// Their code counted in the county (the public parts): it counts
		// in their jurisdiction, below it.
		if err := p.tally(erasedCode, county, rec.Colour, -1); err != nil {
			return err
		}
		if err := p.tally(erasedCode, rec.Jurisdiction, rec.Colour, 1); err != nil {
			return err
		}
	}
	for _, day := range slices.Sorted(maps.Keys(rec.HandEntered)) {
		if err := p.tally(erasedHandEntered, day, "", rec.HandEntered[day]); err != nil {
			return err
		}
	}
	if rec.Overdue > 0 {
		return p.tally(erasedOverdue, "", "", rec.Overdue)
	}
	return nil
}

// tallyRows counts what the rows about resident id, about to be erased,
// add to the statistics.
func (p *projector) tallyRows(id string) error {
	if err := p.flush(); err != nil {
		return err
	}
	var home, colour string
	q := "SELECT r.jurisdiction, COALESCE(c.colour, 'green') FROM residents r LEFT JOIN codes c ON c.resident = r.id WHERE r.id = ?"
	var row *sql.Row
	if p.t != nil {
		row = p.t.queryRow(q, id)
	} else {
		row = p.tx.QueryRowContext(p.ctx, p.d.rebind(q), id)
	}
	switch err := row.Scan(&home, &colour); {
	case errors.Is(err, sql.ErrNoRows):
		// Registered in a v2 entry since erased: nothing was projected.
	case err != nil:
		return fmt.Errorf("count the erased: %w", err)
	default:
		if err := p.tally(erasedCode, healthcode.CountyOf(home), colour, 1); err != nil {
			return err
		}
	}
	for _, q := range []string{
		"SELECT '" + erasedChangeCause + "', substr(changed_at, 1, 10), cause, COUNT(*) FROM code_changes WHERE resident = ? GROUP BY substr(changed_at, 1, 10), cause",
		"SELECT '" + erasedChangeRule + "', substr(changed_at, 1, 10), rule, COUNT(*) FROM code_changes WHERE resident = ? GROUP BY substr(changed_at, 1, 10), rule",
		"SELECT '" + erasedAlert + "', kind, '', COUNT(*) FROM alerts WHERE resident = ? GROUP BY kind",
		"SELECT '" + erasedAppeal + "', status, '', COUNT(*) FROM appeals WHERE resident = ? GROUP BY status",
	} {
		if err := p.exec("INSERT INTO erased_counts (what, a, b, n) "+q+" ON CONFLICT (what, a, b) DO UPDATE SET n = erased_counts.n + excluded.n", id); err != nil {
			return fmt.Errorf("count the erased: %w", err)
		}
	}
	// Rebuilding, a row the erased entries took down (an appeal decided in
	// a v2 entry, filed in a v1 one) may come back to 0 here.
	return p.exec("DELETE FROM erased_counts WHERE n = 0")
}
