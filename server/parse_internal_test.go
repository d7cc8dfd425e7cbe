package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
)

// TestParseFacts: NDJSON and a JSON array give the same facts with their
// lines; a malformed body reports every malformed line.
func TestParseFacts(t *testing.T) {
	fact := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"kind":"test_result","subject":"r_1","observed_at":"2026-11-01T08:00:00Z","evidence":"e","payload":{"method":"pcr"}}`, id)
	}
	good := "\n" + fact("a") + "\r\n\n  " + fact("b") + " \t\n" + fact("c")
	facts, lines, err := parseFacts(strings.NewReader(good))
	if err != nil || len(facts) != 3 || !reflect.DeepEqual(lines, []int{2, 4, 5}) || facts[1].ID != "b" || string(facts[2].Payload) != `{"method":"pcr"}` {
		t.Fatalf("well-formed NDJSON: err=%v lines=%v facts=%+v", err, lines, facts)
	}
	facts, lines, err = parseFacts(strings.NewReader(" [" + fact("a") + ",\n" + fact("b") + "]\n"))
	if err != nil || len(facts) != 2 || !reflect.DeepEqual(lines, []int{1, 2}) || facts[1].ID != "b" {
		t.Fatalf("well-formed array: err=%v lines=%v facts=%+v", err, lines, facts)
	}
	for _, tc := range []struct {
		name  string
		body  string
		lines []int // of the errors reported
	}{
		{"object spanning lines", fact("a") + "\n" + strings.Replace(fact("b"), `"kind"`, "\n\"kind\"", 1), []int{2, 3}},
		{"two objects on a line", fact("a") + " " + fact("b"), []int{1}},
		{"unknown field", fact("a") + "\n" + strings.Replace(fact("b"), `"id"`, `"bank":1,"id"`, 1), []int{2}},
		{"malformed lines", fact("a") + "\n{\n" + fact("c") + "\n[1]\n", []int{2, 4}},
		{"nested too deep", fact("a") + "\n" + strings.Replace(fact("b"), `{"method":"pcr"}`, strings.Repeat("[", maxFactDepth)+strings.Repeat("]", maxFactDepth), 1), []int{2}},
		{"array item nested too deep", "[" + fact("a") + "," + strings.Replace(fact("b"), `{"method":"pcr"}`, strings.Repeat(`{"a":`, maxFactDepth)+"1"+strings.Repeat("}", maxFactDepth), 1) + "]", []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseFacts(strings.NewReader(tc.body))
			var he *healthcode.Error
			if !errors.As(err, &he) {
				t.Fatalf("parseFacts = %v, want a *healthcode.Error", err)
			}
			var got []int
			for _, d := range he.Details {
				got = append(got, d.Line)
			}
			if !reflect.DeepEqual(got, tc.lines) {
				t.Errorf("errors on lines %v, want %v (%v)", got, tc.lines, err)
			}
		})
	}
}

// TestParseFactsLimits: reading stops at the first line too long or the
// first fact beyond the batch limit, and only the first maxErrorDetails
// errors are kept, with their count.
func TestParseFactsLimits(t *testing.T) {
	stop := func(body io.Reader) (*healthcode.Error, int64) {
		t.Helper()
		cr := &countingReader{r: body}
		_, _, err := parseFacts(cr)
		var he *healthcode.Error
		if !errors.As(err, &he) {
			t.Fatalf("parseFacts = %v, want a *healthcode.Error", err)
		}
		return he, cr.n
	}
	t.Run("line too long", func(t *testing.T) {
		he, read := stop(io.MultiReader(strings.NewReader("{}\n{\"id\":\""), endless('x')))
		if !strings.Contains(he.Message, "line 2 is longer than") || read > 2*maxFactLine {
			t.Errorf("%v after reading %d bytes", he, read)
		}
	})
	t.Run("array item too long", func(t *testing.T) {
		he, _ := stop(strings.NewReader(`[{},{"id":"` + strings.Repeat("x", maxFactLine) + `"}]`))
		if !strings.Contains(he.Message, "item 2 is longer than") {
			t.Errorf("%v", he)
		}
	})
	for _, body := range []struct {
		name string
		r    io.Reader
	}{
		{"NDJSON", endlessString("{}\n")},
		{"array", io.MultiReader(strings.NewReader("["), endlessString("{},"))},
	} {
		t.Run("too many facts in "+body.name, func(t *testing.T) {
			he, read := stop(body.r)
			if !strings.Contains(he.Message, "more than 10000 facts") || read > 256<<10 {
				t.Errorf("%v after reading %d bytes", he, read)
			}
		})
	}
	t.Run("errors capped", func(t *testing.T) {
		he, _ := stop(strings.NewReader(strings.Repeat(`{"id":1}`+"\n", 500)))
		if len(he.Details) != maxErrorDetails || he.Total != 500 || he.Details[99].Line != 100 || he.Details[0].Field != "id" {
			t.Errorf("%d details, total %d: %v", len(he.Details), he.Total, he)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless is a reader of c forever.
func endless(c byte) io.Reader { return endlessString(string(c)) }

// endlessString is a reader of s repeated forever.
func endlessString(s string) io.Reader { return &repeater{s: s} }

type repeater struct {
	s   string
	off int
}

func (r *repeater) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.s[r.off]
		r.off = (r.off + 1) % len(r.s)
	}
	return len(p), nil
}

// BenchmarkParseFacts parses a 1,000-fact NDJSON batch (ns/op is per
// batch).
func BenchmarkParseFacts(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, `{"id":"pcr-%d","kind":"test_result","subject":"r_%08d","observed_at":"2026-11-01T08:00:00Z","evidence":"report %d","payload":{"method":"pcr","result":"negative","sampled_at":"2026-11-01T08:00:00Z","lab":"lab"}}`+"\n", i, i, i)
	}
	body := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseFacts(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseFactsDuplicateKeys: a name given twice, in the fact or in its
// payload, in NDJSON or a JSON array, is refused with the line and the
// field named; so is a name that differs only in case (encoding/json would
// have matched it case-insensitively and taken the last).
func TestParseFactsDuplicateKeys(t *testing.T) {
	const good = `{"id":"a","kind":"test_result","subject":"r_1","observed_at":"2026-11-01T08:00:00Z","payload":{"method":"pcr","result":"negative"}}`
	for _, tc := range []struct {
		name, fact, field string
	}{
		{"fact id", strings.Replace(good, `"id":"a"`, `"id":"a","id":"b"`, 1), "id"},
		{"payload result", strings.Replace(good, `"result":"negative"`, `"result":"negative","result":"positive"`, 1), "payload.result"},
		{"nested", strings.Replace(good, `"method":"pcr"`, `"method":{"x":1,"x":2}`, 1), "payload.method.x"},
		{"case variant", strings.Replace(good, `"id":"a"`, `"id":"a","ID":"b"`, 1), "ID"},
	} {
		for _, body := range []struct {
			name string
			text string
			line int
		}{
			{"NDJSON", good + "\n" + tc.fact + "\n", 2},
			{"array", "[" + good + ",\n" + tc.fact + "]", 2},
		} {
			t.Run(tc.name+"/"+body.name, func(t *testing.T) {
				facts, _, err := parseFacts(strings.NewReader(body.text))
				var he *healthcode.Error
				if !errors.As(err, &he) {
					t.Fatalf("parseFacts = %d facts, %v; want a *healthcode.Error", len(facts), err)
				}
				if he.Line != body.line || he.Field != tc.field {
					t.Errorf("error at line %d field %q, want line %d field %q (%v)", he.Line, he.Field, body.line, tc.field, err)
				}
			})
		}
	}
	facts, _, err := parseFacts(strings.NewReader(good))
	if err != nil || len(facts) != 1 || string(facts[0].Payload) != `{"method":"pcr","result":"negative"}` {
		t.Fatalf("good fact: %v %+v", err, facts)
	}
}

// BenchmarkParseFactsArray is BenchmarkParseFacts for the same batch as a
// JSON array.
func BenchmarkParseFactsArray(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, `{"id":"pcr-%d","kind":"test_result","subject":"r_%08d","observed_at":"2026-11-01T08:00:00Z","evidence":"report %d","payload":{"method":"pcr","result":"negative","sampled_at":"2026-11-01T08:00:00Z","lab":"lab"}}`, i, i, i)
	}
	sb.WriteString("]")
	body := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseFacts(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}
