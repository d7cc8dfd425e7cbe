package healthcode

import "time"

// Outlook is what happens next to a code if nothing new is recorded: the
// rules that hold, each in its own words and until when, and the earliest
// time the colour changes. It is computed from the resident's active facts
// by the published rules (rules.Ruleset.Outlook), including a ruleset that
// is published but takes effect later.
type Outlook struct {
	// ChangeAt is the earliest time the colour changes, nil if the facts
	// never let it change (a confirmed case until a recovery is
	// recorded); Next is the colour from then. With NotBefore the
	// change, if any, comes only after ChangeAt (more boundaries than
	// were checked).
	ChangeAt  *time.Time
	Next      Colour
	NotBefore bool
	// Holding are the rules that hold now, most severe first, under the
	// ruleset in force now.
	Holding []HoldingRule
}

// HoldingRule is a rule that holds and until when (nil: no end in the
// facts).
type HoldingRule struct {
	Rule   string
	Colour Colour
	Reason map[string]string
	Until  *time.Time
}
