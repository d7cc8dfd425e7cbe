package store

// The log is the source of truth; the state tables are its projection.
// This file classifies every table and column in one place: a projected
// column is rebuilt from the log alone by the apply functions (apply.go),
// and log verify compares it with the stored one, row by row; an
// operational column is not in the log (a credential, a cache, a cursor,
// a signed artefact, content committed by a hash), with the reason. A test
// fails when a table or column of the schema is not classified here.

// colClass is what a column of a projected table is.
type colClass int

const (
	// projected: rebuilt from the public part of the entries.
	projected colClass = iota
	// personal: rebuilt from an entry's personal part while it is not
	// erased; compared only where it is present.
	personal
	// operational: not in the log; the reason says what it is and what
	// checks it instead.
	operational
)

// projTable is one table of the projection.
type projTable struct {
	name string
	key  []string        // the primary key, in order
	ints map[string]bool // key columns that are integers (ordered numerically)
	cols []projCol       // every other column

	// rebuilt is the table of the rebuilt projection this one is compared
	// with, if not the same (the auditor's check of code_heads: codes).
	rebuilt string
}

// rebuiltFrom is the rebuilt table t is compared with.
func (t *projTable) rebuiltFrom() string {
	if t.rebuilt != "" {
		return t.rebuilt
	}
	return t.name
}

type projCol struct {
	name   string
	class  colClass
	reason string // for operational columns
}

func pcol(name string) projCol    { return projCol{name: name, class: projected} }
func perscol(name string) projCol { return projCol{name: name, class: personal} }
func opcol(name, reason string) projCol {
	return projCol{name: name, class: operational, reason: reason}
}
func ints(cols ...string) map[string]bool {
	m := make(map[string]bool, len(cols))
	for _, c := range cols {
		m[c] = true
	}
	return m
}

// projection lists the projected tables. Every column is classified.
var projection = []projTable{
	{name: "jurisdictions", key: []string{"code"}, cols: []projCol{pcol("name"), pcol("level"), pcol("parent"), pcol("log_index")}},
	{name: "residents", key: []string{"id"}, cols: []projCol{
		opcol("id_hash", "the login lookup key; kept in the registration's personal part, checked against its commitment"),
		perscol("name"), perscol("phone"), pcol("jurisdiction"), pcol("created_at"), pcol("log_index"),
		pcol("erase_requested_by"), pcol("erase_requested_log"), perscol("id_masked")}},
	{name: "officials", key: []string{"id"}, cols: []projCol{perscol("name"), pcol("role"), pcol("jurisdiction"), pcol("disabled"), pcol("created_at"), pcol("log_index"),
		pcol("disable_requested_by"), pcol("disable_requested_log"), pcol("reset_requested_by"), pcol("reset_requested_log")}},
	{name: "sources", key: []string{"id"}, cols: []projCol{pcol("name"), pcol("kinds"), pcol("jurisdiction"),
		opcol("key_hash", "a credential: the hash of the source's API key is never logged"),
		pcol("disabled"), pcol("created_at"), pcol("log_index")}},
	{name: "facts", key: []string{"uid"}, cols: []projCol{pcol("origin"), pcol("id"), pcol("kind"), pcol("subject"), pcol("observed_at"), pcol("recorded_at"),
		pcol("source"), pcol("recorded_by"), pcol("approved_by"),
		opcol("evidence", "the entry's personal part, kept in the row: checked against the entry's commitment"),
		opcol("evidence_salt", "the personal part's salt: checked with it against the entry's commitment"),
		pcol("payload"), pcol("status"),
		opcol("content_hash", "a deduplication key over the content, erasable evidence included"),
		pcol("log_index"), pcol("area"), pcol("case_id"), pcol("retracted_by"), pcol("reason"), pcol("decided_log")}},
	{name: "codes", key: []string{"resident"}, cols: []projCol{pcol("colour"), pcol("since"), pcol("ruleset"), pcol("ruleset_version"), pcol("rule"), pcol("fact_ids"), pcol("log_index")}},
	{name: "code_changes", key: []string{"log_index"}, ints: ints("log_index"), cols: []projCol{pcol("resident"), pcol("colour"), pcol("previous"), pcol("changed_at"),
		pcol("ruleset"), pcol("ruleset_version"), pcol("rule"), pcol("fact_ids"), pcol("cause"), pcol("omitted"),
		pcol("ruleset_by"), pcol("designation"), pcol("designation_by")}},
	{name: "evaluation_failures", key: []string{"log_index"}, ints: ints("log_index"), cols: []projCol{pcol("resident"), pcol("failed_at"),
		pcol("ruleset"), pcol("ruleset_version"), pcol("error"), pcol("cause"), pcol("job")}},
	{name: "rulesets", key: []string{"id", "version"}, ints: ints("version"), cols: []projCol{pcol("scope"), pcol("status"),
		opcol("source", "the ruleset text, committed by source_sha256 in ruleset.drafted and checked by the replay"),
		pcol("legal_number"),
		opcol("legal_title", "descriptive text of the legal basis; its number is logged"),
		pcol("effective_at"), pcol("drafted_by"), pcol("drafted_at"), pcol("decided_by"), pcol("decided_at"), pcol("reason"), pcol("log_index"), pcol("decided_log")}},
	{name: "jobs", key: []string{"id"}, cols: []projCol{pcol("kind"), pcol("params"), pcol("status"), pcol("run_at"),
		opcol("cursor", "a job cursor: progress within a run, restartable"),
		opcol("done", "a job's progress counter; the job.finished entry logs the total"),
		opcol("changed", "a job's progress counter; the job.finished entry logs the total"),
		opcol("failed", "a job's progress counter; each failure is its own evaluation.failed entry"),
		opcol("attempts", "how often a job's run failed as a whole (not a resident's evaluation): retry state, logged to the server's log"),
		opcol("last_error", "the last whole-run failure's message: retry state, logged to the server's log"),
		opcol("retry_at", "when a job whose run failed is tried again: retry state"),
		pcol("created_at"), pcol("finished_at"), pcol("log_index")}},
	{name: "token_keys", key: []string{"id"}, cols: []projCol{pcol("purpose"), pcol("public_key"),
		opcol("sealed", "the private key, sealed under the key secret: never logged"),
		pcol("not_before"), pcol("not_after"), pcol("status"), pcol("created_at"), pcol("log_index")}},
	{name: "trust_imports", key: []string{"issuer"}, cols: []projCol{pcol("trust_key"), pcol("version"),
		opcol("envelope", "the other issuer's signed trust list, verified against the logged trust key when imported"),
		pcol("imported_at"), pcol("log_index")}},
	{name: "appeals", key: []string{"id"}, cols: []projCol{pcol("resident"), pcol("home"), pcol("assigned"), pcol("filed_by"), pcol("filed_by_kind"), perscol("consent"),
		pcol("fact_keys"), perscol("statement"), pcol("status"), pcol("filed_at"), pcol("deadline"), pcol("escalations"), pcol("decided_by"), pcol("decided_at"),
		perscol("reason"), pcol("log_index"), pcol("decided_log")}},
	{name: "appeal_steps", key: []string{"log_index"}, ints: ints("log_index"), cols: []projCol{pcol("appeal"), pcol("resident"), pcol("kind"), pcol("actor"), pcol("post"), pcol("detail"), pcol("at")}},
	{name: "appeal_attachments", key: []string{"appeal", "n"}, ints: ints("n"), cols: []projCol{perscol("name"),
		opcol("media_type", "declared by the uploader; the content is committed by sha256"),
		pcol("sha256"), pcol("size"),
		opcol("data", "the attachment's content, committed by its logged sha256 and size")}},
	{name: "alerts", key: []string{"id"}, cols: []projCol{pcol("kind"), pcol("subject"), pcol("jurisdiction"), pcol("detail"), pcol("raised_at"), pcol("log_index"), pcol("resident")}},
	{name: "data_access", key: []string{"log_index"}, ints: ints("log_index"), cols: []projCol{pcol("resident"), pcol("official"), pcol("post"), pcol("what"), pcol("at")}},
	{name: "fact_holds", key: []string{"fact"}, cols: []projCol{pcol("subject"), pcol("approval_scope"),
		opcol("why", "the hold's explanation for the approver; the scope that binds is logged"),
		pcol("log_index")}},
	{name: "designation_holds", key: []string{"designation", "resident"}, cols: []projCol{pcol("appeal"), pcol("approval_scope"), pcol("status"),
		pcol("log_index"), pcol("decided_by"), pcol("reason"), pcol("decided_log")}},
	{name: "case_citations", key: []string{"case_id", "resident"}},
	{name: "erased_counts", key: []string{"what", "a", "b"}, cols: []projCol{pcol("n")}},
}

// operationalTables are the tables that are not a projection of the log,
// with the reason. The log's own tables are checked by hashes, chains and
// signatures instead.
var operationalTables = map[string]string{
	"meta":              "the deployment's identity and keys",
	"schema_migrations": "the schema's version",
	"log_head":          "the log itself: its size, root and latest checkpoint",
	"log_entries":       "the log itself: checked against the stored hashes and the signed checkpoints",
	"log_hashes":        "the log itself: recomputed from the entries",
	"log_checkpoints":   "the log itself: signed checkpoints",
	"log_personal":      "personal parts held outside the leaves, each checked against its entry's commitment",
	"log_subjects":      "each subject's hash-chain head, checked against the recomputed chains",
	"log_witnessed":     "witness cosignatures on a signed checkpoint, checked by every verifier against the witnesses' keys",
	"accounts":          "credentials: password hashes are never logged",
	"sessions":          "login sessions",
	"login_throttle":    "login rate-limit counters and delays",
	"official_logins":   "officials' logins and failed attempts with their addresses, for auditors: not public, not in the log",
	"source_rates":      "rate counters for the source surge alert",
	"code_schedule":     "a cache: when each code can next change by time alone, recomputed by any evaluation",
	"code_heads":        "the log's index of each resident's latest code.changed entry, written with the entry; the auditor checks it against its projection of the log",
	"audit_state":       "the background auditor's cursors",
	"inbox_reads":       "how far each resident has read their inbox (a read mark); the inbox's items derive from the projection",
	"idempotency_keys":  "the answers to creates made with an Idempotency-Key, kept a day for the client's retry; the create itself is logged",
	"trust_state":       "signed artefacts (our trust list and recognition statement), re-signed from token_keys and trust_imports; their versions are logged",
}
