package healthcode

import "time"

// Access is one read of a resident's personal data by an official, as the
// resident sees it.
type Access struct {
	LogIndex int64
	At       time.Time
	By       Party
	What     string // resident, code, history, appeal, pending_facts, fact, ...
}
