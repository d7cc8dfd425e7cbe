package web

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// A fact in words, for the official who approves it (issue 17 item 4):
// each field of its kind's schema with a label and its value in the
// page's language, rather than the payload's JSON.

// factField is one field of a fact in words.
type factField struct {
	Name  string // the schema's field name, for tests and styling
	Label string
	Value string
	Code  bool // an identifier (case id, area code), shown as code
}

// enumPrefix names the catalogue keys of an enum field's values, by kind
// and field; others are "enum.FIELD.VALUE".
var enumPrefix = map[string]string{
	rules.KindContact + ".level":     "contact.",
	rules.KindRiskArea + ".level":    "risk.",
	rules.KindCaseStatus + ".status": "casestatus.",
}

// FactWords returns the fields of a fact of kind with payload in words,
// in the schema's order. A payload that does not decode (which the store
// does not let in) gives its text as one field.
func (pg *page) FactWords(kind string, payload []byte) []factField {
	k, ok := rules.LookupKind(kind)
	var raw map[string]json.RawMessage
	if !ok || json.Unmarshal(payload, &raw) != nil {
		return []factField{{Name: "payload", Label: pg.Or("field.payload", "payload"), Value: string(payload), Code: true}}
	}
	var out []factField
	for _, f := range k.Fields {
		v, ok := raw[f.Name]
		if !ok {
			continue
		}
		ff := factField{Name: f.Name, Label: pg.Or("field."+f.Name, f.Name)}
		// A value that does not decode as its type (the schema checked it
		// when it was recorded) is shown as its JSON text, never as a zero.
		raw := func() { ff.Value, ff.Code = string(v), true }
		var s string
		switch f.Type {
		case rules.TypeCaseIDs:
			var ids []string
			if err := json.Unmarshal(v, &ids); err != nil {
				raw()
				break
			}
			ff.Value, ff.Code = strings.Join(ids, ", "), true
		case rules.TypeInt:
			var n int64
			if err := json.Unmarshal(v, &n); err != nil {
				raw()
				break
			}
			ff.Value = strconv.FormatInt(n, 10)
		default:
			if err := json.Unmarshal(v, &s); err != nil {
				raw()
				break
			}
			switch f.Type {
			case rules.TypeTime:
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					ff.Value = t.UTC().Format("2006-01-02 15:04:05 UTC")
				} else {
					ff.Value = s
				}
			case rules.TypeEnum:
				prefix, ok := enumPrefix[kind+"."+f.Name]
				if !ok {
					prefix = "enum." + f.Name + "."
				}
				ff.Value = pg.Or(prefix+s, s)
			case rules.TypeCaseID, rules.TypeArea:
				ff.Value, ff.Code = s, true
			default:
				ff.Value = s
			}
		}
		out = append(out, ff)
	}
	return out
}

// factArgs lets the "factwords" partial see the page and the fact.
type factArgs struct {
	Page *page
	Fact *healthcode.Fact
}

// FactOf passes a fact to the "factwords" partial.
func (pg *page) FactOf(f *healthcode.Fact) factArgs { return factArgs{Page: pg, Fact: f} }
