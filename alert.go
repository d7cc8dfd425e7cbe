package healthcode

import "time"

// Alert kinds. Each fires when its count exceeds its threshold (Limits),
// once per subject per hour (once per case for AlertCaseContacts).
const (
	AlertOfficialVolume = "official_volume"      // one official's hand-entered raising facts in an hour above OfficialRaisesPerHour
	AlertSourceSurge    = "source_surge"         // a source's codes raised this hour far above its baseline
	AlertCaseContacts   = "case_contacts"        // residents citing one case above PlausibleContacts
	AlertBulkReads      = "bulk_reads"           // one official's personal-data reads in an hour above BulkReadAlert
	AlertAppealOverdue  = "appeal_overdue"       // an appeal passed its deadline undecided and escalated
	AlertReraise        = "reraise_after_appeal" // a raising fact recorded in the cooling period after a granted appeal
	AlertWitness        = "witness"              // the log's witness policy not met for longer than the server allows (RaiseWitnessAlert)
	AlertEvalFailed     = "evaluation_failed"    // a resident's evaluation failed under a ruleset version: skipped and recorded (evaluation.failed), once per version and hour
	AlertNearBound      = "facts_near_bound"     // a resident has three quarters of a kind's bound of facts within their windows; the subject is the origin that filed most
	AlertMassChange     = "mass_change"          // an approved ruleset's or designation's dry run changes more codes than Limits.MassChange; names both officials
	AlertJobFailed      = "job_failed"           // a job's run failed as a whole; it is retried later, the jobs behind it go on
)

// AlertIntegrity is raised when a state row differs from the log: found by
// the code and token routes before they serve a code, or by the
// background auditor. Its detail names the table, the row's key, the
// columns and the entry; raised once per difference.
const AlertIntegrity = "integrity"

// Alert is an anomaly for auditors, with its alert.raised entry.
type Alert struct {
	ID           string
	Kind         string
	Subject      string // the official, source, case, appeal or fact concerned
	Jurisdiction string
	Detail       map[string]any
	RaisedAt     time.Time
	LogIndex     int64
}
