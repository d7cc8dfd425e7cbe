package healthcode

import (
	"strings"
	"unicode/utf8"
)

// Level is a jurisdiction's place in the tree.
type Level int

// The levels, from the root down. Codes follow China's GB/T 2260
// administrative division codes: six digits down to county level
// (410000 province, 410100 city, 410102 county/district), nine for a
// street or township (410102001) and twelve for a community (410102001001).
const (
	Province Level = iota + 1
	City
	County
	Street
	Community
)

// String returns the level's English name.
func (l Level) String() string {
	switch l {
	case Province:
		return "province"
	case City:
		return "city"
	case County:
		return "county"
	case Street:
		return "street"
	case Community:
		return "community"
	}
	return "unknown"
}

// A Jurisdiction is one node of the tree. Officials act only inside the
// subtree of their post.
type Jurisdiction struct {
	Code   string // GB/T 2260-style code, see Level
	Name   string // e.g. 河南省, 郑州市, 金水区
	Level  Level
	Parent string // parent's code; "" for the province
}

// LevelOf returns the level a code denotes, or 0 and an error if the code is
// not a well-formed division code.
func LevelOf(code string) (Level, error) {
	for _, r := range code {
		if r < '0' || r > '9' {
			return 0, FieldErrorf("code", "jurisdiction code %q must be digits only", code)
		}
	}
	switch len(code) {
	case 6:
		switch {
		case code[2:] == "0000":
			if code[:2] == "00" {
				break
			}
			return Province, nil
		case code[4:] == "00":
			return City, nil
		default:
			return County, nil
		}
	case 9:
		if code[6:] != "000" && code[4:6] != "00" {
			return Street, nil
		}
	case 12:
		if code[9:] != "000" && code[6:9] != "000" && code[4:6] != "00" {
			return Community, nil
		}
	}
	return 0, FieldErrorf("code", "jurisdiction code %q is not a 6-, 9- or 12-digit division code", code)
}

// CodePrefix is the significant part of a code: the digits every
// descendant's code starts with (41 for 410000, 4101 for 410100).
func CodePrefix(code string) string { return prefix(code) }

// Ancestors returns code and the codes of its ancestors, nearest first.
func Ancestors(code string) []string {
	var out []string
	for c := code; c != ""; c = ParentCode(c) {
		out = append(out, c)
	}
	return out
}

// CountyOf is the county (district) above or at a jurisdiction, where an
// appeal's deciding command sits first; the code itself above county
// level.
func CountyOf(code string) string {
	for _, a := range Ancestors(code) {
		if l, _ := LevelOf(a); l == County {
			return a
		}
	}
	return code
}

func prefix(code string) string {
	l, err := LevelOf(code)
	if err != nil {
		return code
	}
	switch l {
	case Province:
		return code[:2]
	case City:
		return code[:4]
	}
	return code
}

// Covers reports whether the jurisdiction with code ancestor is code itself
// or one of its ancestors.
func Covers(ancestor, code string) bool {
	if ancestor == "" || code == "" {
		return false
	}
	return strings.HasPrefix(code, prefix(ancestor))
}

// ParentCode returns the code of the parent a code implies ("" for a
// province).
func ParentCode(code string) string {
	l, err := LevelOf(code)
	if err != nil {
		return ""
	}
	switch l {
	case City:
		return code[:2] + "0000"
	case County:
		if code[4:6] == "00" {
			return code[:2] + "0000"
		}
		return code[:4] + "00"
	case Street:
		return code[:6]
	case Community:
		return code[:9]
	}
	return ""
}

// Validate checks the jurisdiction's fields and that its code fits its level
// and parent.
func (j *Jurisdiction) Validate() error {
	l, err := LevelOf(j.Code)
	if err != nil {
		return err
	}
	if l != j.Level {
		return FieldErrorf("level", "code %s is a %s code, not %s", j.Code, l, j.Level)
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(j.Name)); n == 0 || n > 64 {
		return FieldErrorf("name", "must be 1 to 64 characters")
	}
	if l != Province && !Covers(j.Parent, j.Code) {
		return FieldErrorf("parent", "%q is not an ancestor of %s", j.Parent, j.Code)
	}
	return nil
}
