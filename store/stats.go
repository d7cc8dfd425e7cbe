package store

import (
	"context"
	"fmt"

	"github.com/healthcode/healthcode"
)

// MinPublishedCount is the smallest count public statistics show; smaller
// counts are suppressed (nil) so no one can be singled out.
const MinPublishedCount = 10

// Count is a published count: nil when suppressed.
type Count = *int64

func publish(n int64) Count {
	if n < MinPublishedCount {
		return nil
	}
	return &n
}

// Stats are the public statistics.
type Stats struct {
	Codes         map[string]map[string]Count // jurisdiction code → colour → residents
	ChangesByDay  map[string]map[string]Count // UTC day → cause → code changes
	ChangesByRule map[string]map[string]Count // UTC day → matched rule ("" for green by default) → code changes
	HandEntered   map[string]Count            // UTC day → code changes resting on a fact an official entered by hand
	Appeals       map[string]Count            // filed, granted, denied, open, overdue
	Alerts        map[string]Count            // alert kind → alerts
	Suppressed    string
}

// Stats computes the public statistics: codes by colour for every
// jurisdiction (its whole subtree; residents never evaluated are green),
// code changes per day by cause, by rule and resting on hand-entered
// facts, appeal outcomes and alerts by kind. Counts below
// MinPublishedCount are null, and so are the counts that would let anyone
// work them out by subtraction (disclosure.go).
func (db *DB) Stats(ctx context.Context) (*Stats, error) {
	st := &Stats{Codes: map[string]map[string]Count{}, ChangesByDay: map[string]map[string]Count{},
		ChangesByRule: map[string]map[string]Count{}, HandEntered: map[string]Count{},
		Appeals: map[string]Count{}, Alerts: map[string]Count{},
		Suppressed: fmt.Sprintf("counts below %d are null, and so are counts from which one could subtract them", MinPublishedCount)}

	own := map[string]map[string]int64{}
	err := db.eachRow(ctx, `SELECT r.jurisdiction, COALESCE(c.colour, 'green'), COUNT(*) FROM residents r LEFT JOIN codes c ON c.resident = r.id
		GROUP BY r.jurisdiction, COALESCE(c.colour, 'green')`,
		func(s []string, n int64) {
			if own[s[0]] == nil {
				own[s[0]] = map[string]int64{}
			}
			own[s[0]][s[1]] += n
		}, 2)
	if err != nil {
		return nil, err
	}
	// What erased residents added stays (erasedcounts.go).
	erased := map[string]map[string]map[string]int64{}
	err = db.eachRow(ctx, "SELECT what, a, b, n FROM erased_counts", func(s []string, n int64) {
		if erased[s[0]] == nil {
			erased[s[0]] = map[string]map[string]int64{}
		}
		groupInto(erased[s[0]])(s[1:], n)
	}, 3)
	if err != nil {
		return nil, err
	}
	addCounts := func(into map[string]map[string]int64, what string) {
		for a, m := range erased[what] {
			if into[a] == nil {
				into[a] = map[string]int64{}
			}
			for b, n := range m {
				into[a][b] += n
			}
		}
	}
	addCounts(own, erasedCode)
	st.Codes = protectCodes(own, []string{string(healthcode.Green), string(healthcode.Yellow), string(healthcode.Red)}, healthcode.Ancestors)
	byCause, byRule := map[string]map[string]int64{}, map[string]map[string]int64{}
	err = db.eachRow(ctx, "SELECT substr(changed_at, 1, 10), cause, COUNT(*) FROM code_changes GROUP BY substr(changed_at, 1, 10), cause",
		groupInto(byCause), 2)
	if err != nil {
		return nil, err
	}
	err = db.eachRow(ctx, "SELECT substr(changed_at, 1, 10), rule, COUNT(*) FROM code_changes GROUP BY substr(changed_at, 1, 10), rule",
		groupInto(byRule), 2)
	if err != nil {
		return nil, err
	}
	addCounts(byCause, erasedChangeCause)
	addCounts(byRule, erasedChangeRule)
	pub := protectPartitions(byCause, byRule)
	st.ChangesByDay, st.ChangesByRule = pub[0], pub[1]
	hand := map[string]int64{}
	err = db.eachRow(ctx, `SELECT substr(c.changed_at, 1, 10), COUNT(DISTINCT c.log_index) FROM code_changes c
		JOIN facts f ON f.subject = c.resident AND f.recorded_by <> '' AND c.fact_ids LIKE '%' || f.uid || '%'
		GROUP BY substr(c.changed_at, 1, 10)`, func(s []string, n int64) { hand[s[0]] += n }, 1)
	if err != nil {
		return nil, err
	}
	for day, m := range erased[erasedHandEntered] {
		hand[day] += m[""]
	}
	for day, n := range hand {
		st.HandEntered[day] = publish(n)
	}
	appeals := map[string]int64{}
	err = db.eachRow(ctx, "SELECT status, COUNT(*) FROM appeals GROUP BY status", func(s []string, n int64) {
		appeals[s[0]] += n
		appeals["filed"] += n
	}, 1)
	if err != nil {
		return nil, err
	}
	for status, m := range erased[erasedAppeal] {
		appeals[status] += m[""]
		appeals["filed"] += m[""]
	}
	err = db.eachRow(ctx, "SELECT 'overdue', COUNT(*) FROM appeals WHERE escalations > 0", func(s []string, n int64) { appeals["overdue"] = n }, 1)
	if err != nil {
		return nil, err
	}
	appeals["overdue"] += erased[erasedOverdue][""][""]
	// Granted, denied and open add up to the appeals filed, which the
	// public log counts: protect them as one partition.
	outcomes := protectPartitions(map[string]map[string]int64{"": {healthcode.AppealGranted: appeals[healthcode.AppealGranted], healthcode.AppealDenied: appeals[healthcode.AppealDenied], healthcode.AppealOpen: appeals[healthcode.AppealOpen]}})[0][""]
	for _, k := range []string{healthcode.AppealGranted, healthcode.AppealDenied, healthcode.AppealOpen} {
		st.Appeals[k] = outcomes[k]
	}
	st.Appeals["filed"] = publish(appeals["filed"])
	st.Appeals["overdue"] = publish(appeals["overdue"])
	alerts := map[string]int64{}
	for kind, m := range erased[erasedAlert] {
		alerts[kind] += m[""]
	}
	err = db.eachRow(ctx, "SELECT kind, COUNT(*) FROM alerts GROUP BY kind", func(s []string, n int64) { alerts[s[0]] += n }, 1)
	if err != nil {
		return nil, err
	}
	for kind, n := range alerts {
		st.Alerts[kind] = publish(n)
	}
	for _, k := range []string{healthcode.AlertOfficialVolume, healthcode.AlertSourceSurge, healthcode.AlertCaseContacts, healthcode.AlertBulkReads, healthcode.AlertAppealOverdue, healthcode.AlertReraise} {
		if _, ok := st.Alerts[k]; !ok {
			st.Alerts[k] = nil
		}
	}
	return st, nil
}

// DeskCounts are the acting command officer's own jurisdiction (its whole
// subtree) as their desk shows it: exact counts, without the public
// suppression below MinPublishedCount, since the officer may read each of
// those residents anyway. The public statistics (Stats) stay suppressed.
type DeskCounts struct {
	Jurisdiction string
	Codes        map[string]int64            // colour → residents (never evaluated: green)
	ChangesByDay map[string]map[string]int64 // UTC day → cause → code changes
}

// DeskCounts counts the codes by colour and the code changes per UTC day by
// cause of the residents of the acting command officer's jurisdiction.
// Only a command officer, only their own jurisdiction. Returns EUNAUTH,
// EFORBIDDEN.
func (db *DB) DeskCounts(ctx context.Context) (*DeskCounts, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	}
	if actor.Kind != healthcode.ActorOfficial || actor.Role != healthcode.RoleCommand {
		return nil, healthcode.Errorf(healthcode.EFORBIDDEN, "only command officers read their jurisdiction's exact counts; the public statistics are at /v1/stats")
	}
	if err := healthcode.Authorize(actor, healthcode.OpReadResident, actor.Jurisdiction, ""); err != nil {
		return nil, err
	}
	like := healthcode.CodePrefix(actor.Jurisdiction) + "%"
	out := &DeskCounts{Jurisdiction: actor.Jurisdiction, Codes: map[string]int64{}, ChangesByDay: map[string]map[string]int64{}}
	err := db.eachRow(ctx, `SELECT COALESCE(c.colour, 'green'), COUNT(*) FROM residents r LEFT JOIN codes c ON c.resident = r.id
		WHERE r.jurisdiction LIKE ? GROUP BY COALESCE(c.colour, 'green')`, func(s []string, n int64) { out.Codes[s[0]] += n }, 1, like)
	if err != nil {
		return nil, err
	}
	err = db.eachRow(ctx, `SELECT substr(c.changed_at, 1, 10), c.cause, COUNT(*) FROM code_changes c JOIN residents r ON r.id = c.resident
		WHERE r.jurisdiction LIKE ? GROUP BY substr(c.changed_at, 1, 10), c.cause`,
		groupInto(out.ChangesByDay), 2, like)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// groupInto returns an eachRow callback adding (group, label, count) rows
// to m.
func groupInto(m map[string]map[string]int64) func([]string, int64) {
	return func(s []string, n int64) {
		if m[s[0]] == nil {
			m[s[0]] = map[string]int64{}
		}
		m[s[0]][s[1]] += n
	}
}

// eachRow runs a query whose rows are width text columns and a count.
func (db *DB) eachRow(ctx context.Context, query string, f func(s []string, n int64), width int, args ...any) error {
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(query), args...)
	if err != nil {
		return fmt.Errorf("statistics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s := make([]string, width)
		dest := make([]any, width+1)
		for i := range s {
			dest[i] = &s[i]
		}
		var n int64
		dest[width] = &n
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		f(s, n)
	}
	return rows.Err()
}
