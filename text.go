package healthcode

import "unicode/utf8"

// Limits of free-text fields, in bytes of UTF-8. api/openapi.yaml gives
// each field its maxLength and docs/operations.md lists them; a longer
// value is refused with EINVALID naming the field, before any work.
const (
	MaxReasonBytes   = 2000 // a reason or a note: retraction, refusal, decision, appeal, disabling, reset
	MaxEvidenceBytes = 1000 // a fact's evidence reference
	MaxNameBytes     = 200  // a file name, a media type, a login
)

// CheckText refuses a value of field longer than max bytes or not valid
// UTF-8.
func CheckText(field, s string, max int) error {
	if len(s) > max {
		return FieldErrorf(field, "must be at most %d bytes, not %d", max, len(s))
	}
	if !utf8.ValidString(s) {
		return FieldErrorf(field, "must be valid UTF-8")
	}
	return nil
}
