package healthcode

import "time"

// Ruleset statuses.
const (
	RulesetDraft     = "draft"     // waits for a second command officer
	RulesetPublished = "published" // approved: public, in force from effective_at
	RulesetRefused   = "refused"   // the second officer refused it
	// RulesetWithdrawn: published, then withdrawn by the 一省一码
	// migration (scoped below a province); it no longer applies.
	RulesetWithdrawn = "withdrawn"
)

// RulesetInfo is a ruleset as stored: its text and who wrote and approved it.
type RulesetInfo struct {
	ID          string
	Version     int
	Scope       string
	Status      string
	Source      string
	LegalNumber string
	LegalTitle  string
	EffectiveAt time.Time
	DraftedBy   string
	DraftedAt   time.Time
	DecidedBy   string
	DecidedAt   time.Time
	Reason      string
	LogIndex    int64 // the ruleset.drafted entry
	DecidedLog  int64 // the ruleset.published (or refused) entry, -1 before
	// Impact is the dry run DecideRuleset made of an approval (what the
	// re-evaluation it queues is expected to change); nil otherwise, or
	// when the dry run failed.
	Impact *Impact
}

// Impact is what a ruleset draft would do if approved: a dry run of every
// resident of its scope on one snapshot of the database, with the draft in
// force (at its effective time, or now if that has passed).
type Impact struct {
	Residents int64 // residents evaluated
	Changed   int64 // residents whose code would change (colour, rule or cited facts)
	Failed    int64 // residents whose dry run failed
	// Colours counts the residents whose colour would change, by county
	// (the first six digits of their home) and "FROM→TO", e.g.
	// "green→red".
	Colours map[string]map[string]int64
}
