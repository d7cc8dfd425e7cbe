package healthcode

import (
	"encoding/json"
	"strings"
	"time"
)

// FactStatus is where a fact stands: active facts count in evaluation,
// pending facts wait for a second official's approval, retracted facts stay
// in history but no longer count.
type FactStatus string

const (
	FactActive    FactStatus = "active"
	FactPending   FactStatus = "pending"   // waits for a second official's approval
	FactRejected  FactStatus = "rejected"  // the second official refused it; it never counted
	FactRetracted FactStatus = "retracted" // withdrawn (error, granted appeal); stays in history
)

// A Fact is one piece of typed epidemiological evidence. Its Kind is one of
// the closed schema's kinds (package rules owns the schema and validates
// Payload against it); the store holds facts generically.
//
// Subject is the resident's pseudonymous id, or for facts about an area
// (kind risk_area) the area's jurisdiction code.
type Fact struct {
	Key        string          // platform-wide id: FactKey(origin, ID)
	ID         string          // submitter-supplied id, unique per source or recording official
	Kind       string          // e.g. "test_result", "contact", "risk_area"
	Subject    string          // resident id, or area code for area facts
	ObservedAt time.Time       // when the observed event happened (sampled, exposed, designated), UTC
	RecordedAt time.Time       // when the platform stored it, UTC
	Source     string          // registered data source id, if a source submitted it
	RecordedBy string          // official id, if an official entered it by hand
	ApprovedBy string          // second official who approved a pending fact
	Evidence   string          // reference to the evidence (lab report number, case file, order number)
	Payload    json.RawMessage // kind-specific fields, validated by package rules
	Status     FactStatus
	LogIndex   int64 // index of the log entry that recorded the fact
}

// FactKey is the platform-wide id of the fact a submitter (source or
// official id) identified as id: "origin:id", for example
// "s_cdc_lab:pcr-2022-0613-000123". Deterministic, so a retried submission
// finds the same fact; readable, so an auditor sees whose fact it is; and in
// the submitter's own order, so a batch's keys sit side by side in the
// store's index (a hash would scatter them over the whole index).
func FactKey(origin, id string) string { return origin + ":" + id }

// Origin is the source id or the recording official's id.
func (f *Fact) Origin() string {
	if f.Source != "" {
		return f.Source
	}
	return f.RecordedBy
}

// HandEntered reports whether an official recorded the fact by hand rather
// than a registered source submitting it.
func (f *Fact) HandEntered() bool { return f.RecordedBy != "" }

// Validate checks the fields every fact has, whatever its kind. Kind-specific
// validation of Payload is package rules' job.
func (f *Fact) Validate() error {
	switch {
	case strings.TrimSpace(f.ID) == "":
		return FieldErrorf("id", "is required")
	case len(f.ID) > 128:
		return FieldErrorf("id", "is longer than 128 bytes")
	case !validFactID(f.ID):
		return FieldErrorf("id", "%q has a character other than ASCII letters, digits, '-', '_', '.' and ':'", f.ID)
	case f.Kind == "":
		return FieldErrorf("kind", "is required")
	case f.Subject == "":
		return FieldErrorf("subject", "is required")
	case len(f.Subject) > 128:
		return FieldErrorf("subject", "is longer than 128 bytes")
	case f.ObservedAt.IsZero():
		return FieldErrorf("observed_at", "is required")
	case (f.Source == "") == (f.RecordedBy == ""):
		return FieldErrorf("source", "a fact has exactly one origin: a source or a recording official")
	case len(f.Evidence) > 512:
		return FieldErrorf("evidence", "is longer than 512 bytes")
	case len(f.Payload) == 0 || !json.Valid(f.Payload):
		return FieldErrorf("payload", "must be a JSON object")
	}
	return nil
}

// validFactID reports whether a submitter's fact id uses only characters
// that need no escaping in a URL path or a terminal.
func validFactID(id string) bool {
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
