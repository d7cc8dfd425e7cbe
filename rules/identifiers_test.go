package rules

import (
	"strings"
	"testing"
)

// Rules cannot name anyone: every form of comparing an identifier with a
// constant is refused, at its line, naming the field.
func TestIdentifiersRefused(t *testing.T) {
	for _, tc := range []struct {
		cond  string
		field string // the field the error names
	}{
		// The forms from issue 13.
		{`facts.test_results.exists(t, t.id in ['t_0001', 't_0002'])`, "test_result.id"},
		{`facts.area_visits.exists(v, v.area == '410102001001')`, "area_visit.area"},
		{`facts.test_results.exists(t, t.lab == '郑州金域')`, "test_result.lab"},
		{`facts.case_statuses.exists(c, c.case_id == 'HN-2022-0630-017')`, "case_status.case_id"},
		// Comparisons the other way round and by order.
		{`facts.contacts.exists(c, 'HN-1' == c.case_id)`, "contact.case_id"},
		{`facts.contacts.exists(c, c.case_id != 'HN-1')`, "contact.case_id"},
		{`facts.area_visits.exists(v, v.area >= '410102' && v.area < '410103')`, "area_visit.area"},
		{`facts.vaccinations.exists(v, v.product == '科兴')`, "vaccination.product"},
		// String operations.
		{`facts.test_results.exists(t, t.lab.startsWith('郑州'))`, "test_result.lab"},
		{`facts.test_results.exists(t, t.lab.endsWith('所'))`, "test_result.lab"},
		{`facts.test_results.exists(t, t.lab.contains('金域'))`, "test_result.lab"},
		{`facts.test_results.exists(t, t.id.matches('^t_00'))`, "test_result.id"},
		{`facts.test_results.exists(t, matches(t.id, '^t_00'))`, "test_result.id"},
		{`facts.test_results.exists(t, size(t.id) == 17)`, "test_result.id"},
		{`facts.test_results.exists(t, t.id.size() == 17)`, "test_result.id"},
		{`facts.contacts.exists(c, c.case_id + 'x' == c.id)`, "contact.case_id"},
		{`facts.test_results.exists(t, string(t.lab) != t.method)`, "test_result.lab"},
		{`facts.test_results.exists(t, dyn(t.lab) == 'x')`, "test_result.lab"},
		// Literal lists and maps.
		{`facts.test_results.exists(t, t.id in {'t_0001': true})`, "test_result.id"},
		{`facts.test_results.exists(t, {'t_0001': true}[t.id])`, "test_result.id"},
		{`facts.test_results.exists(t, [t.lab, 'x'][1] == t.lab)`, "test_result.lab"},
		{`facts.test_results.exists(t, [t.lab] == ['郑州金域'])`, "test_result.lab"},
		{`facts.test_results.map(t, t.lab) == ['郑州金域']`, "test_result.lab"},
		{`facts.test_results.map(t, t.id).exists(i, i == 't_0001')`, "test_result.id"},
		{`facts.contacts.exists(c, (c.level == 'close' ? c.case_id : 'HN-1') == c.id)`, "contact.case_id"},
		// Areas looked up by a constant, and designations' case ids.
		{`areas['410102'].size() > 0`, "areas"},
		{`'410102' in areas && facts.contacts.size() > 0`, "areas"},
		{`areas.exists(k, k == '410102001' && areas[k].exists(a, a.level == 'high'))`, "areas"},
		{`facts.area_visits.exists(v, areas[v.area].exists(a, 'HN-1' in a.case_ids))`, "risk_area.case_ids"},
		{`facts.area_visits.exists(v, areas[v.area].exists(a, a.case_ids.exists(x, x == 'HN-1')))`, "risk_area.case_ids"},
		{`facts.area_visits.exists(v, areas[v.area].exists(a, (a.case_ids + ['HN-1']).size() > 1))`, "risk_area.case_ids"},
	} {
		_, err := Parse("q.yaml", []byte(ruleset(tc.cond)))
		if err == nil {
			t.Errorf("Parse(%s) succeeded, want it refused", tc.cond)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "q.yaml:11:") || !strings.Contains(msg, "rule r1: "+tc.field) || !strings.Contains(msg, "Rules cannot name anyone") {
			t.Errorf("Parse(%s) error = %q, want q.yaml:11: naming %s", tc.cond, msg, tc.field)
		}
	}
}

// Joins, enumerations, numbers and times stay allowed.
func TestIdentifiersAllowed(t *testing.T) {
	for _, cond := range []string{
		`facts.case_statuses.exists(c, c.status == 'confirmed' && !facts.case_statuses.exists(d, d.case_id == c.case_id && d.status in ['recovered', 'excluded']))`,
		`facts.contacts.exists(c, facts.case_statuses.exists(s, s.case_id == c.case_id && s.status == 'confirmed'))`,
		`facts.area_visits.exists(v, areas[v.area].exists(a, a.level == 'high' && v.arrived_at < a.until))`,
		`facts.area_visits.exists(v, v.area in areas && areas[v.area].size() > 0)`,
		`areas.exists(k, areas[k].exists(a, a.level == 'high'))`,
		`facts.area_visits.exists(v, areas[v.area].exists(a, size(a.case_ids) >= 2))`,
		`facts.contacts.exists(c, facts.case_statuses.exists(s, s.case_id in [c.case_id] && [s.case_id] + [] == [c.case_id]))`,
		`facts.test_results.exists(t, t.method == 'pcr' && t.sampled_at > timestamp('2022-07-01T00:00:00Z') && now - t.sampled_at < duration('72h'))`,
		`facts.vaccinations.exists(v, v.dose >= 3)`,
		`facts.test_results.filter(t, t.result == 'positive').size() >= 2`,
		`facts.test_results.map(t, t.lab).exists(l, facts.test_results.exists(u, u.lab == l && u.result == 'positive'))`,
		`facts.test_results.exists(t, has(t.lab) && t.result == 'positive')`,
	} {
		if _, err := Parse("q.yaml", []byte(ruleset(cond))); err != nil {
			t.Errorf("Parse(%s): %v", cond, err)
		}
	}
}
