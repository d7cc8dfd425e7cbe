package web

import (
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// addDeskSamples adds sample data for the appeal, command, record,
// ruleset, statistics and alerts pages, and the resident page's appeals
// panel, to TestRenderEveryPage's samples.
func addDeskSamples(s map[string][]any, at time.Time, res *healthcode.Resident, red, green *store.Explanation) {
	n := func(v int64) store.Count { return &v }
	worker := healthcode.Party{Kind: "official", ID: "o_w", Name: "吴十", Role: "community_worker", Post: "410105001001"}
	appeal := &healthcode.Appeal{ID: "ap_1", Resident: "r_1", Status: healthcode.AppealOpen, FactKeys: []string{"f_1"}, Statement: "我没有去过",
		FiledBy: worker, Consent: "同意书 7", FiledAt: at, Deadline: &at, Assigned: "410105", Escalations: 1, Reason: "证据不足",
		Attachments: []healthcode.Attachment{{Name: "a.pdf", MediaType: "application/pdf", SHA256: "ab", Size: 3}},
		Steps:       []healthcode.AppealStep{{Kind: "appeal.filed", At: at, By: worker, LogIndex: 4}, {Kind: "appeal.decided", At: at, By: worker, Detail: "granted", LogIndex: 5}}}
	pending := []healthcode.PendingFact{{Key: "f_2", Kind: "contact", RecordedAt: at, RecordedBy: worker, LogIndex: 6}}
	s["resident"] = append(s["resident"],
		residentData{Resident: res, Code: red, Own: true, CanAppeal: true, Appeals: []*healthcode.Appeal{appeal}, Pending: pending, AttachMax: 5, AttachMiB: 2},
		residentData{Resident: res, Code: green, CanAppeal: true, Worker: true, AttachMax: 5, AttachMiB: 2},
		residentData{Resident: res, Code: green, CanAppeal: true, Worker: true, Pending: pending, AttachMax: 5, AttachMiB: 2,
			Appeal: &appealForm{Error: pageError{Text: "请至少勾选一条有异议的事实"}, Facts: []string{"f_2"}, Statement: "s", ConsentRef: "c"}})
	disputed := &healthcode.Fact{Key: "f_1", Kind: "contact", ObservedAt: at, RecordedBy: "o_1", ApprovedBy: "o_2", Evidence: "e", Payload: []byte(`{}`), Status: healthcode.FactActive}
	s["appeal"] = []any{appealData{Appeal: appeal, CanDecide: true, Facts: []*healthcode.Fact{disputed}}, appealData{Appeal: appeal, Involved: true, Facts: []*healthcode.Fact{disputed}}, appealData{Appeal: &healthcode.Appeal{ID: "ap_2", Status: healthcode.AppealAwaitingConsent, FiledBy: worker, FiledAt: at}, CanConsent: true}}
	fact := &healthcode.Fact{Key: "f_3", Kind: "case_status", Subject: "r_1", ObservedAt: at, RecordedBy: "o_1", Evidence: "e", Payload: []byte(`{"status":"confirmed"}`), LogIndex: 8}
	area := &healthcode.Fact{Key: "f_4", Kind: "risk_area", Subject: "410105", ObservedAt: at, RecordedBy: "o_1", Payload: []byte(`{}`), LogIndex: 9}
	s["command"] = []any{commandData{Jurisdiction: "410000"}, commandData{Jurisdiction: "410000",
		Codes:   []colourCount{{Colour: healthcode.Green, N: 120}, {Colour: healthcode.Red, N: 3}},
		Changes: []dayCauses{{Day: "2022-06-14", Causes: []causeCount{{Cause: "fact", N: 12}, {Cause: "appeal", N: 1}}}},
		Facts:   []*healthcode.Fact{fact, area}, FactsPage: 1, FactsMore: true, AppealsPage: 2,
		Drafts:  []*healthcode.RulesetInfo{{ID: "default", Version: 3, Scope: "410000", Status: healthcode.RulesetDraft, DraftedBy: "o_2", DraftedAt: at}},
		Appeals: []*healthcode.Appeal{appeal, {ID: "ap_3", FiledAt: at}},
		Holds: []store.DesignationHold{{Designation: "o_1:ra-1", Area: "410105001", Level: "high", Status: "active", Hold: store.HoldHeld, Resident: "r_1", ResidentName: "王五",
			Appeal: "ap_1", ApprovalScope: "410100", RecordedBy: "o_1", HeldAt: at, LogIndex: 10}}, HoldsMore: true}}
	s["record"] = []any{recordData{Kinds: recordKinds}, recordData{Kinds: []string{"contact"}},
		recordData{Kinds: recordKinds, Kind: "risk_area", Form: map[string][]string{"subject": {"410105"}}, Error: pageError{Text: "结束时间：必须晚于开始时间", Detail: "payload.until: must be after from"}}}
	rs := rules.Default()
	s["ruleset_draft"] = []any{rulesetDraftData{Name: "a.yaml", Source: "x"},
		rulesetDraftData{Name: "a.yaml", Checked: true, Errors: []pageError{{Text: "第 1 行有错误", Detail: "a.yaml:1: bad"}}, Lines: []sourceLine{{N: 1, Text: "x", Errors: []string{"a.yaml:1: bad"}}, {N: 2, Text: "y"}}},
		rulesetDraftData{Name: "a.yaml", Checked: true, Rules: rs.Rules(), Legal: rs.LegalBasis(), ID: rs.ID(), Version: rs.Version(), Scope: rs.Scope(),
			Stored: &healthcode.RulesetInfo{ID: "default", Version: 2, LogIndex: 3}}}
	codes := []jurisdictionCodes{{Code: "410000", Name: "中原省", Counts: map[healthcode.Colour]store.Count{healthcode.Green: n(200), healthcode.Yellow: n(11)}},
		{Code: "410100", Name: "郑州市", Counts: map[healthcode.Colour]store.Count{}}}
	days := []dayRow{{Day: "2022-06-13", Counts: map[string]store.Count{"fact": n(30), "time": nil}}, {Day: "2022-06-14", Counts: map[string]store.Count{"appeal": n(10)}}}
	causes := causesOf(days)
	label := func(c string) string { return c }
	s["stats"] = []any{statsData{Stats: &store.Stats{}, CodesSV: codesChart(nil, func(c healthcode.Colour) string { return string(c) })},
		statsData{Stats: &store.Stats{}, Codes: codes, Days: days, Causes: causes,
			CodesSV: codesChart(codes, func(c healthcode.Colour) string { return string(c) }), DaysSV: changesChart(days, causes, label),
			Appeals: []keyCount{{Key: "filed", N: n(12)}, {Key: "open"}}, Alerts: []keyCount{{Key: healthcode.AlertBulkReads}}}}
	s["alerts"] = []any{alertsData{Kinds: alertKinds}, alertsData{Kind: healthcode.AlertBulkReads, Kinds: alertKinds,
		Alerts: []alertRow{{Alert: &healthcode.Alert{ID: "a_1", Kind: healthcode.AlertBulkReads, Subject: "o_1", Jurisdiction: "410000", RaisedAt: at, LogIndex: 3}, Detail: `{"n":3}`}}, Page: 2, More: true}}
}

// TestCharts checks the SVG charts: bars proportional to the counts, a
// suppressed count written "<10" and never drawn as a number.
func TestCharts(t *testing.T) {
	n := func(v int64) store.Count { return &v }
	label := func(c healthcode.Colour) string { return string(c) }
	ch := codesChart([]jurisdictionCodes{{Code: "410000", Name: "p", Counts: map[healthcode.Colour]store.Count{healthcode.Green: n(300), healthcode.Yellow: n(100), healthcode.Red: nil}}}, label)
	if len(ch.Rects) != 2 || ch.Rects[0].W != 210 || ch.Rects[1].W != 70 {
		t.Errorf("codes bars: %+v", ch.Rects)
	}
	var texts []string
	for _, tx := range ch.Texts {
		texts = append(texts, tx.Text)
	}
	if got, want := strings.Join(texts, "|"), "p 410000|green 300 · yellow 100 · red <10"; got != want {
		t.Errorf("codes texts %q, want %q", got, want)
	}
	days := []dayRow{{Day: "2022-06-13", Counts: map[string]store.Count{"fact": n(40), "time": nil}}, {Day: "2022-06-14", Counts: map[string]store.Count{"fact": n(20)}}}
	dc := changesChart(days, causesOf(days), func(c string) string { return c })
	if dc.Rects[0].H != 160 || dc.Rects[2].H != 80 {
		t.Errorf("change columns: %+v", dc.Rects)
	}
	if dc.Rects[1].Title != "2022-06-13 <10" {
		t.Errorf("suppressed cap: %+v", dc.Rects[1])
	}
}
