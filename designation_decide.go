package healthcode

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The decisions about designations (risk_area facts), which are about
// places, so that one of them can turn many codes: that one is bounded in
// time, that it does not take a place over the number of designations an
// evaluation accepts, when its effect is evaluated, and whether its
// approval's dry run makes it a mass change; and the release or refusal
// of a designation held for one resident (fact.released_for,
// fact.refused_for). Whether a designation raises a code is decided by
// evaluating it (package rules), never by its level; its approval is a
// fact's (DecideFact). Each is pure: the store loads the state and
// appends what these return.

// DesignationSpan is a designation's from and until, as recorded in its
// payload.
func DesignationSpan(f *Fact) (from, until time.Time, err error) {
	var p struct{ From, Until time.Time }
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("designation %s: payload: %w", f.Key, err)
	}
	return p.From, p.Until, nil
}

// CheckDesignationLength refuses a designation lasting longer than limit
// (Limits.MaxDesignation): one is extended by a new designation, approved
// on its own. Returns EINVALID (field payload.until).
func CheckDesignationLength(f *Fact, limit time.Duration) error {
	from, until, err := DesignationSpan(f)
	if err != nil {
		return FieldErrorf("payload.until", "%v", err)
	}
	if d := until.Sub(from); d > limit {
		return FieldErrorf("payload.until", "a designation lasts at most %s (Limits.MaxDesignation), this one %s: to extend one, record a new designation, approved on its own",
			fmtDays(limit), fmtDays(d))
	}
	return nil
}

// fmtDays is d in days and hours, e.g. "14d" or "14d0h0m1s".
func fmtDays(d time.Duration) string {
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, rest)
}

// AreaSpan is where and when a designation counts: its area and its
// window, [From, Until).
type AreaSpan struct {
	Area        string
	From, Until time.Time
}

// CheckDesignationCap refuses a designation d that would make more than
// limit designations cover some place at some instant of its window:
// near are the other designations (stored active or pending ones, and
// those earlier in its batch) of d's area, of a place inside it or of one
// around it. Returns EINVALID (field subject).
func CheckDesignationCap(d AreaSpan, near []AreaSpan, limit int) error {
	var spans []AreaSpan
	places := []string{d.Area}
	for _, s := range near {
		if !s.From.Before(d.Until) || !d.From.Before(s.Until) {
			continue
		}
		spans = append(spans, s)
		if Covers(d.Area, s.Area) {
			places = append(places, s.Area)
		}
	}
	slices.Sort(places)
	for _, place := range slices.Compact(places) {
		instants := []time.Time{d.From}
		for _, s := range spans {
			if Covers(s.Area, place) && s.From.After(d.From) && s.From.Before(d.Until) {
				instants = append(instants, s.From)
			}
		}
		for _, at := range instants {
			n := 1
			for _, s := range spans {
				if Covers(s.Area, place) && !at.Before(s.From) && at.Before(s.Until) {
					n++
				}
			}
			if n > limit {
				return FieldErrorf("subject", "%s would be covered by %d designations at %s, more than the %d an evaluation accepts: let one end or retract one first",
					place, n, at.UTC().Format(time.RFC3339), limit)
			}
		}
	}
	return nil
}

// DesignationEvalTime is when a designation recorded at now, in force
// from until until, is evaluated for a visitor: now while it is in
// force, its start otherwise.
func DesignationEvalTime(from, until, now time.Time) time.Time {
	if now.Before(from) || !now.Before(until) {
		return from
	}
	return now
}

// MassChange reports whether imp, the dry run of an approval (nil: none
// was made), changes more codes than threshold (Limits.MassChange): the
// approval raises a mass_change alert.
func MassChange(imp *Impact, threshold int) bool {
	return imp != nil && imp.Changed > int64(threshold)
}

// The statuses of a designation held for a resident.
const (
	HoldHeld     = "held"     // does not count for the resident until released
	HoldReleased = "released" // counts for the resident
	HoldRefused  = "refused"  // never counts for the resident
)

// CheckHoldDecision checks actor's release (release) or refusal of a
// designation held for a resident before any state is read: a command
// officer, a reason of at most MaxReasonBytes, and a refusal gives one.
// Returns EUNAUTH, EFORBIDDEN, EINVALID.
func CheckHoldDecision(actor Actor, release bool, reason string) error {
	if err := MayAttempt(actor, OpApproveFact); err != nil {
		return err
	}
	if err := CheckText("reason", reason, MaxReasonBytes); err != nil {
		return err
	}
	return needReason(release, reason, "refusal")
}

// HoldState is what deciding a designation's hold for a resident reads:
// the hold's status and scope (the command that decides it), the
// resident's home, and the designation.
type HoldState struct {
	Status      string // HoldHeld, HoldReleased or HoldRefused
	Scope       string
	Home        string
	Designation *Fact
}

// DecideHold decides actor's release (release) or refusal of designation
// st.Designation held for resident: the decider's post covers the
// resident's home (else, as if there were no hold: whether a resident is
// in a cooling period is not theirs to learn) and the hold's scope, they
// neither recorded nor approved the designation, it is still held, and a
// release needs the designation approved (active). It returns the hold's
// new status. Returns ENOTFOUND, EFORBIDDEN, ECONFLICT; nil and no error
// for a retry.
func DecideHold(actor Actor, resident string, st HoldState, release bool) (*string, error) {
	key := st.Designation.Key
	if Authorize(actor, OpApproveFact, st.Home, resident) != nil {
		return nil, Errorf(ENOTFOUND, "designation %s is not held for resident %s", key, resident)
	}
	if !Covers(actor.Jurisdiction, st.Scope) {
		return nil, Errorf(EFORBIDDEN, "designation %s is held for %s for the command of %s", key, resident, st.Scope)
	}
	if f := st.Designation; f.RecordedBy == actor.ID || f.ApprovedBy == actor.ID {
		return nil, Errorf(EFORBIDDEN, "you recorded or approved designation %s: another command officer of %s decides its hold for %s", key, st.Scope, resident)
	}
	want := HoldReleased
	if !release {
		want = HoldRefused
	}
	if st.Status != HoldHeld {
		if st.Status == want {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "designation %s was already %s for %s", key, st.Status, resident)
	}
	if release && st.Designation.Status != FactActive {
		return nil, Errorf(ECONFLICT, "designation %s is %s: it is released for a resident once approved", key, st.Designation.Status)
	}
	return &want, nil
}
