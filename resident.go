package healthcode

import (
	"strings"
	"time"
	"unicode/utf8"
)

// A Resident holds a health code. ID is a pseudonymous id (e.g. r_7k3...);
// the national ID number is never stored, only IDHash, an HMAC of it under a
// server secret, so a resident can be found again without keeping the number.
type Resident struct {
	ID           string
	IDHash       []byte // HMAC-SHA256(server secret, national id number)
	Name         string
	Phone        string
	Jurisdiction string // home community (or any jurisdiction) code
	CreatedAt    time.Time
	// IDMasked is the national ID number as officials' lists show it
	// (MaskNationalID): enough to tell two people of one name apart.
	IDMasked string
}

// MaskNationalID hides all of a national ID number but its first four and
// last four characters: 410105199001011234 → 4101**********1234. A number
// of eight characters or fewer is hidden entirely.
func MaskNationalID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) <= 8 {
		return strings.Repeat("*", len(id))
	}
	return id[:4] + strings.Repeat("*", len(id)-8) + id[len(id)-4:]
}

// Validate checks a resident's fields.
func (r *Resident) Validate() error {
	switch {
	case !validID(r.ID, "r_"):
		return FieldErrorf("id", "must look like r_ followed by 1 to 40 letters or digits")
	case len(r.IDHash) != 32:
		return FieldErrorf("id_hash", "must be a 32-byte HMAC")
	case utf8.RuneCountInString(strings.TrimSpace(r.Name)) == 0 || utf8.RuneCountInString(r.Name) > 64:
		return FieldErrorf("name", "must be 1 to 64 characters")
	case len(r.Phone) > 32:
		return FieldErrorf("phone", "is longer than 32 characters")
	case len(r.IDMasked) > 32:
		return FieldErrorf("id_masked", "is longer than 32 characters")
	}
	if _, err := LevelOf(r.Jurisdiction); err != nil {
		return FieldErrorf("jurisdiction", "%s", ErrorMessage(err))
	}
	return nil
}

// validID reports whether id is prefix followed by 1–40 ASCII letters,
// digits, '-' or '_'.
func validID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) == 0 || len(rest) > 40 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CodeState is a resident's current code: the colour, since when, and why.
// It is derived by evaluation, never set.
type CodeState struct {
	Resident       string
	Colour         Colour
	Since          time.Time
	RuleSet        string    // ruleset id; "" before any evaluation
	RuleSetVersion int       // ruleset version
	Rule           string    // matched rule id; "" when green by default
	FactIDs        []string  // facts the matched rule rests on
	LogIndex       int64     // the code-change entry that set this state
	NextCheck      time.Time // when the result can next change as facts age; zero for never
}
