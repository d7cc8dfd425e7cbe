package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/healthcode/healthcode"
)

// Every request body and every fact is decoded strictly, in one pass:
// names match exactly, an unknown name is an error, and so is a name given
// twice (at any depth) — with a duplicate, the evaluator and a reader of the
// logged text could each take a different one of its values. Invalid UTF-8
// and data after the value are errors too.
var strict = json.RejectUnknownMembers(true)

// decodeStrict decodes the JSON value data into v strictly; an error names
// the field at fault.
func decodeStrict(data []byte, v any) error {
	if err := json.Unmarshal(data, v, strict); err != nil {
		return strictError(err, 0)
	}
	return nil
}

// decodeStrictRead is decodeStrict for a body of at most limit bytes.
func decodeStrictRead(r io.Reader, v any, limit int64) error {
	if err := json.UnmarshalRead(r, v, strict); err != nil {
		return strictError(err, limit)
	}
	return nil
}

// strictError is the *healthcode.Error of a failed strict decode, with the
// field named where the decoder says which (e.g. "payload.result").
func strictError(err error, limit int64) error {
	var me *http.MaxBytesError
	var se *jsontext.SyntacticError
	var te *json.SemanticError
	switch {
	case errors.As(err, &me):
		return healthcode.Errorf(healthcode.EINVALID, "request body is larger than %d bytes", limit)
	case errors.As(err, &se):
		field := pointerField(se.JSONPointer)
		switch {
		case errors.Is(se.Err, jsontext.ErrDuplicateName):
			return healthcode.FieldErrorf(field, "is given more than once: each field may appear only once")
		case errors.Is(se.Err, io.ErrUnexpectedEOF) && se.ByteOffset == 0:
			return healthcode.Errorf(healthcode.EINVALID, "request body is empty: want a JSON object")
		case errors.Is(se.Err, io.ErrUnexpectedEOF):
			return healthcode.Errorf(healthcode.EINVALID, "malformed JSON: body ends early")
		case strings.Contains(se.Error(), "after top-level value"):
			return healthcode.Errorf(healthcode.EINVALID, "data after the JSON value")
		}
		msg := fmt.Sprintf("malformed JSON at byte %d: %v", se.ByteOffset, se.Err)
		if field != "" {
			return healthcode.FieldErrorf(field, "%s", msg)
		}
		return healthcode.Errorf(healthcode.EINVALID, "%s", msg)
	case errors.As(err, &te):
		field := pointerField(te.JSONPointer)
		switch {
		case errors.Is(te.Err, json.ErrUnknownName):
			return healthcode.FieldErrorf(field, "unknown field %q", te.JSONPointer.LastToken())
		case te.GoType != nil && te.JSONKind != 0 && te.Err == nil:
			return healthcode.FieldErrorf(field, "must be %s, not %s", te.GoType, kindName(te.JSONKind))
		case te.Err != nil:
			return healthcode.FieldErrorf(field, "%v", te.Err)
		}
		return healthcode.FieldErrorf(field, "cannot be decoded: %v", err)
	}
	return healthcode.Errorf(healthcode.EINVALID, "malformed JSON: %v", err)
}

// pointerField is a JSON pointer as a field name: "/payload/result" is
// "payload.result".
func pointerField(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return k.String()
}
