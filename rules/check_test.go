package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
)

func TestDefaultChecks(t *testing.T) {
	for _, err := range Check(DefaultName, DefaultSource()) {
		t.Error(err)
	}
	rs := Default()
	if rs.ID() != "henan-health-code" || rs.Version() != 1 || rs.Scope() != "410000" || len(rs.Rules()) != 10 {
		t.Errorf("Default() = %s v%d for %s with %d rules", rs.ID(), rs.Version(), rs.Scope(), len(rs.Rules()))
	}
}

func TestCheckBadRulesets(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"out_of_schema.yaml", []string{
			"testdata/out_of_schema.yaml:11:21: rule depositors: undefined field 'bank_deposits': rules may read only the fact schema (docs/facts.md)",
			"testdata/out_of_schema.yaml:17:9: rule petitioners: undeclared reference to 'petition': rules may read only facts, areas and now",
			"testdata/out_of_schema.yaml:21:46: rule depositor-field: undefined field 'bank_branch': rules may read only the fact schema (docs/facts.md)",
		}},
		{"catch_all.yaml", []string{
			"testdata/catch_all.yaml:11: rule everyone: condition reads no facts; a rule must read facts.<kind> or areas (see docs/facts.md)",
			"testdata/catch_all.yaml:15: rule after-date: condition reads no facts; a rule must read facts.<kind> or areas (see docs/facts.md)",
			"testdata/catch_all.yaml:19: rule no-contacts: condition holds for a resident with no facts; a code must rest on facts",
			"testdata/catch_all.yaml:23: rule not-a-bool: condition is of type int, not bool",
		}},
		{"syntax.yaml", []string{
			"testdata/syntax.yaml:12:49: rule unfinished: Syntax error: mismatched input ')' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
			"testdata/syntax.yaml:16:54: rule wrong-type: found no matching overload for '_==_' applied to '(timestamp, string)'",
		}},
		{"failing_example.yaml", []string{
			`testdata/failing_example.yaml:29: example "a bad fact": fact c2: payload.level: "near" is not one of ["close" "secondary" "spatiotemporal"]`,
			`testdata/failing_example.yaml:21: example "close contact after 8 days is still red": got green (no rule), want red (rule close-contact)`,
			"testdata/failing_example.yaml:14: rule secondary-contact: no example matches it",
		}},
		{"bad_yaml.yaml", []string{
			"testdata/bad_yaml.yaml:2: version must be a positive integer",
			"testdata/bad_yaml.yaml:4: legal_basis: title is required",
			"testdata/bad_yaml.yaml:5: effective_at must be an RFC 3339 time, like 2022-06-14T00:00:00+08:00",
			`testdata/bad_yaml.yaml:6: unknown key "owner" in ruleset`,
			"testdata/bad_yaml.yaml:9: colour: a rule raises a code to yellow or red; green is what no rule matching means",
		}},
		{"duplicate_keys.yaml", []string{
			`testdata/duplicate_keys.yaml:4: duplicate key "scope" in ruleset`,
			`testdata/duplicate_keys.yaml:10: duplicate key "en" in reason`,
			`testdata/duplicate_keys.yaml:16: example payload: mapping key "level" already defined at line 16`,
		}},
		{"yaml_syntax.yaml", []string{
			"testdata/yaml_syntax.yaml:3: yaml: did not find expected '-' indicator",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			name := filepath.Join("testdata", tc.file)
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, err := range Check(name, data) {
				got = append(got, err.Error())
				if healthcode.ErrorCode(err) != healthcode.EINVALID {
					t.Errorf("ErrorCode(%v) = %s, want %s", err, healthcode.ErrorCode(err), healthcode.EINVALID)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			// Parse fails too (the failing example file has an invalid fact).
			_, err = Parse(name, data)
			if err == nil {
				t.Errorf("Parse succeeded, want an error")
			}
			var pe *PosError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("Parse error %v is not a *PosError", err)
			}
		})
	}
}

// Every condition in the file is reported at its own line, whatever the
// YAML style.
func TestConditionPositions(t *testing.T) {
	src := ruleset(`facts.contacts.exists(c, c.levl == 'close')`)
	_, err := Parse("q.yaml", []byte(src))
	// The quoted condition starts at column 16; CEL reports the select's dot.
	want := "q.yaml:11:43: rule r1: undefined field 'levl': rules may read only the fact schema (docs/facts.md)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
}

// docs/facts.md documents every kind and field of the schema.
func TestDocsCoverSchema(t *testing.T) {
	doc, err := os.ReadFile("../docs/facts.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Kinds() {
		if !strings.Contains(string(doc), "### "+k.Name+" ") {
			t.Errorf("docs/facts.md has no section for %s", k.Name)
		}
		for _, fl := range k.Fields {
			if !strings.Contains(string(doc), "| `"+fl.Name+"` |") {
				t.Errorf("docs/facts.md does not document %s.%s", k.Name, fl.Name)
			}
		}
	}
	for _, r := range Default().Rules() {
		if !strings.Contains(string(doc), "| `"+r.ID+"` |") {
			t.Errorf("docs/facts.md does not explain rule %s", r.ID)
		}
	}
}

func TestParseConditions(t *testing.T) {
	for _, tc := range []struct {
		cond string
		want string // "" for no error
	}{
		{`facts.contacts.exists(facts, true)`, "q.yaml:11: rule r1: a variable may not be named facts"},
		{`areas.exists(k, areas[k].exists(a, a.level == 'high'))`, ""},
		{`facts.vaccinations.exists(v, v.dose >= 3)`, ""},
		{`facts.contacts.exists(c, c.level == 1)`, "q.yaml:11:50: rule r1: found no matching overload for '_==_' applied to '(string, int)'"},
		{`facts.contacts.exists(c, c.exposed_at > now) || now > timestamp('2022-07-01T00:00:00Z')`, ""},
		{`size(facts.contacts) >= 0`, "q.yaml:11: rule r1: condition holds for a resident with no facts; a code must rest on facts"},
		{`areas.exists(k, areas[k].size() > 0 && areas[k][0].level == 'low')`, ""},
		// The function programs use for areas[...] cannot be written.
		{`@areas_of(areas, '410102').size() > 0`, "q.yaml:11:17: rule r1: Syntax error: token recognition error at: '@'"},
	} {
		_, err := Parse("q.yaml", []byte(ruleset(tc.cond)))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Parse(%s) error = %q, want %q", tc.cond, got, tc.want)
		}
	}
}

// A CEL comment in a condition must not swallow the rest of the combined
// program.
func TestConditionComment(t *testing.T) {
	rs := mustParse(t, "c.yaml", ruleset(`facts.contacts.exists(c, c.level == 'close') // close contacts`, `facts.contacts.exists(c, c.level == 'secondary')`))
	got, err := rs.Evaluate(Input{Facts: []healthcode.Fact{contact("c1", "secondary", at(1, 0, 0))}, Now: at(2, 0, 0)})
	if err != nil || got.Rule != "r2" {
		t.Errorf("Evaluate = %v, %v; want rule r2", got, err)
	}
}
