package healthcode

import "time"

// Access is one read of a resident's personal data by an official, as the
// resident sees it.
type Access struct {
	LogIndex int64     `json:"log_index"`
	At       time.Time `json:"at"`
	By       Party     `json:"by"`
	What     string    `json:"what"` // resident, code, history, appeal, pending_facts, fact, ...
}
