package healthcode

import (
	"bytes"
	"encoding/json"
	"time"
)

// The fact workflow's decisions: recording facts (who may, what a line
// must be, which need a second official), deciding a pending one
// (approve or reject) and retracting one. Each is pure: the store loads
// the state (the submitter's source, the facts' targets, the stored
// fact, its hold), calls one of these, and appends what it returns
// (docs/log.md: fact.recorded, fact.approved, fact.rejected,
// fact.retracted). A refusal is an *Error and nothing is appended; a nil
// result with a nil error is a retry of a decision already recorded,
// whose answer was lost after its commit: nothing to append, the same
// answer.

// MaxFactBatch is the most facts one batch records.
const MaxFactBatch = 10000

// Why a pending fact is held for the command above its recorder's post
// (FactHold.Why).
const (
	HoldReraise = "reraise" // in the cooling period after a granted appeal
	HoldVolume  = "volume"  // beyond the recorder's hourly volume of raising facts
)

// FactHold puts a pending hand-entered fact under a particular command:
// only command officers whose post covers Scope may approve it.
type FactHold struct {
	Scope string // the jurisdiction whose command approves
	Why   string // HoldReraise or HoldVolume
}

// FactSchema is what recording reads of the closed schema of fact kinds
// (package rules, which this package does not import): a fact's
// validation against its kind at a time, and whether a role may enter a
// kind by hand.
type FactSchema struct {
	Validate     func(f *Fact, now time.Time) error
	MayHandEnter func(kind string, role Role) bool
}

// CheckFactBatch checks who records a batch of n facts before anything
// is read: a registered source or an official, a tracer or a command
// officer (the kinds and the subjects are checked line by line), and 1 to
// MaxFactBatch facts. Returns EUNAUTH, EFORBIDDEN, EINVALID.
func CheckFactBatch(actor Actor, n int) error {
	switch {
	case actor.Kind != ActorSource && actor.Kind != ActorOfficial:
		if actor.Kind == "" {
			return Errorf(EUNAUTH, "present a source API key or log in as an official")
		}
		return Errorf(EFORBIDDEN, "only data sources and officials record facts")
	case n == 0:
		return Errorf(EINVALID, "the batch is empty")
	case n > MaxFactBatch:
		return Errorf(EINVALID, "the batch has %d facts, more than %d: split it", n, MaxFactBatch)
	}
	if actor.Kind == ActorOfficial && actor.Role != RoleTracer && actor.Role != RoleCommand {
		return Errorf(EFORBIDDEN, "a %s does not record facts", actor.Role)
	}
	return nil
}

// PrepareFact checks one submitted fact of actor (src the registered
// source, nil for an official) at now, before any state is read, and
// returns it as it is recorded: its provenance set (the source, or the
// recording official, and now), its observed time in UTC, valid for its
// kind (schema.Validate), of a kind the source is registered for or the
// official's role may enter by hand, and with its key. Returns EINVALID
// (a field error; the caller adds the line).
func PrepareFact(actor Actor, src *Source, f Fact, now time.Time, schema FactSchema) (Fact, error) {
	f.Source, f.RecordedBy, f.ApprovedBy = "", "", ""
	if src != nil {
		f.Source = src.ID
	} else {
		f.RecordedBy = actor.ID
	}
	f.RecordedAt = now
	f.ObservedAt = f.ObservedAt.UTC().Truncate(0)
	if err := f.Validate(); err != nil {
		return f, err
	}
	if err := schema.Validate(&f, now); err != nil {
		return f, err
	}
	if src != nil && !src.Allowed(f.Kind) {
		return f, FieldErrorf("kind", "source %s is not registered for %s facts (registered: %v)", src.ID, f.Kind, src.Kinds)
	}
	if src == nil && !schema.MayHandEnter(f.Kind, actor.Role) {
		return f, FieldErrorf("kind", "a %s may not enter %s facts by hand", actor.Role, f.Kind)
	}
	f.Key = FactKey(f.Origin(), f.ID)
	return f, nil
}

// CheckFactSubject checks that actor may record fact f about its
// subject, found in target (the resident's home, or the area's code; ""
// when there is no such resident or area; area says which f is about): an
// official whose post covers it, or a source registered for a
// jurisdiction that covers it (actor.Jurisdiction is the source's).
// Returns EINVALID (field subject).
func CheckFactSubject(actor Actor, f *Fact, area bool, target string) error {
	switch {
	case area && target == "":
		return FieldErrorf("subject", "no jurisdiction %q: a %s fact's subject is an area code", f.Subject, f.Kind)
	case target == "":
		return FieldErrorf("subject", "no resident %q", f.Subject)
	}
	switch actor.Kind {
	case ActorOfficial:
		if Authorize(actor, OpRecordFact, target, f.Subject) != nil {
			return FieldErrorf("subject", "%s is outside your jurisdiction %s", f.Subject, actor.Jurisdiction)
		}
	case ActorSource:
		if !Covers(actor.Jurisdiction, target) {
			return FieldErrorf("subject", "%s (in %s) is outside the jurisdiction %s this source is registered for", f.Subject, target, actor.Jurisdiction)
		}
	}
	return nil
}

// RecordedStatus is the status a new fact of actor's is recorded with:
// pending (awaiting a second official's approval) for a hand-entered fact
// that raises a code under the rules in force, active otherwise (a
// source's facts never wait).
func RecordedStatus(actor Actor, raises bool) FactStatus {
	if actor.Kind == ActorOfficial && raises {
		return FactPending
	}
	return FactActive
}

// GrantedAppeal is a resident's latest appeal granted in the cooling
// period, and the facts it disputed (and retracted).
type GrantedAppeal struct {
	Appeal    string
	GrantedAt string // as stored
	Facts     []Fact
}

// CheckReraise refuses a raising fact f recorded in the cooling period
// after appeal g about its subject that repeats a retracted fact: its
// evidence reference, or its kind and payload (JSON compared compacted).
// Such a fact is held for the command above its recorder (HoldReraise)
// even when it cites new evidence. Returns EINVALID (field evidence; the
// caller adds the line).
func CheckReraise(f *Fact, g GrantedAppeal) error {
	for _, old := range g.Facts {
		if f.Evidence != "" && f.Evidence == old.Evidence || f.Kind == old.Kind && sameJSON(f.Payload, old.Payload) {
			return FieldErrorf("evidence", "%s's appeal %s was granted on %s: a new raising fact must cite new evidence, not the retracted fact %s's",
				f.Subject, g.Appeal, g.GrantedAt, old.Key)
		}
	}
	return nil
}

// sameJSON reports whether two JSON values are equal as compacted text.
func sameJSON(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// VolumeHeld reports whether an official's k'th pending fact of a batch
// (from 0), after recent raising facts of theirs in the last hour, is
// held for the command above (HoldVolume): beyond limit an hour.
func VolumeHeld(recent, k, limit int) bool { return recent+k+1 > limit }

// VolumeCrossed reports whether a batch of pending raising facts takes
// an official from at most limit raising facts in the last hour (recent)
// to more: the batch that raises the official_volume alert.
func VolumeCrossed(recent, pending, limit int) bool {
	return recent <= limit && recent+pending > limit
}

// CheckFactDecision checks a decision's reason before any state is read:
// at most MaxReasonBytes, and a rejection gives one. Returns EINVALID.
func CheckFactDecision(approve bool, reason string) error {
	if err := CheckText("reason", reason, MaxReasonBytes); err != nil {
		return err
	}
	return needReason(approve, reason, "rejection")
}

// needReason refuses a refusal (ok false: a rejection, a refusal) of
// what without a written reason. Returns EINVALID.
func needReason(ok bool, reason, what string) error {
	if !ok && len(reason) < 4 {
		return FieldErrorf("reason", "a %s needs a written reason", what)
	}
	return nil
}

// FactDecisionState is what deciding a pending fact reads: the fact, the
// jurisdiction it concerns (the resident's home or the area), its hold
// (nil: not held, or not read yet) and the reason of the decision already
// recorded, if any.
type FactDecisionState struct {
	Fact   *Fact
	Target string
	Hold   *FactHold
	Reason string
}

// DecideFact decides actor's approval (approve) or rejection of a
// pending hand-entered fact: the decider is a command officer whose post
// covers the fact's target, who did not record it (two-person rule) and,
// for a held fact, whose post covers the hold's scope. It returns the
// fact's new status, active or rejected. Returns EUNAUTH, EFORBIDDEN,
// ECONFLICT (not pending); nil and no error for a retry.
func DecideFact(actor Actor, st FactDecisionState, approve bool, reason string) (*FactStatus, error) {
	f := st.Fact
	if err := Authorize(actor, OpApproveFact, st.Target, f.Subject); err != nil {
		return nil, err
	}
	if f.RecordedBy == actor.ID {
		return nil, Errorf(EFORBIDDEN, "you recorded this fact: a second official must approve it")
	}
	if h := st.Hold; h != nil && !Covers(actor.Jurisdiction, h.Scope) {
		return nil, Errorf(EFORBIDDEN, "fact %s is held (%s) for the command of %s", f.Key, h.Why, h.Scope)
	}
	status := FactActive
	if !approve {
		status = FactRejected
	}
	if f.Status != FactPending {
		if f.Status == status && f.ApprovedBy == actor.ID && st.Reason == reason {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "fact %s is %s, not pending", f.Key, f.Status)
	}
	return &status, nil
}

// CheckRetraction checks a retraction's reason before any state is read:
// a written one. Returns EINVALID.
func CheckRetraction(reason string) error {
	return needReason(false, reason, "retraction")
}

// DecideRetraction decides actor's retraction of fact f, which concerns
// target (the resident's home or the area): its recorder (the official
// or the source) may, and so may a command officer whose post covers
// target; the fact is neither retracted nor rejected already
// (Retractable). Returns EUNAUTH, EFORBIDDEN, ECONFLICT.
func DecideRetraction(actor Actor, f *Fact, target string) error {
	own := actor.Kind == ActorOfficial && f.RecordedBy == actor.ID ||
		actor.Kind == ActorSource && f.Source == actor.ID
	if !own {
		if err := Authorize(actor, OpRetractFact, target, f.Subject); err != nil {
			return err
		}
	}
	return Retractable(f)
}

// Retractable refuses to retract a fact retracted or rejected already
// (ECONFLICT).
func Retractable(f *Fact) error {
	if f.Status == FactRetracted || f.Status == FactRejected {
		return Errorf(ECONFLICT, "fact %s is already %s", f.Key, f.Status)
	}
	return nil
}
