package rules

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
)

var cst = time.FixedZone("CST", 8*3600)

// at returns 2022-07-DAY HOUR:MIN in China Standard Time, in UTC.
func at(day, hour, min int) time.Time {
	return time.Date(2022, 7, day, hour, min, 0, 0, cst).UTC()
}

func ts(t time.Time) string { return t.Format(time.RFC3339) }

func mkFact(id, kind, subject string, payload map[string]any) healthcode.Fact {
	p, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return healthcode.Fact{
		ID: id, Kind: kind, Subject: subject,
		ObservedAt: EventTime(kind, p), RecordedAt: at(31, 0, 0),
		Source: "src_test", Payload: p, Status: healthcode.FactActive,
	}
}

func testResult(id, method, result string, sampled time.Time) healthcode.Fact {
	return mkFact(id, KindTestResult, "r_1", map[string]any{"method": method, "result": result, "sampled_at": ts(sampled), "lab": "郑州金域"})
}

func vaccination(id string, dose int, t time.Time) healthcode.Fact {
	return mkFact(id, KindVaccination, "r_1", map[string]any{"dose": dose, "product": "科兴", "administered_at": ts(t)})
}

func caseStatus(id, status, caseID string, t time.Time) healthcode.Fact {
	f := mkFact(id, KindCaseStatus, "r_1", map[string]any{"status": status, "case_id": caseID})
	f.ObservedAt = t
	return f
}

func contact(id, level string, exposed time.Time) healthcode.Fact {
	return mkFact(id, KindContact, "r_1", map[string]any{"level": level, "case_id": "HN-1", "exposed_at": ts(exposed)})
}

func visit(id, area string, arrived, departed time.Time) healthcode.Fact {
	return mkFact(id, KindAreaVisit, "r_1", map[string]any{"area": area, "arrived_at": ts(arrived), "departed_at": ts(departed)})
}

func riskArea(id, area, level string, from, until time.Time) healthcode.Fact {
	return mkFact(id, KindRiskArea, area, map[string]any{"level": level, "from": ts(from), "until": ts(until), "case_ids": []string{"HN-1"}})
}

func quarantine(id, typ string, from, until time.Time) healthcode.Fact {
	return mkFact(id, KindQuarantine, "r_1", map[string]any{"type": typ, "from": ts(from), "until": ts(until)})
}

// withPayload returns f with its payload replaced by raw JSON.
func withPayload(f healthcode.Fact, raw string) healthcode.Fact {
	f.Payload = json.RawMessage(raw)
	return f
}

func mustParse(t testing.TB, name, src string) *Ruleset {
	t.Helper()
	rs, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return rs
}

// ruleset wraps conditions in a minimal ruleset file, one rule each,
// coloured red.
func ruleset(conds ...string) string {
	s := `id: t
version: 1
scope: "410000"
legal_basis: {number: "1", title: t}
effective_at: 2022-06-28T00:00:00+08:00
examples: []
rules:
`
	for i, c := range conds {
		s += fmt.Sprintf("  - id: r%d\n    colour: red\n    reason: {zh-CN: 测, en: t}\n    condition: %q\n", i+1, c)
	}
	return s
}
