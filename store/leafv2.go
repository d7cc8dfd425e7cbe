package store

// The v2 leaf (docs/log.md): an entry about a resident names no one in
// public. Its leaf keeps the kind, time, actor, the resident's county and
// the public view of its event (the accountability fields); the subject,
// the chain link, the whole event and the kind's personal fields are its
// personal part (tlog.PersonalPart), committed by a salted hash and kept
// in log_personal. Entries about no resident keep their whole event in
// the leaf, as in v1.

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// The public views of the events about a resident, one type per kind
// that has fields worth publishing. Every other kind about a resident
// shows none ("{}").
type (
	viewFactRecorded struct {
		Kind          string                `json:"fact_kind"`
		Status        healthcode.FactStatus `json:"status"`
		ApprovalScope string                `json:"approval_scope,omitempty"`
		Raises        *bool                 `json:"raises,omitempty"`
		Source        string                `json:"source,omitempty"`
	}
	viewFactDecided struct {
		RecordedBy string `json:"recorded_by"`
	}
	viewFactRetracted struct {
		PreviousStatus string `json:"previous_status"`
	}
	// viewFactHeldFor: the command a designation held for a resident
	// waits for (the designation's key stays personal, like a code
	// change's).
	viewFactHeldFor struct {
		ApprovalScope string `json:"approval_scope"`
	}
	viewCodeChanged struct {
		Colour         string `json:"colour"`
		Previous       string `json:"previous"`
		Ruleset        string `json:"ruleset"`
		RulesetVersion int    `json:"ruleset_version"`
		Rule           string `json:"rule"`
		Cause          string `json:"cause"`
		// The officials behind the change (evCodeChanged): public actors.
		// The designation's key stays in the personal part: one value
		// shared by a resident's changes is a link between them.
		RulesetBy     []string `json:"ruleset_by,omitempty"`
		DesignationBy []string `json:"designation_by,omitempty"`
	}
	viewAppealFiled struct {
		Status      string `json:"status"`
		Assigned    string `json:"assigned"`
		Attachments int    `json:"attachments"`
	}
	viewAppealDecided struct {
		Decision string `json:"decision"`
	}
	viewAppealEscalated struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	viewDataAccessed struct {
		What string `json:"what"`
	}
	// viewAlertRaised is an alert concerning one resident (raiseAlert):
	// its kind and the detail fields about the officials and offices
	// concerned and the counts (publicAlertDetail), not whom or which case,
	// fact, appeal or place.
	viewAlertRaised struct {
		Alert  string                     `json:"alert_kind"`
		Detail map[string]json.RawMessage `json:"detail,omitempty"`
	}
	// viewLogErased names both operators of an erasure on request (the
	// requester and, as the actor, the approver) and cites the request's
	// entry by its index, so the two-person rule is auditable from the
	// public log; the request's leaf names its operator and the county,
	// and neither names the resident.
	viewLogErased struct {
		PersonalParts  int64  `json:"personal_parts"`
		Cause          string `json:"cause,omitempty"`
		RequestedBy    string `json:"requested_by,omitempty"`
		RequestedEntry int64  `json:"requested_entry,omitempty"`
	}
)

// publicAlertDetail are the detail fields of an alert concerning a
// resident that its leaf shows: the official and post concerned, the
// approving office, the offices an appeal went between, counts, and for
// an integrity alert the table and columns that differ and who found it
// (not the entry: its index would link the alert to the resident's leaf).
var publicAlertDetail = map[string]bool{
	"official": true, "post": true, "approval_scope": true, "last_recorded_by": true,
	"residents": true, "threshold": true, "escalated_from": true, "escalated_to": true,
	"table": true, "columns": true, "found_by": true, // an integrity alert about a resident's row
}

// emptyView is the public part of an event about a resident that shows
// no field.
var emptyView = []byte("{}")

// publicView returns the public part of a v2 entry about a resident, from
// its event (of its kind's type, or JSON for a kind without one).
func publicView(kind tlog.Kind, pub any) ([]byte, error) {
	v, err := viewOf(kind, pub)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return emptyView, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("log %s: encode public view: %w", kind, err)
	}
	return b, nil
}

// viewOf is the public view of an event about a resident, to be encoded as
// JSON; nil for a kind that shows no field.
func viewOf(kind tlog.Kind, pub any) (any, error) {
	var v any
	switch ev := pub.(type) {
	case *factEntry:
		v = viewFactRecorded{Kind: ev.Kind, Status: ev.Status, ApprovalScope: ev.ApprovalScope, Raises: ev.Raises, Source: ev.Source}
	case *evFactDecided:
		v = viewFactDecided{RecordedBy: ev.RecordedBy}
	case *evFactRetracted:
		v = viewFactRetracted{PreviousStatus: ev.PreviousStatus}
	case *evFactHeldFor:
		v = viewFactHeldFor{ApprovalScope: ev.ApprovalScope}
	case *evCodeChanged:
		v = viewCodeChanged{Colour: ev.Colour, Previous: ev.Previous, Ruleset: ev.Ruleset, RulesetVersion: ev.RulesetVersion, Rule: ev.Rule, Cause: ev.Cause,
			RulesetBy: ev.RulesetBy, DesignationBy: ev.DesignationBy}
	case *evAppealFiled:
		v = viewAppealFiled{Status: ev.Status, Assigned: ev.Assigned, Attachments: len(ev.Attachments)}
	case *evAppealDecided:
		v = viewAppealDecided{Decision: ev.Decision}
	case *evAppealEscalated:
		v = viewAppealEscalated{From: ev.From, To: ev.To}
	case *evDataAccessed:
		v = viewDataAccessed{What: ev.What}
	case *evLogErased:
		v = viewLogErased{PersonalParts: ev.PersonalParts, Cause: ev.Cause, RequestedBy: ev.RequestedBy, RequestedEntry: ev.RequestedEntry}
	case *evAlert:
		av := viewAlertRaised{Alert: ev.Kind}
		var detail map[string]json.RawMessage
		if err := json.Unmarshal(ev.Detail, &detail); err != nil {
			return nil, fmt.Errorf("log %s: decode the alert's detail: %w", kind, err)
		}
		for k, d := range detail {
			if publicAlertDetail[k] {
				if av.Detail == nil {
					av.Detail = map[string]json.RawMessage{}
				}
				av.Detail[k] = d
			}
		}
		v = av
	default:
		return nil, nil
	}
	return v, nil
}

// openedEntry is a stored entry with its personal part opened: for a v2
// entry about a resident, Subject, Prev and the whole event (Payload) are
// the personal part's, and public is the leaf's payload.
type openedEntry struct {
	*tlog.Entry
	public   []byte // the leaf's payload (for v1 and entries about no resident, the same as Payload)
	personal []byte // the kind's personal fields, or nil (none, or erased)
	// erased: a v2 entry about a resident whose personal part is gone:
	// whom and what it was about is no longer known.
	erased bool
}

// openEntry parses a stored entry and opens its stored personal part
// (nil if none or erased). The commitment itself is checked by
// verifyPersonal; here a personal part that does not decode is an error.
func openEntry(data, stored []byte) (*openedEntry, error) {
	e, err := tlog.ParseEntry(data)
	if err != nil {
		return nil, err
	}
	o := &openedEntry{Entry: e, public: e.Payload}
	if !e.V2() {
		o.personal = stored
		return o, nil
	}
	if stored == nil {
		o.erased = e.County != "" && e.Personal != ([32]byte{})
		return o, nil
	}
	pp, err := tlog.ParsePersonalPart(stored)
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", e.Index, err)
	}
	if (pp.Subject != "") != (e.County != "") {
		return nil, fmt.Errorf("entry %d: a v2 entry names a county exactly when it is about a resident", e.Index)
	}
	e.Subject, e.Prev = pp.Subject, pp.Prev
	e.OpenActor()
	if pp.Subject != "" {
		e.Payload = pp.Event
		if len(e.Payload) == 0 {
			e.Payload = json.RawMessage("{}")
		}
	} else if len(pp.Event) > 0 {
		return nil, fmt.Errorf("entry %d: an entry about no resident keeps its event in the leaf", e.Index)
	}
	if len(pp.Data) > 0 {
		o.personal = pp.Data
	}
	return o, nil
}

// checkView reports whether the leaf's public part of an opened v2 entry
// about a resident is the public view of its event pub: the public leaf
// must not say other than the event it commits to.
func (o *openedEntry) checkView(pub any) error {
	if !o.V2() || o.Subject == "" {
		return nil
	}
	want, err := publicView(o.Kind, pub)
	if err != nil {
		return err
	}
	if !bytes.Equal(want, o.public) && !legacyErasedView(pub, o.public) {
		return fmt.Errorf("entry %d: %s: the public part %s is not the public view %s of the event in the personal part", o.Index, o.Kind, o.public, want)
	}
	return nil
}

// legacyErasedView reports whether public is the view a log.erased entry
// had before its view named the operators ({"personal_parts":N}).
func legacyErasedView(pub any, public []byte) bool {
	ev, ok := pub.(*evLogErased)
	return ok && string(public) == fmt.Sprintf(`{"personal_parts":%d}`, ev.PersonalParts)
}

// checkOpening reports whether a stored salt and personal part open the
// commitment c.
func checkOpening(c [32]byte, salt, data []byte) bool {
	if len(salt) != 32 {
		return false
	}
	return tlog.CheckPersonal(c, [32]byte(salt), data)
}
