package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/healthcode/healthcode/tlog"
)

// An expectation is what a state row says the entry at its log_index
// records: the kind, the subject, and public payload fields.
type expectation struct {
	table, key string
	kind       tlog.Kind
	subject    string
	fields     map[string]string
}

func (x *expectation) check(rep *VerifyReport, e *tlog.Entry) {
	rep.StateRows++
	if e.Kind != x.kind {
		rep.add(e.Index, "%s %s links to this entry, a %s entry, not %s", x.table, x.key, e.Kind, x.kind)
		return
	}
	if e.Subject != x.subject {
		rep.add(e.Index, "%s %s links to this entry, which is about %q", x.table, x.key, e.Subject)
		return
	}
	var payload map[string]any
	if err := json.Unmarshal(e.Payload, &payload); err != nil {
		rep.add(e.Index, "payload is not a JSON object")
		return
	}
	for k, want := range x.fields {
		if got := fmt.Sprint(payload[k]); got != want {
			rep.add(e.Index, "%s %s has %s %q, but its log entry says %q: the state was changed without a log entry", x.table, x.key, k, want, got)
		}
	}
}

// stateQueries lists, for each table holding state, how to read the
// expectation of every row. Each query returns key, log_index, subject and
// then the public fields named in fields, in order.
var stateQueries = []struct {
	table  string
	kind   tlog.Kind
	query  string
	fields []string
}{
	{"jurisdiction", tlog.KindJurisdictionCreated, "SELECT code, log_index, '', code, name, COALESCE(parent, '') FROM jurisdictions", []string{"code", "name", "parent"}},
	{"resident", tlog.KindResidentRegistered, "SELECT id, log_index, id, id, jurisdiction FROM residents", []string{"id", "jurisdiction"}},
	{"official", tlog.KindOfficialCreated, "SELECT id, log_index, '', id, role, jurisdiction FROM officials", []string{"id", "role", "jurisdiction"}},
	{"source", tlog.KindSourceCreated, "SELECT id, log_index, '', id, name, jurisdiction FROM sources", []string{"id", "name", "jurisdiction"}},
	{"trust import", tlog.KindTrustImported, "SELECT issuer, log_index, '', issuer, CAST(version AS TEXT) FROM trust_imports", []string{"issuer", "version"}},
	{"fact", tlog.KindFactRecorded, "SELECT uid, log_index, CASE WHEN kind = 'risk_area' THEN '' ELSE subject END, uid, kind, subject FROM facts", []string{"key", "kind", "subject"}},
	{"fact decision", tlog.KindFactApproved, "SELECT uid, decided_log, CASE WHEN kind = 'risk_area' THEN '' ELSE subject END, uid FROM facts WHERE decided_log >= 0 AND status = 'active'", []string{"key"}},
	{"fact decision", tlog.KindFactRejected, "SELECT uid, decided_log, CASE WHEN kind = 'risk_area' THEN '' ELSE subject END, uid FROM facts WHERE decided_log >= 0 AND status = 'rejected'", []string{"key"}},
	{"fact decision", tlog.KindFactRetracted, "SELECT uid, decided_log, CASE WHEN kind = 'risk_area' THEN '' ELSE subject END, uid FROM facts WHERE decided_log >= 0 AND status = 'retracted'", []string{"key"}},
	{"code", tlog.KindCodeChanged, "SELECT resident, log_index, resident, colour, rule, ruleset FROM codes", []string{"colour", "rule", "ruleset"}},
	{"code change", tlog.KindCodeChanged, "SELECT resident, log_index, resident, colour, previous, rule, cause FROM code_changes", []string{"colour", "previous", "rule", "cause"}},
	{"ruleset", tlog.KindRulesetDrafted, "SELECT id, log_index, '', id, scope FROM rulesets", []string{"id", "scope"}},
	{"ruleset decision", tlog.KindRulesetPublished, "SELECT id, decided_log, '', id, status FROM rulesets WHERE decided_log >= 0 AND status = 'published'", []string{"id", "decision"}},
	{"ruleset decision", tlog.KindRulesetRefused, "SELECT id, decided_log, '', id, status FROM rulesets WHERE decided_log >= 0 AND status = 'refused'", []string{"id", "decision"}},
	{"job", tlog.KindJobStarted, "SELECT id, log_index, '', id, kind FROM jobs", []string{"job", "kind"}},
	{"appeal", tlog.KindAppealFiled, "SELECT id, log_index, resident, id, resident FROM appeals", []string{"appeal", "resident"}},
	{"appeal step", tlog.KindAppealConsented, "SELECT appeal, log_index, resident, appeal FROM appeal_steps WHERE kind = 'appeal.consented'", []string{"appeal"}},
	{"appeal step", tlog.KindAppealEscalated, "SELECT appeal, log_index, resident, appeal FROM appeal_steps WHERE kind = 'appeal.escalated'", []string{"appeal"}},
	{"appeal step", tlog.KindAppealDecided, "SELECT appeal, log_index, resident, appeal, detail FROM appeal_steps WHERE kind = 'appeal.decided'", []string{"appeal", "decision"}},
	{"appeal decision", tlog.KindAppealDecided, "SELECT id, decided_log, resident, id FROM appeals WHERE decided_log >= 0", []string{"appeal"}},
	{"alert", tlog.KindAlertRaised, "SELECT id, log_index, '', id, kind, subject FROM alerts", []string{"alert", "kind", "subject"}},
	{"data access", tlog.KindDataAccessed, "SELECT resident, log_index, resident, resident, what FROM data_access", []string{"resident", "what"}},
	{"fact hold", tlog.KindFactRecorded, "SELECT fact, log_index, subject, fact, approval_scope FROM fact_holds", []string{"key", "approval_scope"}},
}

// stateExpectations reads every state row's expectation, by log index, and
// checks residents' personal fields against their entries' personal parts.
func (db *DB) stateExpectations(ctx context.Context, rep *VerifyReport) (map[int64][]*expectation, error) {
	out := make(map[int64][]*expectation)
	for _, q := range stateQueries {
		rows, err := db.db.QueryContext(ctx, q.query)
		if err != nil {
			return nil, fmt.Errorf("read %s state: %w", q.table, err)
		}
		for rows.Next() {
			x := &expectation{table: q.table, kind: q.kind, fields: make(map[string]string, len(q.fields))}
			var idx int64
			vals := make([]string, len(q.fields))
			dest := []any{&x.key, &idx, &x.subject}
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, err
			}
			for i, f := range q.fields {
				x.fields[f] = vals[i]
			}
			for _, prev := range out[idx] {
				if prev.table == x.table {
					rep.add(idx, "both %s %s and %s %s link to this entry", prev.table, prev.key, x.table, x.key)
				}
			}
			out[idx] = append(out[idx], x)
		}
		if err := endRows(rows); err != nil {
			return nil, err
		}
	}

	// Personal fields of residents, where not erased.
	rows, err := db.db.QueryContext(ctx, `SELECT r.id, r.log_index, r.name, r.phone, p.data
		FROM residents r JOIN log_personal p ON p.idx = r.log_index`)
	if err != nil {
		return nil, fmt.Errorf("read residents' personal parts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, phone string
		var idx int64
		var data []byte
		if err := rows.Scan(&id, &idx, &name, &phone, &data); err != nil {
			return nil, err
		}
		if pp, err := tlog.ParsePersonalPart(data); err == nil {
			data = pp.Data // a v2 entry's: the kind's fields are its data
		}
		var p struct{ Name, Phone string }
		if err := json.Unmarshal(data, &p); err != nil {
			rep.add(idx, "personal part is not JSON")
			continue
		}
		if p.Name != name || p.Phone != phone {
			rep.add(idx, "resident %s's name or phone differs from the registered personal part: changed without a log entry", id)
		}
	}
	return out, rows.Err()
}
