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
	Name      string
	MediaType string
	SHA256    string
	Size      int
	Data      []byte
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
	Kind     string // appeal.filed, appeal.consented, appeal.escalated, appeal.decided
	At       time.Time
	By       Party
	Detail   string
	LogIndex int64
}

// Appeal is an appeal with every step.
type Appeal struct {
	ID       string
	Resident string
	// ResidentName is the resident's name, for the pages' lists (an
	// appeal is read by whoever may read the resident, and logged).
	ResidentName string
	Status       string
	FactKeys     []string
	Statement    string
	FiledBy      Party
	Consent      string
	FiledAt      time.Time
	Deadline     *time.Time
	Assigned     string // the jurisdiction whose command decides
	Escalations  int
	Reason       string
	Attachments  []Attachment
	Steps        []AppealStep
	LogIndex     int64
}

// PendingFact is a fact about a resident waiting for approval, as the
// resident sees it.
type PendingFact struct {
	Key           string
	Kind          string
	RecordedAt    time.Time
	RecordedBy    Party
	ApprovalScope string // the command that must approve, if held
	Why           string // reraise, volume
	LogIndex      int64
}
