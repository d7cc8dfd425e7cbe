package healthcode

import "time"

// The ruleset workflow's decisions: drafting a ruleset (who may, its
// scope, its version) and approving (publishing) or refusing a draft
// (two people, the scope). Each is pure: the store parses and checks the
// file (package rules), loads the stored rulesets, calls one of these and
// appends what it returns (docs/log.md: ruleset.drafted,
// ruleset.published, ruleset.refused). A refusal is an *Error and nothing
// is appended; a nil result with a nil error is a retry of a decision
// already recorded, whose answer was lost after its commit: nothing to
// append, the same answer.

// MaxRulesetSource is the largest ruleset file, in bytes.
const MaxRulesetSource = 256 << 10

// CheckRulesetDraft checks a draft of actor's before its file is checked
// (which can cost seconds of CPU): only a command officer may draft (the
// scope is authorised once parsed, DecideRulesetScope), a file of at most
// MaxRulesetSource bytes (size) and a name of at most MaxNameBytes.
// Returns EUNAUTH, EFORBIDDEN, EINVALID.
func CheckRulesetDraft(actor Actor, name string, size int) error {
	if err := MayAttempt(actor, OpDraftRuleset); err != nil {
		return err
	}
	if size > MaxRulesetSource {
		return Errorf(EINVALID, "ruleset file is larger than 256 KiB")
	}
	return CheckText("name", name, MaxNameBytes)
}

// DecideRulesetScope decides whether actor may draft a ruleset scoped to
// scope: a province (一省一码; anyLevel allows the scopes below a province
// that databases from before that rule hold), inside actor's post.
// Returns EINVALID (field scope), EUNAUTH, EFORBIDDEN.
func DecideRulesetScope(actor Actor, scope string, anyLevel bool) error {
	if l, _ := LevelOf(scope); l != Province && !anyLevel {
		return FieldErrorf("scope", "%s is a %s: a ruleset is scoped to a province (一省一码: one code and one set of rules per province; local additions, 码上加码, are forbidden)", scope, l)
	}
	return Authorize(actor, OpDraftRuleset, scope, "")
}

// DecideRulesetVersion decides whether a draft of ruleset id may have
// version: above every stored version of the id (latest; stored false
// when there is none). Returns ECONFLICT.
func DecideRulesetVersion(id string, version int, latest int64, stored bool) error {
	if stored && int64(version) <= latest {
		return Errorf(ECONFLICT, "ruleset %s already has version %d: a new draft needs a higher version", id, latest)
	}
	return nil
}

// CheckRulesetDecision checks a decision's reason before any state is
// read: at most MaxReasonBytes, and a refusal gives one. Returns EINVALID.
func CheckRulesetDecision(approve bool, reason string) error {
	if err := CheckText("reason", reason, MaxReasonBytes); err != nil {
		return err
	}
	return needReason(approve, reason, "refusal")
}

// RulesetDecision is what deciding a draft records (ruleset.published or
// ruleset.refused).
type RulesetDecision struct {
	Status string // RulesetPublished or RulesetRefused
}

// DecideRuleset decides actor's approval (publication) or refusal of
// ruleset info: the decider is a command officer whose post covers its
// scope, not its drafter (two people), and it is a draft. Returns
// EUNAUTH, EFORBIDDEN, ECONFLICT (not a draft); nil and no error for a
// retry.
func DecideRuleset(actor Actor, info *RulesetInfo, approve bool, reason string) (*RulesetDecision, error) {
	if err := Authorize(actor, OpApproveRuleset, info.Scope, ""); err != nil {
		return nil, err
	}
	if info.DraftedBy == actor.ID {
		return nil, Errorf(EFORBIDDEN, "the drafter cannot approve their own ruleset: a second command officer must")
	}
	status := RulesetPublished
	if !approve {
		status = RulesetRefused
	}
	if info.Status != RulesetDraft {
		if info.Status == status && info.DecidedBy == actor.ID && info.Reason == reason {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "ruleset %s version %d is %s, not a draft", info.ID, info.Version, info.Status)
	}
	return &RulesetDecision{Status: status}, nil
}

// RulesetRunAt is when the re-evaluation of a ruleset published at now
// and taking effect at effective runs: when it takes effect, or now if
// that has passed.
func RulesetRunAt(effective, now time.Time) time.Time {
	if effective.Before(now) {
		return now
	}
	return effective
}
