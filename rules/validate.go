package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/healthcode/healthcode"
)

// ValidateFact checks a fact against the closed schema: the fields every fact
// has (healthcode.Fact.Validate), a known kind, a subject of the right sort
// (a jurisdiction code for area facts), and a payload that is a JSON object
// with exactly the kind's fields, each well-typed and within its enum, times
// in RFC 3339 no more than MaxSkew after now (the ends of designations and
// orders may lie in the future), and intervals that end after they start.
//
// It returns a *healthcode.Error of code EINVALID whose Field names the field
// at fault, e.g. "payload.sampled_at". Checks that need the database (that a
// cited case exists) are the caller's; CitedCases lists the cases to check.
func ValidateFact(f *healthcode.Fact, now time.Time) error {
	_, err := ValidateFactDecoded(f, now)
	return err
}

// ValidateFactDecoded is ValidateFact, and returns the fact as it decoded
// it too: an evaluation given it (Input.Decoded) does not decode the
// payload again.
func ValidateFactDecoded(f *healthcode.Fact, now time.Time) (*Decoded, error) {
	d, err := validateFact(f, now)
	if err != nil {
		return nil, err
	}
	return &Decoded{d: d, kind: f.Kind, subject: f.Subject, observed: f.ObservedAt, payload: bytes.Clone(f.Payload)}, nil
}

// Decoded is a fact that ValidateFactDecoded decoded, with what its
// decoding read (kind, subject, observation time and payload: copies, so
// that a change to the caller's fact cannot make it stale).
type Decoded struct {
	d        *decoded
	kind     string
	subject  string
	observed time.Time
	payload  []byte
}

// decodeWith returns f decoded: from pre's entry for f.Key if it decoded
// the same kind, subject, observation time and payload (a copy with f as
// its fact and f's id), else afresh.
func decodeWith(f *healthcode.Fact, pre map[string]*Decoded) (*decoded, error) {
	p := pre[f.Key]
	if p == nil || p.kind != f.Kind || p.subject != f.Subject || !p.observed.Equal(f.ObservedAt) || !bytes.Equal(p.payload, f.Payload) {
		return decode(f)
	}
	d := *p.d
	d.fact, d.obj = f, nil
	if id := types.String(f.ID); d.vals[fieldID] != id {
		d.vals = slices.Clone(d.vals)
		d.vals[fieldID] = id
	}
	return &d, nil
}

func validateFact(f *healthcode.Fact, now time.Time) (*decoded, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if field := duplicateField(f.Payload); field != "" {
		return nil, healthcode.FieldErrorf(field, "is given more than once: each field may appear only once")
	}
	d, err := decode(f)
	if err != nil {
		return nil, err
	}
	limit := now.Add(MaxSkew)
	k := &kinds[d.kind]
	for i, fl := range k.Fields {
		if fl.Type != TypeTime || fl.Future {
			continue
		}
		if t := d.vals[fieldBase+i].(types.Timestamp).Time; t.After(limit) {
			return nil, healthcode.FieldErrorf("payload."+fl.Name, "%s is in the future", t.Format(time.RFC3339))
		}
	}
	if f.ObservedAt.After(limit) {
		return nil, healthcode.FieldErrorf("observed_at", "%s is in the future", f.ObservedAt.UTC().Format(time.RFC3339))
	}
	return d, nil
}

// CitedCases returns the case ids a fact cites: a contact's case_id and a
// risk area's case_ids; nil for other kinds. The service checks that each
// exists and, for a contact, that it is a confirmed or asymptomatic case.
func CitedCases(f *healthcode.Fact) ([]string, error) {
	d, err := decode(f)
	if err != nil {
		return nil, err
	}
	return slices.Clone(d.cases), nil
}

// WindowOf returns the interval in which a fact counts in evaluation, as
// described by its kind's Window: [from, until), with a zero until for facts
// that never age out.
func WindowOf(f *healthcode.Fact) (from, until time.Time, err error) {
	d, err := decode(f)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return d.from, d.until, nil
}

// EventTime returns the first time field of a payload of the kind (the
// sampling, dose, exposure, arrival or start time), or the zero time if the
// kind has none (case_status) or the payload does not give it. It is the
// natural Fact.ObservedAt of a fact a source submits without one.
func EventTime(kind string, payload json.RawMessage) time.Time {
	i := kindIndex(kind)
	if i < 0 {
		return time.Time{}
	}
	k := &kinds[i]
	var raw map[string]json.RawMessage
	if json.Unmarshal(payload, &raw) != nil {
		return time.Time{}
	}
	for _, fl := range k.Fields {
		if fl.Type != TypeTime {
			continue
		}
		var s string
		if json.Unmarshal(raw[fl.Name], &s) != nil {
			return time.Time{}
		}
		t, _ := time.Parse(time.RFC3339, s)
		return t.UTC()
	}
	return time.Time{}
}

// The first CEL fields of every fact object; payload fields follow.
const (
	fieldID = iota
	fieldObserved
	fieldBase
)

// decoded is a fact decoded for evaluation: its CEL field values, window and
// citations. It is built once per fact and never changed.
type decoded struct {
	fact  *healthcode.Fact
	kind  int
	vals  []ref.Val // id, observed_at, then the kind's fields in order
	from  time.Time // the window
	until time.Time // zero: never ends
	cases []string  // cited case ids
	area  string    // area_visit's area, risk_area's subject
	obj   *object   // the CEL value
	// The window and every time in vals, in ns since 1970, for NextChange;
	// untilN is MaxInt64 for a window without end.
	fromN, untilN int64
	nanos         []int64
}

// decode checks f's kind, subject and payload and decodes the payload.
func decode(f *healthcode.Fact) (*decoded, error) {
	ki := kindIndex(f.Kind)
	if ki < 0 {
		return nil, healthcode.FieldErrorf("kind", "unknown fact kind %q (want one of %s)", f.Kind, kindNames())
	}
	k := &kinds[ki]
	d := &decoded{fact: f, kind: ki, vals: make([]ref.Val, fieldBase+len(k.Fields))}
	d.vals[fieldID] = types.String(f.ID)
	d.vals[fieldObserved] = types.Timestamp{Time: f.ObservedAt.UTC()}
	if k.Area {
		if _, err := healthcode.LevelOf(f.Subject); err != nil {
			return nil, healthcode.FieldErrorf("subject", "a %s fact is about an area: %s", f.Kind, healthcode.ErrorMessage(err))
		}
		d.area = f.Subject
	}
	raw, ok := decodeObject(f.Payload)
	if !ok {
		return nil, healthcode.FieldErrorf("payload", "must be a JSON object")
	}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		if !slices.ContainsFunc(k.Fields, func(fl Field) bool { return fl.Name == name }) {
			return nil, healthcode.FieldErrorf("payload."+name, "is not a field of %s (fields: %s)", f.Kind, fieldNames(k))
		}
	}
	for i, fl := range k.Fields {
		field := "payload." + fl.Name
		r, ok := raw[fl.Name]
		if !ok {
			return nil, healthcode.FieldErrorf(field, "is required")
		}
		v, err := decodeField(&fl, r)
		if err != nil {
			return nil, healthcode.FieldErrorf(field, "%s", err)
		}
		d.vals[fieldBase+i] = v
		switch fl.Type {
		case TypeCaseID:
			d.cases = []string{string(v.(types.String))}
		case TypeCaseIDs:
			d.cases, _ = caseIDs(r)
		case TypeArea:
			d.area = string(v.(types.String))
		}
	}
	if err := d.window(); err != nil {
		return nil, err
	}
	d.fromN, d.untilN = d.from.UnixNano(), math.MaxInt64
	if !d.until.IsZero() {
		d.untilN = d.until.UnixNano()
	}
	for _, v := range d.vals {
		if t, ok := v.(types.Timestamp); ok && !slices.Contains(d.nanos, t.UnixNano()) {
			d.nanos = append(d.nanos, t.UnixNano())
		}
	}
	if k.Name == KindCaseStatus {
		d.cases = nil // a case status is the case itself, not a citation
	}
	return d, nil
}

// duplicateField is the first member name that the JSON text payload gives
// twice, at any depth, as a field ("payload.result"); "" if there is none.
// A duplicate is ambiguous: the evaluator would take one value and a reader
// of the logged text might take the other.
func duplicateField(payload []byte) string {
	if jsontext.Value(payload).IsValid() {
		return ""
	}
	_, err := jsontext.NewDecoder(bytes.NewReader(payload)).ReadValue()
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) || !errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return ""
	}
	field := "payload"
	for tok := range se.JSONPointer.Tokens() {
		field += "." + tok
	}
	return field
}

// decodeObject decodes a JSON object's members, each left encoded for
// decodeField (one pass over the payload, no decoder to allocate).
func decodeObject(data []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

func decodeField(fl *Field, r json.RawMessage) (ref.Val, error) {
	switch fl.Type {
	case TypeInt:
		n, err := strconv.ParseInt(string(r), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		if n < 1 || n > 10 {
			return nil, fmt.Errorf("must be between 1 and 10, not %d", n)
		}
		return types.Int(n), nil
	case TypeCaseIDs:
		list, err := caseIDs(r)
		if err != nil {
			return nil, err
		}
		vs := make([]ref.Val, len(list))
		for i, s := range list {
			vs[i] = types.String(s)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, vs), nil
	}
	var s string
	if len(r) == 0 || r[0] != '"' || json.Unmarshal(r, &s) != nil {
		if fl.Type == TypeTime {
			return nil, fmt.Errorf("must be an RFC 3339 time string")
		}
		return nil, fmt.Errorf("must be a string")
	}
	switch fl.Type {
	case TypeTime:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		return types.Timestamp{Time: t.UTC()}, nil
	case TypeEnum:
		if !slices.Contains(fl.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %q", s, fl.Enum)
		}
	case TypeArea:
		if _, err := healthcode.LevelOf(s); err != nil {
			return nil, fmt.Errorf("%s", healthcode.ErrorMessage(err))
		}
	default:
		if err := checkText(s); err != nil {
			return nil, err
		}
	}
	return types.String(s), nil
}

// caseIDs decodes a list of case ids.
func caseIDs(r json.RawMessage) ([]string, error) {
	var raw []json.RawMessage
	if len(r) == 0 || r[0] != '[' || json.Unmarshal(r, &raw) != nil {
		return nil, fmt.Errorf("must be a list of case ids")
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("must cite at least one case")
	}
	if len(raw) > MaxCaseIDs {
		return nil, fmt.Errorf("cites more than %d cases", MaxCaseIDs)
	}
	list := make([]string, len(raw))
	for i, x := range raw {
		if len(x) == 0 || x[0] != '"' || json.Unmarshal(x, &list[i]) != nil {
			return nil, fmt.Errorf("must be a list of case ids")
		}
		if err := checkText(list[i]); err != nil {
			return nil, fmt.Errorf("case id %d %s", i+1, err)
		}
	}
	return list, nil
}

func checkText(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(s) > 128 {
		return fmt.Errorf("is longer than 128 bytes")
	}
	return nil
}

// window sets d's window and checks that intervals end after they start.
func (d *decoded) window() error {
	t := func(name string) time.Time {
		for i, fl := range kinds[d.kind].Fields {
			if fl.Name == name {
				return d.vals[fieldBase+i].(types.Timestamp).Time
			}
		}
		panic("rules: no field " + name)
	}
	switch kinds[d.kind].Name {
	case KindTestResult:
		d.from = t("sampled_at")
		d.until = d.from.Add(Lookback)
	case KindVaccination:
		d.from = t("administered_at")
	case KindCaseStatus:
		d.from = d.fact.ObservedAt.UTC()
	case KindContact:
		d.from = t("exposed_at")
		d.until = d.from.Add(Lookback)
	case KindAreaVisit:
		d.from = t("arrived_at")
		dep := t("departed_at")
		if dep.Before(d.from) {
			return healthcode.FieldErrorf("payload.departed_at", "is before arrived_at")
		}
		d.until = dep.Add(Lookback)
	case KindRiskArea, KindQuarantine:
		d.from = t("from")
		u := t("until")
		if !u.After(d.from) {
			return healthcode.FieldErrorf("payload.until", "must be after from")
		}
		d.until = u
		if kinds[d.kind].Name == KindRiskArea {
			d.until = u.Add(Lookback)
		}
	}
	return nil
}

// in reports whether d counts at now.
func (d *decoded) in(now time.Time) bool {
	return !now.Before(d.from) && (d.until.IsZero() || now.Before(d.until))
}

func kindNames() string {
	var b []byte
	for i, k := range kinds {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, k.Name...)
	}
	return string(b)
}

func fieldNames(k *Kind) string {
	var b []byte
	for i, fl := range k.Fields {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, fl.Name...)
	}
	return string(b)
}
