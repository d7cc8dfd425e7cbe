package server

import (
	"encoding/json"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// The API's JSON shapes of the domain's types. The server owns them: the
// root package's types and the store's results carry no json tags
// (layout_test.go), and each handler converts what the store returns into
// one of these before writing it, so that the wire format changes only
// here and api/openapi.yaml describes it. Field order is the order of
// the keys on the wire; testdata/wire holds the JSON of every shape
// (TestWireGolden), as it was when the domain types carried the tags.
//
// A nil list stays nil (null on the wire), as before.

// wireList converts each element of in with f; nil stays nil.
func wireList[T, W any](in []T, f func(T) W) []W {
	if in == nil {
		return nil
	}
	out := make([]W, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// wirePtr converts *v with f; nil stays nil.
func wirePtr[T, W any](v *T, f func(T) W) *W {
	if v == nil {
		return nil
	}
	w := f(*v)
	return &w
}

// partyJSON is who did something (healthcode.Party).
type partyJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
	Post string `json:"post,omitempty"`
}

func toPartyJSON(p healthcode.Party) partyJSON {
	return partyJSON{Kind: p.Kind, ID: p.ID, Name: p.Name, Role: p.Role, Post: p.Post}
}

// attachmentJSON is an appeal's attachment without its bytes (GET
// /v1/appeals/{id}/attachments/{n} serves them).
type attachmentJSON struct {
	Name      string `json:"name"`
	MediaType string `json:"media_type"`
	SHA256    string `json:"sha256"`
	Size      int    `json:"size"`
}

func toAttachmentJSON(a healthcode.Attachment) attachmentJSON {
	return attachmentJSON{Name: a.Name, MediaType: a.MediaType, SHA256: a.SHA256, Size: a.Size}
}

type appealStepJSON struct {
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	By       partyJSON `json:"by"`
	Detail   string    `json:"detail,omitempty"`
	LogIndex int64     `json:"log_index"`
}

func toAppealStepJSON(s healthcode.AppealStep) appealStepJSON {
	return appealStepJSON{Kind: s.Kind, At: s.At, By: toPartyJSON(s.By), Detail: s.Detail, LogIndex: s.LogIndex}
}

type appealJSON struct {
	ID           string           `json:"id"`
	Resident     string           `json:"resident"`
	ResidentName string           `json:"resident_name,omitempty"`
	Status       string           `json:"status"`
	FactKeys     []string         `json:"fact_keys"`
	Statement    string           `json:"statement"`
	FiledBy      partyJSON        `json:"filed_by"`
	Consent      string           `json:"consent"`
	FiledAt      time.Time        `json:"filed_at"`
	Deadline     *time.Time       `json:"deadline,omitempty"`
	Assigned     string           `json:"assigned"`
	Escalations  int              `json:"escalations"`
	Reason       string           `json:"reason,omitempty"`
	Attachments  []attachmentJSON `json:"attachments"`
	Steps        []appealStepJSON `json:"steps"`
	LogIndex     int64            `json:"log_index"`
}

func toAppealJSON(a *healthcode.Appeal) appealJSON {
	return appealJSON{ID: a.ID, Resident: a.Resident, ResidentName: a.ResidentName, Status: a.Status, FactKeys: a.FactKeys,
		Statement: a.Statement, FiledBy: toPartyJSON(a.FiledBy), Consent: a.Consent, FiledAt: a.FiledAt, Deadline: a.Deadline,
		Assigned: a.Assigned, Escalations: a.Escalations, Reason: a.Reason,
		Attachments: wireList(a.Attachments, toAttachmentJSON), Steps: wireList(a.Steps, toAppealStepJSON), LogIndex: a.LogIndex}
}

// appealsPageJSON is GET /v1/appeals.
type appealsPageJSON struct {
	Appeals []appealJSON `json:"appeals"`
	More    bool         `json:"more"`
	Page    int          `json:"page"`
}

type pendingFactJSON struct {
	Key           string    `json:"key"`
	Kind          string    `json:"kind"`
	RecordedAt    time.Time `json:"recorded_at"`
	RecordedBy    partyJSON `json:"recorded_by"`
	ApprovalScope string    `json:"approval_scope,omitempty"`
	Why           string    `json:"why,omitempty"`
	LogIndex      int64     `json:"log_index"`
}

func toPendingFactJSON(f healthcode.PendingFact) pendingFactJSON {
	return pendingFactJSON{Key: f.Key, Kind: f.Kind, RecordedAt: f.RecordedAt, RecordedBy: toPartyJSON(f.RecordedBy),
		ApprovalScope: f.ApprovalScope, Why: f.Why, LogIndex: f.LogIndex}
}

// residentAppealsJSON is GET /v1/residents/{id}/appeals.
type residentAppealsJSON struct {
	Appeals      []appealJSON      `json:"appeals"`
	PendingFacts []pendingFactJSON `json:"pending_facts"`
}

type accessJSON struct {
	LogIndex int64     `json:"log_index"`
	At       time.Time `json:"at"`
	By       partyJSON `json:"by"`
	What     string    `json:"what"`
}

func toAccessJSON(a healthcode.Access) accessJSON {
	return accessJSON{LogIndex: a.LogIndex, At: a.At, By: toPartyJSON(a.By), What: a.What}
}

// accessesPageJSON is GET /v1/residents/{id}/access.
type accessesPageJSON struct {
	Accesses []accessJSON `json:"accesses"`
	More     bool         `json:"more"`
	Page     int          `json:"page"`
}

type alertJSON struct {
	ID           string         `json:"id"`
	Kind         string         `json:"kind"`
	Subject      string         `json:"subject"`
	Jurisdiction string         `json:"jurisdiction,omitempty"`
	Detail       map[string]any `json:"detail"`
	RaisedAt     time.Time      `json:"raised_at"`
	LogIndex     int64          `json:"log_index"`
}

func toAlertJSON(a *healthcode.Alert) alertJSON {
	return alertJSON{ID: a.ID, Kind: a.Kind, Subject: a.Subject, Jurisdiction: a.Jurisdiction, Detail: a.Detail,
		RaisedAt: a.RaisedAt, LogIndex: a.LogIndex}
}

// alertsPageJSON is GET /v1/alerts.
type alertsPageJSON struct {
	Alerts []alertJSON `json:"alerts"`
	More   bool        `json:"more"`
	Page   int         `json:"page"`
}

type evalFailureJSON struct {
	LogIndex       int64     `json:"log_index"`
	FailedAt       time.Time `json:"failed_at"`
	Ruleset        string    `json:"ruleset"`
	RulesetVersion int       `json:"ruleset_version"`
	Error          string    `json:"error"`
}

func toEvalFailureJSON(f healthcode.EvalFailure) evalFailureJSON {
	return evalFailureJSON{LogIndex: f.LogIndex, FailedAt: f.FailedAt, Ruleset: f.Ruleset, RulesetVersion: f.RulesetVersion, Error: f.Error}
}

type impactJSON struct {
	Residents int64                       `json:"residents"`
	Changed   int64                       `json:"changed"`
	Failed    int64                       `json:"failed"`
	Colours   map[string]map[string]int64 `json:"colours"`
}

func toImpactJSON(i healthcode.Impact) impactJSON {
	return impactJSON{Residents: i.Residents, Changed: i.Changed, Failed: i.Failed, Colours: i.Colours}
}

type holdingRuleJSON struct {
	Rule   string            `json:"rule"`
	Colour healthcode.Colour `json:"colour"`
	Reason map[string]string `json:"reason"`
	Until  *time.Time        `json:"until,omitempty"`
}

func toHoldingRuleJSON(h healthcode.HoldingRule) holdingRuleJSON {
	return holdingRuleJSON{Rule: h.Rule, Colour: h.Colour, Reason: h.Reason, Until: h.Until}
}

type outlookJSON struct {
	ChangeAt  *time.Time        `json:"change_at,omitempty"`
	Next      healthcode.Colour `json:"next,omitempty"`
	NotBefore bool              `json:"not_before,omitempty"`
	Holding   []holdingRuleJSON `json:"holding"`
}

func toOutlookJSON(o healthcode.Outlook) outlookJSON {
	return outlookJSON{ChangeAt: o.ChangeAt, Next: o.Next, NotBefore: o.NotBefore, Holding: wireList(o.Holding, toHoldingRuleJSON)}
}

type personJSON struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	IDMasked         string            `json:"id_masked"`
	Jurisdiction     string            `json:"jurisdiction"`
	JurisdictionName string            `json:"jurisdiction_name"`
	Colour           healthcode.Colour `json:"colour,omitempty"`
}

func toPersonJSON(p healthcode.Person) personJSON {
	return personJSON{ID: p.ID, Name: p.Name, IDMasked: p.IDMasked, Jurisdiction: p.Jurisdiction, JurisdictionName: p.JurisdictionName, Colour: p.Colour}
}

// peoplePageJSON is GET /v1/residents?q= and GET /v1/roster.
type peoplePageJSON struct {
	People []personJSON `json:"people"`
	Page   int          `json:"page"`
	More   bool         `json:"more"`
}

func toPeoplePageJSON(p *healthcode.PeoplePage) peoplePageJSON {
	return peoplePageJSON{People: wireList(p.People, toPersonJSON), Page: p.Page, More: p.More}
}

// legalBasisJSON is a ruleset's legal basis; its keys have always been
// the Go field names.
type legalBasisJSON struct {
	Number string `json:"Number"`
	Title  string `json:"Title"`
}

func toLegalBasisJSON(l rules.LegalBasis) legalBasisJSON {
	return legalBasisJSON{Number: l.Number, Title: l.Title}
}

type explainedFactJSON struct {
	Key        string          `json:"key"`
	Kind       string          `json:"kind"`
	ObservedAt time.Time       `json:"observed_at"`
	Payload    json.RawMessage `json:"payload"`
	Status     string          `json:"status"`
	RecordedBy partyJSON       `json:"recorded_by"`
	ApprovedBy *partyJSON      `json:"approved_by,omitempty"`
	LogIndex   int64           `json:"log_index"`
}

func toExplainedFactJSON(f store.ExplainedFact) explainedFactJSON {
	return explainedFactJSON{Key: f.Key, Kind: f.Kind, ObservedAt: f.ObservedAt, Payload: f.Payload, Status: f.Status,
		RecordedBy: toPartyJSON(f.RecordedBy), ApprovedBy: wirePtr(f.ApprovedBy, toPartyJSON), LogIndex: f.LogIndex}
}

// explanationJSON is a code's explanation (GET /v1/residents/{id}/code and
// each change of its history), with the reason in one language.
type explanationJSON struct {
	Resident              string              `json:"resident"`
	Colour                healthcode.Colour   `json:"colour"`
	Previous              healthcode.Colour   `json:"previous,omitempty"`
	Since                 time.Time           `json:"since"`
	Cause                 string              `json:"cause,omitempty"`
	LogIndex              int64               `json:"log_index"`
	RuleSet               string              `json:"ruleset,omitempty"`
	RuleSetVersion        int                 `json:"ruleset_version,omitempty"`
	LegalBasis            *legalBasisJSON     `json:"legal_basis,omitempty"`
	Rule                  string              `json:"rule,omitempty"`
	Reason                map[string]string   `json:"reason,omitempty"`
	Facts                 []explainedFactJSON `json:"facts"`
	Outlook               *outlookJSON        `json:"outlook,omitempty"`
	Omitted               map[string]int      `json:"omitted,omitempty"`
	RulesetDraftedBy      *partyJSON          `json:"ruleset_drafted_by,omitempty"`
	RulesetApprovedBy     *partyJSON          `json:"ruleset_approved_by,omitempty"`
	Designation           string              `json:"designation,omitempty"`
	DesignationRecordedBy *partyJSON          `json:"designation_recorded_by,omitempty"`
	DesignationApprovedBy *partyJSON          `json:"designation_approved_by,omitempty"`
	Label                 string              `json:"label"`
	ReasonText            string              `json:"reason_text"`
}

func explain(ex *store.Explanation, l string) explanationJSON {
	out := explanationJSON{Resident: ex.Resident, Colour: ex.Colour, Previous: ex.Previous, Since: ex.Since, Cause: ex.Cause,
		LogIndex: ex.LogIndex, RuleSet: ex.RuleSet, RuleSetVersion: ex.RuleSetVersion, LegalBasis: wirePtr(ex.LegalBasis, toLegalBasisJSON),
		Rule: ex.Rule, Reason: ex.Reason, Facts: wireList(ex.Facts, toExplainedFactJSON), Outlook: wirePtr(ex.Outlook, toOutlookJSON),
		Omitted: ex.Omitted, RulesetDraftedBy: wirePtr(ex.RulesetDraftedBy, toPartyJSON), RulesetApprovedBy: wirePtr(ex.RulesetApprovedBy, toPartyJSON),
		Designation: ex.Designation, DesignationRecordedBy: wirePtr(ex.DesignationRecordedBy, toPartyJSON),
		DesignationApprovedBy: wirePtr(ex.DesignationApprovedBy, toPartyJSON),
		Label:                 ex.Colour.Label(l), ReasonText: ex.Reason[l]}
	if out.ReasonText == "" && ex.Rule == "" {
		out.ReasonText = rules.NoRuleReason(l)
	}
	return out
}

// changesPageJSON is GET /v1/residents/{id}/history.
type changesPageJSON struct {
	Changes []explanationJSON `json:"changes"`
	More    bool              `json:"more"`
	Page    int               `json:"page"`
}

// statsJSON is GET /v1/stats: published counts, null when suppressed.
type statsJSON struct {
	Codes         map[string]map[string]*int64 `json:"codes"`
	ChangesByDay  map[string]map[string]*int64 `json:"changes_by_day"`
	ChangesByRule map[string]map[string]*int64 `json:"changes_by_rule"`
	HandEntered   map[string]*int64            `json:"hand_entered_by_day"`
	Appeals       map[string]*int64            `json:"appeals"`
	Alerts        map[string]*int64            `json:"alerts"`
	Suppressed    string                       `json:"suppressed"`
}

func toStatsJSON(s *store.Stats) statsJSON {
	return statsJSON{Codes: s.Codes, ChangesByDay: s.ChangesByDay, ChangesByRule: s.ChangesByRule, HandEntered: s.HandEntered,
		Appeals: s.Appeals, Alerts: s.Alerts, Suppressed: s.Suppressed}
}

// holdJSON is a designation held for one resident.
type holdJSON struct {
	Designation   string    `json:"designation"`
	Area          string    `json:"area"`
	Level         string    `json:"level"`
	Status        string    `json:"status"`
	Hold          string    `json:"hold"`
	Resident      string    `json:"resident"`
	ResidentName  string    `json:"resident_name"`
	Appeal        string    `json:"appeal"`
	ApprovalScope string    `json:"approval_scope"`
	RecordedBy    string    `json:"recorded_by"`
	ApprovedBy    string    `json:"approved_by,omitempty"`
	DecidedBy     string    `json:"decided_by,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	HeldAt        time.Time `json:"held_at"`
	LogIndex      int64     `json:"log_index"`
	DecidedLog    int64     `json:"decided_log,omitempty"`
}

func toHoldJSON(h store.DesignationHold) holdJSON {
	return holdJSON{Designation: h.Designation, Area: h.Area, Level: h.Level, Status: h.Status, Hold: h.Hold, Resident: h.Resident,
		ResidentName: h.ResidentName, Appeal: h.Appeal, ApprovalScope: h.ApprovalScope, RecordedBy: h.RecordedBy, ApprovedBy: h.ApprovedBy,
		DecidedBy: h.DecidedBy, Reason: h.Reason, HeldAt: h.HeldAt, LogIndex: h.LogIndex, DecidedLog: h.DecidedLog}
}

// holdsPageJSON is GET /v1/holds.
type holdsPageJSON struct {
	Holds []holdJSON `json:"holds"`
	More  bool       `json:"more"`
	Page  int        `json:"page"`
}

type loginJSON struct {
	Official string    `json:"official"`
	At       time.Time `json:"at"`
	Address  string    `json:"address"`
	Outcome  string    `json:"outcome"`
}

func toLoginJSON(l store.LoginRecord) loginJSON {
	return loginJSON{Official: l.Official, At: l.At, Address: l.Address, Outcome: l.Outcome}
}

// loginsJSON is GET /v1/logins.
type loginsJSON struct {
	Logins []loginJSON `json:"logins"`
}

type factOutcomeJSON struct {
	Line   int    `json:"line"`
	Key    string `json:"key"`
	Status string `json:"status"`
}

func toFactOutcomeJSON(f store.FactOutcome) factOutcomeJSON {
	return factOutcomeJSON{Line: f.Line, Key: f.Key, Status: f.Status}
}

// recordResultJSON is the answer to POST /v1/facts.
type recordResultJSON struct {
	Facts   []factOutcomeJSON `json:"facts"`
	Changed int               `json:"codes_changed"`
}

func toRecordResultJSON(r *store.RecordResult) recordResultJSON {
	return recordResultJSON{Facts: wireList(r.Facts, toFactOutcomeJSON), Changed: r.Changed}
}

// eraseResultJSON is the answer to POST /v1/residents/{id}/erase.
type eraseResultJSON struct {
	Resident      string `json:"resident"`
	Status        string `json:"status"`
	LogIndex      int64  `json:"log_index"`
	PersonalParts int64  `json:"personal_parts,omitempty"`
}

func toEraseResultJSON(r *store.EraseResult) eraseResultJSON {
	return eraseResultJSON{Resident: r.Resident, Status: r.Status, LogIndex: r.LogIndex, PersonalParts: r.PersonalParts}
}

// The envelopes of the other answers. Their keys are in alphabetical
// order, as they were when the handlers wrote maps.

// statusJSON is GET /healthz and /readyz.
type statusJSON struct {
	Status string `json:"status"`
}

// requestedJSON is a 202 answer: a second official must confirm.
type requestedJSON struct {
	Message  string `json:"message"`
	Official string `json:"official"`
	Status   string `json:"status"`
}

// jurisdictionsJSON is GET /v1/jurisdictions.
type jurisdictionsJSON struct {
	Jurisdictions []jurisdictionJSON `json:"jurisdictions"`
}

// factsPageJSON is GET /v1/facts/pending.
type factsPageJSON struct {
	Facts []storedFactJSON `json:"facts"`
	More  bool             `json:"more"`
	Page  int              `json:"page"`
}

// jobsJSON is GET /v1/jobs.
type jobsJSON struct {
	Jobs []jobJSON `json:"jobs"`
}

// rulesetsJSON is GET /v1/rulesets.
type rulesetsJSON struct {
	Rulesets []rulesetJSON `json:"rulesets"`
}

// consistencyJSON is GET /v1/log/consistency.
type consistencyJSON struct {
	Checkpoint string         `json:"checkpoint"`
	New        int64          `json:"new"`
	Old        int64          `json:"old"`
	Proof      []sumtlog.Hash `json:"proof"`
}

// ownEntriesJSON is GET /v1/residents/{id}/entries.
type ownEntriesJSON struct {
	Checkpoint string          `json:"checkpoint"`
	Entries    []tlog.OwnEntry `json:"entries"`
}

// entryActorJSON is a log entry's actor.
type entryActorJSON struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Post string `json:"post"`
}
