package healthcode

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The appeal workflow's decisions. Each is pure: the store loads the state
// (the resident, the appeal, the disputed facts), calls one of these with
// the acting party, the command and the time, and appends what it returns
// (docs/log.md: appeal.filed, appeal.consented, appeal.decided,
// appeal.escalated). A refusal is an *Error and nothing is appended; a nil
// result with a nil error is a retry of a command already recorded, whose
// answer was lost after its commit: nothing to append, the same answer.

// Appeal step kinds: AppealStep.Kind, each the log entry kind of the step.
const (
	AppealStepFiled     = "appeal.filed"
	AppealStepConsented = "appeal.consented"
	AppealStepEscalated = "appeal.escalated"
	AppealStepDecided   = "appeal.decided"
)

// Appeal limits (with MaxAttachments and MaxAttachmentSize).
const (
	MaxOpenAppeals = 5    // undecided appeals per resident at a time
	maxStatement   = 4000 // characters
	maxDisputed    = 100
	maxFactKey     = 256 // bytes: an origin and a fact id
	maxMediaType   = 255 // bytes (RFC 6838: 127 for each of type and subtype)
)

// DisputedFact is what an appeal's decisions read of a disputed fact.
type DisputedFact struct {
	Subject    string
	Status     FactStatus
	RecordedBy string // the recording official, "" for a source's
	ApprovedBy string // the approving official, if any
}

// AppealFiling is what filing an appeal records (appeal.filed).
type AppealFiling struct {
	Status      string    // AppealOpen, or AppealAwaitingConsent until the resident confirms
	Consent     string    // "self", "ref:" and a worker's reference, or "" awaiting consent
	Assigned    string    // the jurisdiction whose command decides: first the resident's county (CountyOf)
	Deadline    time.Time // zero while awaiting consent
	Facts       []string  // the disputed facts, sorted, each once
	Attachments []Attachment
}

// FilingState is what DecideFiling reads: the resident's undecided appeals
// and the disputed facts found (by key; a key not found is absent).
type FilingState struct {
	Undecided int
	Facts     map[string]DisputedFact
}

// AppealDecision is what deciding an appeal records (appeal.decided), and
// the facts a grant retracts (those not retracted or rejected already).
type AppealDecision struct {
	Decision string // AppealGranted or AppealDenied
	Facts    []string
	Reason   string
	Retract  []string
}

// AppealEscalation is an overdue appeal's escalation (appeal.escalated),
// with its appeal_overdue alert.
type AppealEscalation struct {
	From, To string    // the jurisdictions: the command that missed the deadline, the one above
	Missed   time.Time // the deadline missed
	Deadline time.Time // the new deadline
}

// PrepareAppeal checks what actor files against resident r's code before
// any state is read: that actor may (the resident, or a community worker
// whose post covers r's home), and every field. It returns the request
// with the disputed facts sorted and each once, and the attachments with
// their hash, size and media type. Returns EUNAUTH, EFORBIDDEN, EINVALID.
func PrepareAppeal(actor Actor, r *Resident, req AppealRequest) (AppealRequest, error) {
	if err := Authorize(actor, OpFileAppeal, r.Jurisdiction, r.ID); err != nil {
		return req, err
	}
	switch n := utf8.RuneCountInString(strings.TrimSpace(req.Statement)); {
	case n == 0:
		return req, FieldErrorf("statement", "is required: say why the code is wrong")
	case n > maxStatement:
		return req, FieldErrorf("statement", "is longer than %d characters", maxStatement)
	case len(req.FactKeys) == 0:
		return req, FieldErrorf("fact_keys", "name at least one disputed fact (see the code's explanation)")
	case len(req.FactKeys) > maxDisputed:
		return req, FieldErrorf("fact_keys", "names more than %d facts", maxDisputed)
	case len(req.Attachments) > MaxAttachments:
		return req, FieldErrorf("attachments", "at most %d attachments", MaxAttachments)
	case len(req.ConsentRef) > 256:
		return req, FieldErrorf("consent_ref", "is longer than 256 bytes")
	}
	for i, k := range req.FactKeys {
		if len(k) > maxFactKey {
			return req, FieldErrorf(fmt.Sprintf("fact_keys[%d]", i), "is longer than %d bytes", maxFactKey)
		}
	}
	atts := make([]Attachment, len(req.Attachments))
	for i, a := range req.Attachments {
		field := func(name string) string { return fmt.Sprintf("attachments[%d].%s", i, name) }
		switch {
		case len(a.Data) == 0:
			return req, FieldErrorf(field("data"), "is empty")
		case len(a.Data) > MaxAttachmentSize:
			return req, FieldErrorf(field("data"), "is larger than %d bytes", MaxAttachmentSize)
		case a.Name == "" || utf8.RuneCountInString(a.Name) > 128:
			return req, FieldErrorf(field("name"), "must be 1 to 128 characters")
		}
		if a.MediaType != "" {
			if len(a.MediaType) > maxMediaType {
				return req, FieldErrorf(field("media_type"), "is longer than %d bytes", maxMediaType)
			}
			if mt, _, err := mime.ParseMediaType(a.MediaType); err != nil || !strings.Contains(mt, "/") {
				return req, FieldErrorf(field("media_type"), "%q is not a media type such as image/jpeg", a.MediaType)
			}
		}
		if a.MediaType == "" {
			a.MediaType = "application/octet-stream"
		}
		h := sha256.Sum256(a.Data)
		a.SHA256, a.Size = hex.EncodeToString(h[:]), len(a.Data)
		atts[i] = a
	}
	keys := slices.Clone(req.FactKeys)
	slices.Sort(keys)
	req.FactKeys, req.Attachments = slices.Compact(keys), atts
	return req, nil
}

// DecideFiling decides a prepared request (PrepareAppeal) of actor about
// resident r: at most MaxOpenAppeals undecided at a time, and every
// disputed fact about r and active or pending. A resident's own appeal is
// open at once, with its deadline (now+deadline); a community worker's
// waits for the resident's consent unless it cites a recorded consent.
// Returns EINVALID, ECONFLICT.
func DecideFiling(actor Actor, r *Resident, req AppealRequest, st FilingState, deadline time.Duration, now time.Time) (*AppealFiling, error) {
	if st.Undecided >= MaxOpenAppeals {
		return nil, Errorf(ECONFLICT, "%s has %d undecided appeals: wait for their decisions", r.ID, st.Undecided)
	}
	for _, k := range req.FactKeys {
		f, ok := st.Facts[k]
		if !ok || f.Subject != r.ID {
			return nil, FieldErrorf("fact_keys", "no fact %q about %s", k, r.ID)
		}
		if f.Status != FactActive && f.Status != FactPending {
			return nil, FieldErrorf("fact_keys", "fact %s is %s already", k, f.Status)
		}
	}
	out := &AppealFiling{Status: AppealOpen, Consent: "self", Assigned: CountyOf(r.Jurisdiction), Facts: req.FactKeys, Attachments: req.Attachments}
	if actor.Kind == ActorOfficial {
		out.Status, out.Consent = AppealAwaitingConsent, ""
		if req.ConsentRef != "" {
			out.Status, out.Consent = AppealOpen, "ref:"+req.ConsentRef
		}
	}
	if out.Status == AppealOpen {
		out.Deadline = now.Add(deadline)
	}
	return out, nil
}

// DecideConsent decides the resident's confirmation, in their own
// session, of an appeal a community worker filed for them: the deadline
// starts then (now+deadline), and it returns the new deadline. Returns
// EUNAUTH, EFORBIDDEN, ECONFLICT; nil and no error for a retry.
func DecideConsent(actor Actor, a *Appeal, deadline time.Duration, now time.Time) (*time.Time, error) {
	if actor.Kind != ActorResident || actor.ID != a.Resident {
		if actor.Kind == "" {
			return nil, Errorf(EUNAUTH, "log in first")
		}
		return nil, Errorf(EFORBIDDEN, "only the resident consents to their appeal")
	}
	if a.Status != AppealAwaitingConsent {
		if lastStepBy(a, AppealStepConsented, actor.ID) {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "appeal %s is %s, not awaiting consent", a.ID, a.Status)
	}
	d := now.Add(deadline)
	return &d, nil
}

// CheckAppealDecision checks a decision's reason before any state is
// read: at most MaxReasonBytes, and a denial gives one. Returns EINVALID.
func CheckAppealDecision(grant bool, reason string) error {
	if err := CheckText("reason", reason, MaxReasonBytes); err != nil {
		return err
	}
	if !grant && utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		return FieldErrorf("reason", "a denial needs a written reason")
	}
	return nil
}

// DecideAppeal decides actor's grant or denial of appeal a, whose
// disputed facts are facts (by key; every one must be there): the decider
// is a command officer whose post covers the appeal's assigned
// jurisdiction, the appeal is open, and the decider neither recorded nor
// approved a disputed fact (two people: who put a fact in and who rules
// on the appeal against it). Returns EUNAUTH, EFORBIDDEN, ECONFLICT,
// EINTERNAL (a disputed fact not given); nil and no error for a retry.
func DecideAppeal(actor Actor, a *Appeal, facts map[string]DisputedFact, grant bool, reason string) (*AppealDecision, error) {
	if err := CheckAppealDecision(grant, reason); err != nil {
		return nil, err
	}
	if err := Authorize(actor, OpDecideAppeal, a.Assigned, a.Resident); err != nil {
		return nil, err
	}
	decision := AppealDenied
	if grant {
		decision = AppealGranted
	}
	if a.Status != AppealOpen {
		if a.Status == decision && a.Reason == reason && lastStepBy(a, AppealStepDecided, actor.ID) {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "appeal %s is %s, not open", a.ID, a.Status)
	}
	out := &AppealDecision{Decision: decision, Facts: a.FactKeys, Reason: reason}
	for _, k := range a.FactKeys {
		f, ok := facts[k]
		if !ok {
			return nil, Errorf(EINTERNAL, "appeal %s: disputed fact %s not read", a.ID, k)
		}
		if f.RecordedBy == actor.ID || f.ApprovedBy == actor.ID {
			return nil, Errorf(EFORBIDDEN, "you recorded or approved disputed fact %s: another officer decides this appeal", k)
		}
		if grant && f.Status != FactRetracted && f.Status != FactRejected {
			out.Retract = append(out.Retract, k)
		}
	}
	return out, nil
}

// AppealOverdue reports whether appeal a is open past its deadline at now.
func AppealOverdue(a *Appeal, now time.Time) bool {
	return a.Status == AppealOpen && a.Deadline != nil && !a.Deadline.After(now)
}

// DecideEscalation escalates an overdue appeal (AppealOverdue) to the
// command of the jurisdiction above its assigned one (a province's stays
// with the province), with a new deadline, now+deadline. It returns nil
// for an appeal not overdue.
func DecideEscalation(a *Appeal, deadline time.Duration, now time.Time) *AppealEscalation {
	if !AppealOverdue(a, now) {
		return nil
	}
	to := ParentCode(a.Assigned)
	if to == "" {
		to = a.Assigned
	}
	return &AppealEscalation{From: a.Assigned, To: to, Missed: *a.Deadline, Deadline: now.Add(deadline)}
}

// lastStepBy reports whether the appeal's last step of kind was by id.
func lastStepBy(a *Appeal, kind, id string) bool {
	for i := len(a.Steps) - 1; i >= 0; i-- {
		if a.Steps[i].Kind == kind {
			return a.Steps[i].By.ID == id
		}
	}
	return false
}
