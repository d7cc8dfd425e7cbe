package server

import (
	"encoding/json"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// wireSample is a domain value the API writes, every field set (full) or
// none (zero), with what the handler writes for it.
type wireSample struct {
	name string
	v    any
}

func i64(n int64) *int64 { return &n }

// wireSamples are the domain values whose JSON testdata/wire holds.
func wireSamples() []wireSample {
	at := time.Date(2026, 5, 12, 8, 30, 15, 123456789, time.FixedZone("CST", 8*3600))
	later := at.Add(72 * time.Hour).UTC()
	official := healthcode.Party{Kind: "official", ID: "o_1", Name: "赵六 <&>", Role: "command_officer", Post: "410105"}
	source := healthcode.Party{Kind: "source", ID: "lab", Name: "郑州市疾控中心"}
	step := healthcode.AppealStep{Kind: "appeal.decided", At: at, By: official, Detail: "核查属实", LogIndex: 41}
	appeal := &healthcode.Appeal{ID: "ap_1", Resident: "r_1", ResidentName: "王五", Status: healthcode.AppealGranted,
		FactKeys: []string{"lab:1", "lab:2"}, Statement: "我没有去过", FiledBy: source, Consent: "form 7", FiledAt: at,
		Deadline: &later, Assigned: "410105", Escalations: 2, Reason: "ok",
		Attachments: []healthcode.Attachment{{Name: "a.jpg", MediaType: "image/jpeg", SHA256: "ab12", Size: 9, Data: []byte("secret")}},
		Steps:       []healthcode.AppealStep{step, {Kind: "appeal.filed", At: at, By: source, LogIndex: 40}}, LogIndex: 40}
	pending := healthcode.PendingFact{Key: "k1", Kind: "contact", RecordedAt: at, RecordedBy: official, ApprovalScope: "410100", Why: "reraise", LogIndex: 9}
	access := healthcode.Access{LogIndex: 3, At: at, By: official, What: "code"}
	alert := &healthcode.Alert{ID: "al_1", Kind: healthcode.AlertBulkReads, Subject: "o_1", Jurisdiction: "410105",
		Detail: map[string]any{"reads": 51, "hour": "2026-05-12T08", "list": []any{"a", 1.5}}, RaisedAt: at, LogIndex: 77}
	failure := healthcode.EvalFailure{LogIndex: 5, FailedAt: at, Ruleset: "henan", RulesetVersion: 3, Error: "henan.yaml:12 rule r1"}
	outlook := &healthcode.Outlook{ChangeAt: &later, Next: healthcode.Green, NotBefore: true,
		Holding: []healthcode.HoldingRule{{Rule: "close_contact", Colour: healthcode.Red, Reason: map[string]string{"zh-CN": "密接", "en": "contact"}, Until: &later},
			{Rule: "case", Colour: healthcode.Red}}}
	impact := &healthcode.Impact{Residents: 100, Changed: 7, Failed: 1, Colours: map[string]map[string]int64{"410105": {"green→red": 6, "red→green": 1}}}
	people := &healthcode.PeoplePage{People: []healthcode.Person{{ID: "r_1", Name: "王五", IDMasked: "4101**********1234", Jurisdiction: "410105001001",
		JurisdictionName: "农科路社区", Colour: healthcode.Red}, {ID: "r_2", Name: "王六"}}, Page: 2, More: true}
	explanation := &store.Explanation{Resident: "r_1", Colour: healthcode.Red, Previous: healthcode.Green, Since: at, Cause: "fact",
		LogIndex: 12, RuleSet: "henan", RuleSetVersion: 3, LegalBasis: &rules.LegalBasis{Number: "综发〔2022〕71号", Title: "第九版"},
		Rule: "close_contact", Reason: map[string]string{"zh-CN": "密接", "en": "close contact"},
		Facts: []store.ExplainedFact{{Key: "lab:1", Kind: "test_result", ObservedAt: at, Payload: json.RawMessage(`{"result":"positive"}`),
			Status: "active", RecordedBy: source, ApprovedBy: &official, LogIndex: 8}, {Key: "k2", Payload: json.RawMessage(`{}`)}},
		Outlook: outlook, Omitted: map[string]int{"visit": 3}, RulesetDraftedBy: &official, RulesetApprovedBy: &source,
		Designation: "d:1", DesignationRecordedBy: &official, DesignationApprovedBy: &source}
	stats := &store.Stats{Codes: map[string]map[string]store.Count{"410105": {"red": i64(12), "green": nil}},
		ChangesByDay: map[string]map[string]store.Count{"2026-05-12": {"fact": i64(30)}}, ChangesByRule: map[string]map[string]store.Count{"2026-05-12": {"": i64(10)}},
		HandEntered: map[string]store.Count{"2026-05-12": nil}, Appeals: map[string]store.Count{"filed": i64(11)}, Alerts: map[string]store.Count{}, Suppressed: "below 10"}
	hold := &store.DesignationHold{Designation: "d:1", Area: "410105", Level: "high", Status: "active", Hold: "held", Resident: "r_1", ResidentName: "王五",
		Appeal: "ap_1", ApprovalScope: "410100", RecordedBy: "o_1", ApprovedBy: "o_2", DecidedBy: "o_3", Reason: "why", HeldAt: at, LogIndex: 50, DecidedLog: 51}
	login := store.LoginRecord{Official: "o_1", At: at, Address: "10.0.0.1", Outcome: "ok"}
	recorded := &store.RecordResult{Facts: []store.FactOutcome{{Line: 3, Key: "lab:1", Status: "active"}}, Changed: 2}
	erased := &store.EraseResult{Resident: "r_1", Status: "erased", LogIndex: 90, PersonalParts: 4}
	return []wireSample{
		{"party", toPartyJSON(official)}, {"party_zero", toPartyJSON(healthcode.Party{})},
		{"appeal", toAppealJSON(appeal)}, {"appeal_zero", toAppealJSON(&healthcode.Appeal{})},
		{"appeal_step_zero", toAppealStepJSON(healthcode.AppealStep{})}, {"attachment_zero", toAttachmentJSON(healthcode.Attachment{})},
		{"appeal_queue", appealsPageJSON{Appeals: wireList([]*healthcode.Appeal{appeal, {}}, toAppealJSON), More: true, Page: 2}},
		{"appeal_queue_nil", appealsPageJSON{Appeals: wireList([]*healthcode.Appeal(nil), toAppealJSON), Page: 1}},
		{"resident_appeals", residentAppealsJSON{Appeals: wireList([]*healthcode.Appeal{appeal}, toAppealJSON),
			PendingFacts: wireList([]healthcode.PendingFact{pending, {}}, toPendingFactJSON)}},
		{"resident_appeals_nil", residentAppealsJSON{Appeals: wireList([]*healthcode.Appeal(nil), toAppealJSON),
			PendingFacts: wireList([]healthcode.PendingFact(nil), toPendingFactJSON)}},
		{"accesses", accessesPageJSON{Accesses: wireList([]healthcode.Access{access, {}}, toAccessJSON), Page: 1}},
		{"accesses_nil", accessesPageJSON{Accesses: wireList([]healthcode.Access(nil), toAccessJSON), Page: 1}},
		{"alerts", alertsPageJSON{Alerts: wireList([]*healthcode.Alert{alert, {}}, toAlertJSON), More: true, Page: 3}},
		{"alerts_nil", alertsPageJSON{Alerts: wireList([]*healthcode.Alert(nil), toAlertJSON), Page: 1}},
		{"eval_failure", toEvalFailureJSON(failure)}, {"eval_failure_zero", toEvalFailureJSON(healthcode.EvalFailure{})},
		{"outlook", toOutlookJSON(*outlook)}, {"outlook_zero", toOutlookJSON(healthcode.Outlook{})}, {"holding_zero", toHoldingRuleJSON(healthcode.HoldingRule{})},
		{"impact", toImpactJSON(*impact)}, {"impact_zero", toImpactJSON(healthcode.Impact{})},
		{"people", toPeoplePageJSON(people)}, {"people_zero", toPeoplePageJSON(&healthcode.PeoplePage{})}, {"person_zero", toPersonJSON(healthcode.Person{})},
		{"code", explain(explanation, "zh-CN")}, {"code_zero", explain(&store.Explanation{}, "en")},
		{"history", changesPageJSON{Changes: []explanationJSON{explain(explanation, "en"), explain(&store.Explanation{Rule: "r"}, "en")}, More: true, Page: 1}},
		{"stats", toStatsJSON(stats)}, {"stats_zero", toStatsJSON(&store.Stats{})},
		{"holds", holdsPageJSON{Holds: wireList([]store.DesignationHold{*hold, {}}, toHoldJSON), More: true, Page: 1}},
		{"holds_nil", holdsPageJSON{Holds: wireList([]store.DesignationHold(nil), toHoldJSON), Page: 1}},
		{"hold", toHoldJSON(*hold)},
		{"logins", loginsJSON{Logins: wireList([]store.LoginRecord{login, {}}, toLoginJSON)}},
		{"logins_nil", loginsJSON{Logins: wireList([]store.LoginRecord(nil), toLoginJSON)}},
		{"record_result", toRecordResultJSON(recorded)}, {"record_result_zero", toRecordResultJSON(&store.RecordResult{})},
		{"erase_result", toEraseResultJSON(erased)}, {"erase_result_zero", toEraseResultJSON(&store.EraseResult{})},
	}
}
