package healthcode

import "time"

// Appeal statuses.
const (
	AppealAwaitingConsent = "awaiting_consent" // a community worker filed it; the resident has not confirmed yet
	AppealOpen            = "open"             // waiting for a command officer's decision
	AppealGranted         = "granted"          // the disputed facts were retracted
	AppealDenied          = "denied"           // refused, with a written reason
)

// Attachment limits.
const (
	MaxAttachments    = 5
	MaxAttachmentSize = 2 << 20
)

// Attachment is a file supporting an appeal, kept with its SHA-256.
type Attachment struct {
	Name      string `json:"name"`
	MediaType string `json:"media_type"`
	SHA256    string `json:"sha256"`
	Size      int    `json:"size"`
	Data      []byte `json:"-"`
}

// AppealRequest is what a resident or community worker files.
type AppealRequest struct {
	Resident    string
	FactKeys    []string // the disputed facts: active or pending facts about the resident
	Statement   string
	ConsentRef  string // a community worker's reference to the resident's recorded consent; empty: the resident confirms in their session
	Attachments []Attachment
}

// AppealStep is one step of an appeal as the resident sees it.
type AppealStep struct {
	Kind     string    `json:"kind"` // appeal.filed, appeal.consented, appeal.escalated, appeal.decided
	At       time.Time `json:"at"`
	By       Party     `json:"by"`
	Detail   string    `json:"detail,omitempty"`
	LogIndex int64     `json:"log_index"`
}

// Appeal is an appeal with every step.
type Appeal struct {
	ID       string `json:"id"`
	Resident string `json:"resident"`
	// ResidentName is the resident's name, for the pages' lists (an
	// appeal is read by whoever may read the resident, and logged).
	ResidentName string       `json:"resident_name,omitempty"`
	Status       string       `json:"status"`
	FactKeys     []string     `json:"fact_keys"`
	Statement    string       `json:"statement"`
	FiledBy      Party        `json:"filed_by"`
	Consent      string       `json:"consent"`
	FiledAt      time.Time    `json:"filed_at"`
	Deadline     *time.Time   `json:"deadline,omitempty"`
	Assigned     string       `json:"assigned"` // the jurisdiction whose command decides
	Escalations  int          `json:"escalations"`
	Reason       string       `json:"reason,omitempty"`
	Attachments  []Attachment `json:"attachments"`
	Steps        []AppealStep `json:"steps"`
	LogIndex     int64        `json:"log_index"`
}

// PendingFact is a fact about a resident waiting for approval, as the
// resident sees it.
type PendingFact struct {
	Key           string    `json:"key"`
	Kind          string    `json:"kind"`
	RecordedAt    time.Time `json:"recorded_at"`
	RecordedBy    Party     `json:"recorded_by"`
	ApprovalScope string    `json:"approval_scope,omitempty"` // the command that must approve, if held
	Why           string    `json:"why,omitempty"`            // reraise, volume
	LogIndex      int64     `json:"log_index"`
}
