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
func ParsePersonalPart(data []byte) (*PersonalPart, error) {
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
