package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// Limits of a fact batch, checked while the body is read so that no body
// costs more memory than its limits allow (docs/operations.md).
const (
	// maxFactsBody bounds a fact batch: 10,000 facts of about a kilobyte.
	maxFactsBody = 16 << 20
	// maxFactLine bounds one NDJSON line or one item of a JSON array.
	maxFactLine = 64 << 10
	// maxFactDepth bounds the nesting of objects and arrays in one fact,
	// the fact object itself counting as 1.
	maxFactDepth = 16
	// maxErrorDetails is how many errors an error response lists; the
	// total count is given beside them.
	maxErrorDetails = 100
)

// parseFacts reads a JSON array of facts, or NDJSON (one fact per line), as
// a stream. It stops at once, with an error, when the body holds more than
// store.MaxFactBatch facts, a line (or array item) longer than maxFactLine,
// or the body limit of r is crossed. Every malformed item is counted and
// the first maxErrorDetails are reported with their line (NDJSON) or
// position (array); no fact is returned if any is malformed.
func parseFacts(r io.Reader) ([]healthcode.Fact, []int, error) {
	br := bufio.NewReaderSize(r, maxFactLine+1)
	first, skipped, err := skipSpace(br)
	if errors.Is(err, io.EOF) {
		return nil, nil, healthcode.Errorf(healthcode.EINVALID, "the body is empty: want a JSON array of facts or NDJSON")
	}
	if err != nil {
		return nil, nil, bodyError(err)
	}
	var b factBatch
	if first == '[' {
		err = b.readArray(br)
	} else {
		err = b.readLines(br, 1+skipped)
	}
	if err != nil {
		return nil, nil, b.fail(err)
	}
	if b.nerr > 0 {
		return nil, nil, b.fail(nil)
	}
	return b.facts, b.lines, nil
}

// factBatch collects the facts of a batch, or once one is malformed only
// its errors: the first maxErrorDetails and their count.
type factBatch struct {
	n     int // items read
	facts []healthcode.Fact
	lines []int
	errs  []*healthcode.Error
	nerr  int
}

// errTooMany stops reading a batch with more than store.MaxFactBatch facts.
var errTooMany = healthcode.Errorf(healthcode.EINVALID, "the batch has more than %d facts: split it", store.MaxFactBatch)

// add decodes one item (an NDJSON line or an array element) at line.
func (b *factBatch) add(line int, item []byte) error {
	b.n++
	if b.n > store.MaxFactBatch {
		return errTooMany
	}
	f, err := decodeFact(item)
	if err != nil {
		b.nerr++
		if len(b.errs) < maxErrorDetails {
			he := healthcode.Error{Code: healthcode.EINVALID}
			var e *healthcode.Error
			if errors.As(err, &e) {
				he = *e
			}
			he.Line = line
			b.errs = append(b.errs, &he)
		}
		b.facts, b.lines = nil, nil
		return nil
	}
	if b.nerr == 0 {
		b.facts = append(b.facts, f)
		b.lines = append(b.lines, line)
	}
	return nil
}

// fail is the batch's error: stop (why reading stopped, if it did) and the
// malformed items seen until then.
func (b *factBatch) fail(stop error) error {
	if b.nerr == 0 {
		return stop
	}
	first := b.errs[0]
	msg := fmt.Sprintf("%s (batch rejected: %d malformed fact(s), nothing stored)", first.Message, b.nerr)
	if stop != nil {
		msg = fmt.Sprintf("%s (batch rejected: %d malformed fact(s) before it, nothing stored)", healthcode.ErrorMessage(stop), b.nerr)
	}
	return &healthcode.Error{Code: healthcode.EINVALID, Line: first.Line, Field: first.Field, Message: msg, Details: b.errs, Total: b.nerr}
}

// readLines reads NDJSON: one fact per line, blank lines skipped.
// The first line read is line first.
func (b *factBatch) readLines(br *bufio.Reader, first int) error {
	for n := first; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return healthcode.Errorf(healthcode.EINVALID, "line %d is longer than %d bytes", n, maxFactLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return bodyError(err)
		}
		if item := bytes.TrimSpace(line); len(item) > 0 {
			if err := b.add(n, item); err != nil {
				return err
			}
		}
		if err != nil {
			return nil
		}
	}
}

// readArray reads a JSON array of facts, item by item. The stream itself
// lets duplicate names and invalid UTF-8 through, so that decodeFact
// refuses them with the item's number.
func (b *factBatch) readArray(br *bufio.Reader) error {
	dec := jsontext.NewDecoder(br, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if _, err := dec.ReadToken(); err != nil {
		return bodyError(err)
	}
	for i := 1; dec.PeekKind() != ']'; i++ {
		item, err := dec.ReadValue()
		if err != nil {
			return bodyError(err)
		}
		if len(item) > maxFactLine {
			return healthcode.Errorf(healthcode.EINVALID, "item %d is longer than %d bytes", i, maxFactLine)
		}
		if err := b.add(i, item); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return bodyError(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return healthcode.Errorf(healthcode.EINVALID, "request body has data after the JSON array")
	}
	return nil
}

// decodeFact decodes one fact object, strictly (decodeStrict): unknown or
// duplicate fields, data after it and nesting deeper than maxFactDepth are
// errors.
func decodeFact(item []byte) (healthcode.Fact, error) {
	if tooDeep(item, maxFactDepth) {
		return healthcode.Fact{}, healthcode.Errorf(healthcode.EINVALID, "objects and arrays nested deeper than %d", maxFactDepth)
	}
	var fj factJSON
	if err := decodeStrict(item, &fj); err != nil {
		return healthcode.Fact{}, err
	}
	return healthcode.Fact{ID: fj.ID, Kind: fj.Kind, Subject: fj.Subject, ObservedAt: fj.ObservedAt, Evidence: fj.Evidence, Payload: fj.Payload}, nil
}

// tooDeep reports whether the JSON text b nests objects and arrays deeper
// than limit (strings are skipped; b need not be well-formed).
func tooDeep(b []byte, limit int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > limit {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}

// skipSpace skips JSON white space and returns the next byte, unread, and
// how many newlines it skipped.
func skipSpace(br *bufio.Reader) (byte, int, error) {
	newlines := 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, newlines, err
		}
		switch c {
		case '\n':
			newlines++
		case ' ', '\t', '\r':
		default:
			return c, newlines, br.UnreadByte()
		}
	}
}

// bodyError is the error of a failed read or JSON decode of a fact batch.
func bodyError(err error) error {
	var me *http.MaxBytesError
	if errors.As(err, &me) {
		return healthcode.Errorf(healthcode.EINVALID, "request body is larger than %d bytes: split the batch", maxFactsBody)
	}
	return strictError(err, maxFactsBody)
}
