package tlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/healthcode/healthcode"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// personalPrefix separates personal-data commitments from every other
// SHA-256 use in the platform (leaf and node hashes start with 0x00/0x01).
const personalPrefix = "healthcode/log/personal/v1\x00"

// PersonalCommitment returns the commitment an entry's Personal field holds
// for the personal part of the entry:
//
//	SHA-256("healthcode/log/personal/v1" || 0x00 || salt || personal)
//
// The store keeps salt and personal data outside the log, where they may be
// deleted; the leaf keeps only the commitment, so erasure leaves every leaf
// hash valid. The secret salt keeps the commitment from being confirmed by
// guessing the personal data.
func PersonalCommitment(salt [32]byte, personal []byte) sumtlog.Hash {
	h := sha256.New()
	h.Write([]byte(personalPrefix))
	h.Write(salt[:])
	h.Write(personal)
	var out sumtlog.Hash
	h.Sum(out[:0])
	return out
}

// CheckPersonal reports whether salt and personal open the commitment c.
func CheckPersonal(c sumtlog.Hash, salt [32]byte, personal []byte) bool {
	return PersonalCommitment(salt, personal) == c
}

// PersonalPart is the personal part of a v2 entry: what the public leaf
// leaves out, committed by its personal line. Subject and Prev are the
// resident and the per-resident chain link (the leaf hash of the
// resident's previous entry); Event is the entry's whole event, of which
// the leaf's payload is the public view (empty when the payload is the
// whole event); Data the kind's personal fields (a name, a statement), or
// empty.
//
// Its encoding is a compact JSON object with the keys in this order,
// each left out when empty:
//
//	{"subject":"r_…","prev":"base64","event":{…},"data":{…}}
type PersonalPart struct {
	Subject string
	Prev    sumtlog.Hash
	Event   json.RawMessage
	Data    json.RawMessage
}

// MarshalText returns the canonical encoding of p. Event and Data must be
// compact JSON objects (or empty).
func (p *PersonalPart) MarshalText() ([]byte, error) {
	if p.Subject != "" {
		if err := checkID("subject", p.Subject); err != nil {
			return nil, err
		}
	} else if p.Prev != (sumtlog.Hash{}) {
		return nil, healthcode.FieldErrorf("prev", "must be zero when there is no subject")
	}
	for _, f := range []struct {
		name string
		v    []byte
	}{{"event", p.Event}, {"data", p.Data}} {
		if err := checkPayload(f.v); err != nil {
			return nil, healthcode.FieldErrorf(f.name, "%s", err.(*healthcode.Error).Message)
		}
	}
	return p.AppendText(make([]byte, 0, len(p.Event)+len(p.Data)+112)), nil
}

// AppendText appends p's encoding to b without checking p: for a writer
// whose parts are known to be valid (ids checked, JSON compact).
func (p *PersonalPart) AppendText(b []byte) []byte {
	b = append(b, '{')
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if p.Subject != "" {
		b = append(b, `"subject":"`...)
		b = append(b, p.Subject...) // printable ASCII; '"' and '\' escaped below
		b = escapeTail(b, len(p.Subject))
		b = append(b, '"')
	}
	if p.Prev != (sumtlog.Hash{}) {
		sep()
		b = append(b, `"prev":"`...)
		b = base64.StdEncoding.AppendEncode(b, p.Prev[:])
		b = append(b, '"')
	}
	if len(p.Event) > 0 {
		sep()
		b = append(b, `"event":`...)
		b = append(b, p.Event...)
	}
	if len(p.Data) > 0 {
		sep()
		b = append(b, `"data":`...)
		b = append(b, p.Data...)
	}
	return append(b, '}')
}

// escapeTail JSON-escapes the last n bytes of b, printable ASCII, in
// place (only '"' and '\' need it).
func escapeTail(b []byte, n int) []byte {
	tail := b[len(b)-n:]
	if !bytes.ContainsAny(tail, `"\`) {
		return b
	}
	s := string(tail)
	b = b[:len(b)-n]
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// ParsePersonalPart decodes a v2 entry's personal part, strictly: only
// the canonical encoding is accepted. Errors are EINVALID.
//
// A canonical part is split at its known keys (splitPersonalPart) and
// accepted if MarshalText, which checks every field, gives back the same
// bytes: the canonical encoding is one-to-one, so this accepts exactly
// what decoding it as JSON and encoding it again would. Anything else is
// decoded as JSON, for the error to say what is wrong. (Verify opens
// every personal part, most twice: decoding each as JSON was a third of
// its time.)
func ParsePersonalPart(data []byte) (*PersonalPart, error) {
	if p, ok := splitPersonalPart(data); ok {
		if enc, err := p.MarshalText(); err == nil && bytes.Equal(enc, data) {
			return p, nil
		}
	}
	return decodePersonalPart(data)
}

// splitPersonalPart splits data, laid out as MarshalText lays out a
// part, into its fields, unchecked; false if it is not laid out so. The
// fields are a copy's: data may be a buffer the caller reuses.
func splitPersonalPart(data []byte) (*PersonalPart, bool) {
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return nil, false
	}
	b := bytes.Clone(data[1 : len(data)-1])
	p := &PersonalPart{}
	first := true
	key := func(k string) bool {
		rest := b
		if !first {
			if len(rest) == 0 || rest[0] != ',' {
				return false
			}
			rest = rest[1:]
		}
		if len(rest) < len(k)+3 || rest[0] != '"' || string(rest[1:1+len(k)]) != k || rest[1+len(k)] != '"' || rest[2+len(k)] != ':' {
			return false
		}
		b, first = rest[3+len(k):], false
		return true
	}
	if key("subject") {
		s, n, ok := splitString(b)
		if !ok {
			return nil, false
		}
		p.Subject, b = s, b[n:]
	}
	if key("prev") {
		s, n, ok := splitString(b)
		if !ok {
			return nil, false
		}
		h, err := parseHashText(s)
		if err != nil {
			return nil, false
		}
		p.Prev, b = h, b[n:]
	}
	if key("event") {
		n, ok := splitObject(b)
		if !ok {
			return nil, false
		}
		p.Event, b = b[:n:n], b[n:]
	}
	if key("data") {
		n, ok := splitObject(b)
		if !ok {
			return nil, false
		}
		p.Data, b = b[:n:n], b[n:]
	}
	return p, len(b) == 0
}

// splitString reads a JSON string at the start of b in which only '"'
// and '\' are escaped (as AppendText writes a subject): its value and
// its length in b.
func splitString(b []byte) (string, int, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", 0, false
	}
	var esc []byte
	for i := 1; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			if esc != nil {
				return string(esc), i + 1, true
			}
			return string(b[1:i]), i + 1, true
		case '\\':
			if i+1 == len(b) || b[i+1] != '"' && b[i+1] != '\\' {
				return "", 0, false
			}
			if esc == nil {
				esc = append([]byte{}, b[1:i]...)
			}
			esc = append(esc, b[i+1])
			i++
		default:
			if esc != nil {
				esc = append(esc, c)
			}
		}
	}
	return "", 0, false
}

// splitObject is the length of the JSON object at the start of b, found
// by its braces outside strings (its validity is MarshalText's to check).
func splitObject(b []byte) (int, bool) {
	if len(b) == 0 || b[0] != '{' {
		return 0, false
	}
	depth, in := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// decodePersonalPart is ParsePersonalPart by decoding data as JSON.
func decodePersonalPart(data []byte) (*PersonalPart, error) {
	var raw struct {
		Subject *string         `json:"subject"`
		Prev    *string         `json:"prev"`
		Event   json.RawMessage `json:"event"`
		Data    json.RawMessage `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&raw); err != nil {
		return nil, healthcode.Errorf(healthcode.EINVALID, "personal part does not decode: %v", err)
	}
	p := &PersonalPart{Event: raw.Event, Data: raw.Data}
	if raw.Subject != nil {
		p.Subject = *raw.Subject
	}
	if raw.Prev != nil {
		h, err := parseHashText(*raw.Prev)
		if err != nil {
			return nil, healthcode.FieldErrorf("prev", "%v", err)
		}
		p.Prev = h
	}
	enc, err := p.MarshalText()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, data) {
		return nil, healthcode.Errorf(healthcode.EINVALID, "personal part is not in canonical form")
	}
	return p, nil
}
