package server

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
)

// TestParseFactsNDJSON: a well-formed NDJSON body takes the one-decoder
// path (parseNDJSON) and gives what line-by-line parsing gives; anything
// else is parsed line by line, every malformed line reported.
func TestParseFactsNDJSON(t *testing.T) {
	fact := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"kind":"test_result","subject":"r_1","observed_at":"2026-11-01T08:00:00Z","evidence":"e","payload":{"method":"pcr"}}`, id)
	}
	good := "\n" + fact("a") + "\r\n\n  " + fact("b") + " \t\n" + fact("c")
	facts, lines, ok := parseNDJSON([]byte(good))
	if !ok || len(facts) != 3 || !reflect.DeepEqual(lines, []int{2, 4, 5}) || facts[1].ID != "b" || string(facts[2].Payload) != `{"method":"pcr"}` {
		t.Fatalf("well-formed body: ok=%v lines=%v facts=%+v", ok, lines, facts)
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, ok := parseNDJSON([]byte(tc.body)); ok {
				t.Error("parseNDJSON accepted it")
			}
			_, _, err := parseFacts([]byte(tc.body))
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
		if _, _, err := parseFacts(body); err != nil {
			b.Fatal(err)
		}
	}
}
