// Package healthcode holds the domain of the accountable health code
// platform: jurisdictions, residents, officials, data sources, facts, code
// states, appeals, alerts, re-evaluation jobs, rulesets as stored, the
// acting party carried in a context, and the error type every layer
// returns. The store persists these types; it does not define them.
//
// The central invariant lives here as a rule for every other package: a code
// is a pure function of published rules and attributable facts. There is no
// operation that sets a colour; state changes are facts, retractions and
// ruleset publications, each committed with its log entry.
//
// This package imports only the standard library.
package healthcode

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each service method documents which of these it returns.
const (
	ECONFLICT  = "conflict"     // the request conflicts with existing state
	EINTERNAL  = "internal"     // a fault inside the platform; details are logged, not shown
	EINVALID   = "invalid"      // the input is malformed or violates a rule
	ENOTFOUND  = "not_found"    // the target does not exist (or is not visible to the actor)
	EFORBIDDEN = "forbidden"    // the actor may not do this
	EUNAUTH    = "unauthorized" // no valid credentials
	ETOOMANY   = "too_many"     // a rate limit was reached
	EUNAVAIL   = "unavailable"  // a dependency (the database) cannot be reached
)

// Error is an error a person can act on: a code from the list above and a
// message. Field, when set, names the input field (or line) at fault.
type Error struct {
	Code    string
	Message string
	Field   string
	Line    int      // 1-based line (or item) of a batch input, 0 if none
	Details []*Error // for a rejected batch: its errors, or the first of them
	Total   int      // for a rejected batch: how many errors in all, if more than Details holds

	RetryAfter time.Duration // for ETOOMANY and EUNAVAIL: when to try again, if known
}

func (e *Error) Error() string {
	return e.Code + ": " + e.where() + e.Message
}

// where is "line 3: payload.sampled_at: " or as much of it as is known.
func (e *Error) where() string {
	var w string
	if e.Line > 0 {
		w = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Field != "" {
		w += e.Field + ": "
	}
	return w
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error of code EINVALID naming the field at fault.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for internal errors, so internals never reach a user.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.where() + e.Message
	}
	return "internal error"
}

// RetryAfterSeconds is when to try again after err (an ETOOMANY or
// EUNAVAIL), in whole seconds rounded up: the error's RetryAfter, or 1
// when it does not know.
func RetryAfterSeconds(err error) int {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return int((e.RetryAfter + time.Second - 1) / time.Second)
	}
	return 1
}
