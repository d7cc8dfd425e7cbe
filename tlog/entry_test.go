package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/healthcode/healthcode"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// exampleEntry is the worked example of docs/log.md.
func exampleEntry(t testing.TB) *Entry {
	t.Helper()
	salt := [32]byte{1, 2, 3}
	return &Entry{
		Index:    42,
		Time:     mustTime(t, "2022-06-13T08:30:00.125Z"),
		Kind:     KindFactRecorded,
		Actor:    Actor{Kind: ActorOfficial, ID: "off-7f3a", Post: "410105"},
		Subject:  "r-9c2e41",
		Prev:     sumtlog.RecordHash([]byte("previous entry of r-9c2e41")),
		Personal: PersonalCommitment(salt, []byte(`{"name":"张三"}`)),
		Payload:  json.RawMessage(`{"fact_id":"f-0001","fact_kind":"test_result","evidence":"lab-2022-0613-17"}`),
	}
}

func TestExampleEntryGolden(t *testing.T) {
	e := exampleEntry(t)
	enc, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.LeafHash()
	if err != nil {
		t.Fatal(err)
	}
	hashText := base64.StdEncoding.EncodeToString(h[:]) + "\n"
	encFile := filepath.Join("testdata", "entry-example.txt")
	hashFile := filepath.Join("testdata", "entry-example.leafhash")
	if *update {
		if err := os.WriteFile(encFile, enc, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hashFile, []byte(hashText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantEnc, err := os.ReadFile(encFile)
	if err != nil {
		t.Fatal(err)
	}
	wantHash, err := os.ReadFile(hashFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(wantEnc), string(enc)); diff != "" {
		t.Errorf("encoding differs from %s (-want +got):\n%s", encFile, diff)
	}
	if hashText != string(wantHash) {
		t.Errorf("leaf hash = %s, want %s", hashText, wantHash)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	base := exampleEntry(t)
	tests := []struct {
		name string
		edit func(e *Entry)
	}{
		{"example", func(e *Entry) {}},
		{"index zero", func(e *Entry) { e.Index = 0 }},
		{"no subject", func(e *Entry) { e.Subject, e.Prev = "", sumtlog.Hash{} }},
		{"first entry of subject", func(e *Entry) { e.Prev = sumtlog.Hash{} }},
		{"no personal", func(e *Entry) { e.Personal = sumtlog.Hash{} }},
		{"system actor", func(e *Entry) { e.Actor = Actor{Kind: ActorSystem, ID: "evaluator"} }},
		{"source actor", func(e *Entry) { e.Actor = Actor{Kind: ActorSource, ID: "lab-zz-01"} }},
		{"resident actor", func(e *Entry) { e.Actor = Actor{Kind: ActorResident, ID: "r-9c2e41"}; e.Kind = KindAppealFiled }},
		{"empty object payload", func(e *Entry) { e.Payload = json.RawMessage(`{}`) }},
		{"unicode payload", func(e *Entry) { e.Payload = json.RawMessage(`{"reason":"误判，已核实","n":[1,2.5,null,true]}`) }},
		{"escaped newline in payload", func(e *Entry) { e.Payload = json.RawMessage(`{"note":"a\nb"}`) }},
		{"max index", func(e *Entry) { e.Index = 1<<63 - 1 }},
		{"epoch", func(e *Entry) { e.Time = time.Unix(0, 0).UTC() }},
		{"whole second", func(e *Entry) { e.Time = mustTime(t, "2026-01-01T00:00:00Z") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := *base
			tt.edit(&e)
			enc, err := e.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText: %v", err)
			}
			got, err := ParseEntry(enc)
			if err != nil {
				t.Fatalf("ParseEntry(%q): %v", enc, err)
			}
			if diff := cmp.Diff(&e, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if bytes.Count(enc, []byte("\n")) != 11 {
				t.Errorf("encoding has %d lines, want 11", bytes.Count(enc, []byte("\n")))
			}
		})
	}
}

func TestEntryMarshalNilPayload(t *testing.T) {
	e := exampleEntry(t)
	e.Payload = nil
	enc, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEntry(enc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != "{}" {
		t.Errorf("payload = %s, want {}", got.Payload)
	}
}

func TestEntryMarshalTimeZone(t *testing.T) {
	e := exampleEntry(t)
	e.Time = e.Time.In(time.FixedZone("CST", 8*3600))
	enc, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(enc, []byte("\ntime 2022-06-13T08:30:00.125Z\n")) {
		t.Errorf("time not encoded in UTC:\n%s", enc)
	}
}

func TestEntryInvalid(t *testing.T) {
	base := exampleEntry(t)
	tests := []struct {
		field string
		edit  func(e *Entry)
	}{
		{"index", func(e *Entry) { e.Index = -1 }},
		{"time", func(e *Entry) { e.Time = time.Time{} }},
		{"time", func(e *Entry) { e.Time = e.Time.Add(time.Microsecond) }},
		{"time", func(e *Entry) { e.Time = mustTime(t, "1969-12-31T23:59:59Z") }},
		{"kind", func(e *Entry) { e.Kind = "code.set" }},
		{"kind", func(e *Entry) { e.Kind = "" }},
		{"actor.kind", func(e *Entry) { e.Actor.Kind = "admin" }},
		{"actor.post", func(e *Entry) { e.Actor.Post = "" }},
		{"actor.post", func(e *Entry) { e.Actor = Actor{Kind: ActorSystem, ID: "x", Post: "410105"} }},
		{"actor.id", func(e *Entry) { e.Actor.ID = "" }},
		{"actor.id", func(e *Entry) { e.Actor.ID = "a b" }},
		{"actor.id", func(e *Entry) { e.Actor.ID = "a\nkind fact.approved" }},
		{"actor.id", func(e *Entry) { e.Actor.ID = "张三" }},
		{"actor.id", func(e *Entry) { e.Actor.ID = strings.Repeat("a", 257) }},
		{"subject", func(e *Entry) { e.Subject = "r\t1" }},
		{"prev", func(e *Entry) { e.Subject = "" }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage(`{"a": 1}`) }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage("{\n}") }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage(`[1]`) }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage(`"x"`) }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage(`{"a":1}x`) }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage("{\"a\":\"\xff\"}") }},
		{"payload", func(e *Entry) { e.Payload = json.RawMessage(`{"a":"` + strings.Repeat("x", MaxEntrySize) + `"}`) }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			e := *base
			tt.edit(&e)
			_, err := e.MarshalText()
			var herr *healthcode.Error
			if !errors.As(err, &herr) || herr.Code != healthcode.EINVALID || herr.Field != tt.field {
				t.Errorf("MarshalText error = %v, want EINVALID on field %s", err, tt.field)
			}
		})
	}
}

func TestParseEntryRejectsNonCanonical(t *testing.T) {
	enc, err := exampleEntry(t).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	good := string(enc)
	zeroHash := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"no final newline", strings.TrimSuffix(good, "\n")},
		{"extra newline", good + "\n"},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n")},
		{"other version", strings.Replace(good, "healthcode/log/v1", "healthcode/log/v2", 1)},
		{"version with value", strings.Replace(good, "healthcode/log/v1\n", "healthcode/log/v1 x\n", 1)},
		{"leading zero index", strings.Replace(good, "index 42\n", "index 042\n", 1)},
		{"plus index", strings.Replace(good, "index 42\n", "index +42\n", 1)},
		{"double space", strings.Replace(good, "index 42\n", "index  42\n", 1)},
		{"trailing space", strings.Replace(good, "index 42\n", "index 42 \n", 1)},
		{"lines swapped", strings.Replace(good, "index 42\ntime 2022-06-13T08:30:00.125Z\n", "time 2022-06-13T08:30:00.125Z\nindex 42\n", 1)},
		{"time without millis", strings.Replace(good, "08:30:00.125Z", "08:30:00Z", 1)},
		{"time with offset", strings.Replace(good, "08:30:00.125Z", "16:30:00.125+08:00", 1)},
		{"time micro", strings.Replace(good, "08:30:00.125Z", "08:30:00.125000Z", 1)},
		{"unknown kind", strings.Replace(good, "kind fact.recorded", "kind fact.invented", 1)},
		{"upper-case key", strings.Replace(good, "subject ", "Subject ", 1)},
		{"empty value with space", strings.Replace(good, "actor.post 410105\n", "actor.post \n", 1)},
		{"zero prev spelled out", strings.Replace(good, good[strings.Index(good, "prev "):strings.Index(good, "personal ")], "prev "+zeroHash+"\n", 1)},
		{"unpadded base64", strings.Replace(good, "=\npersonal", "\npersonal", 1)},
		{"payload spaces", strings.Replace(good, `{"fact_id":`, `{ "fact_id":`, 1)},
		{"payload empty", good[:strings.Index(good, "payload ")] + "payload\n"},
		{"payload array", good[:strings.Index(good, "payload ")] + "payload []\n"},
		{"bad utf-8", strings.Replace(good, "fact_id", "fact\xffid", 1)},
		{"NUL", strings.Replace(good, "fact_id", "fact\x00id", 1)},
		{"extra line", good + "extra 1\n"},
		{"too long", good[:len(good)-3] + strings.Repeat(" ", MaxEntrySize) + "}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == good {
				t.Fatal("test case did not change the encoding")
			}
			e, err := ParseEntry([]byte(tt.data))
			if err == nil {
				t.Fatalf("ParseEntry accepted %q as %+v", tt.data, e)
			}
			if code := healthcode.ErrorCode(err); code != healthcode.EINVALID {
				t.Errorf("error code = %s (%v), want %s", code, err, healthcode.EINVALID)
			}
		})
	}
}

func TestKindsComplete(t *testing.T) {
	ks := Kinds()
	if len(ks) != len(kinds) {
		t.Fatalf("Kinds() has %d kinds, the set has %d", len(ks), len(kinds))
	}
	for _, k := range ks {
		if !k.Valid() {
			t.Errorf("kind %q not valid", k)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	enc, err := exampleEntry(f).MarshalText()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte(""))
	f.Add([]byte("healthcode/log/v1\n"))
	f.Add([]byte("healthcode/log/v1\nindex 0\ntime 2026-01-01T00:00:00.000Z\nkind job.started\nactor.kind system\nactor.id x\nactor.post\nsubject\nprev\npersonal\npayload {}\n"))
	f.Add(bytes.Replace(enc, []byte("index 42"), []byte("index 042"), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			if e != nil {
				t.Fatal("non-nil entry with error")
			}
			return
		}
		enc, err := e.MarshalText()
		if err != nil {
			t.Fatalf("accepted entry does not re-encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs:\n%q\n%q", data, enc)
		}
	})
}

// TestEntryPayloadSpacesInStrings: whitespace inside strings, after escaped
// quotes and backslashes, is content, not a sign of uncompacted JSON.
func TestEntryPayloadSpacesInStrings(t *testing.T) {
	for _, p := range []string{`{"a":"x y"}`, `{"a":"\" y","b":"\\","c":" "}`, `{"a":["\\\" ",1]}`} {
		e := *exampleEntry(t)
		e.Payload = json.RawMessage(p)
		if _, err := e.MarshalText(); err != nil {
			t.Errorf("payload %s: %v", p, err)
		}
		e.Payload = json.RawMessage(p[:len(p)-1] + " }")
		if _, err := e.MarshalText(); err == nil {
			t.Errorf("payload %s with a space before the brace: accepted", p)
		}
	}
}

// TestMarshalTextWith: a payload checked beforehand encodes as MarshalText
// encodes it, and the rest of the entry is still checked.
func TestMarshalTextWith(t *testing.T) {
	e := exampleEntry(t)
	want, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	p, err := CheckPayload(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	f := *e
	f.Payload = nil
	got, err := f.MarshalTextWith(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("MarshalTextWith = %q, %v; want %q", got, err, want)
	}
	if _, err := CheckPayload([]byte(`{"a": 1}`)); err == nil {
		t.Error("CheckPayload accepted an uncompacted payload")
	}
	f.Index = -1
	if _, err := f.MarshalTextWith(p); err == nil {
		t.Error("MarshalTextWith accepted a negative index")
	}
}

// indented is a value whose MarshalJSON gives JSON with whitespace.
type indented struct{}

func (indented) MarshalJSON() ([]byte, error) { return []byte("{ \"a\" : [ 1, 2 ] }"), nil }

// TestMarshalPayload: what MarshalPayload returns passes CheckPayload's
// checks (which it does not run) whatever the value holds — raw JSON and
// MarshalJSON output with whitespace, invalid UTF-8, HTML characters —
// and a value that is not an object is refused.
func TestMarshalPayload(t *testing.T) {
	type withRaw struct {
		Raw  json.RawMessage `json:"raw"`
		Text string          `json:"text"`
		In   indented        `json:"in"`
	}
	for _, v := range []any{
		withRaw{Raw: json.RawMessage("{\n  \"b\": [ true , null ],\t\"c\" : \"x y\" }"), Text: "bad \xff\xfe utf-8 <&> \u2028"},
		map[string]any{"nested": map[string]any{"list": []any{1.5, "二", nil}}, "": ""},
		struct{}{},
		indented{},
	} {
		p, err := MarshalPayload(v)
		if err != nil {
			t.Fatalf("MarshalPayload(%#v): %v", v, err)
		}
		if err := checkPayload(p.Bytes()); err != nil {
			t.Errorf("MarshalPayload(%#v) = %s, which CheckPayload refuses: %v", v, p.Bytes(), err)
		}
	}
	for _, v := range []any{nil, []int{1}, "text", 3, json.RawMessage(`[1]`)} {
		if p, err := MarshalPayload(v); err == nil {
			t.Errorf("MarshalPayload(%#v) = %s, want an error (not an object)", v, p.Bytes())
		}
	}
	for _, raw := range []string{`{"a":`, "{\"\xe6\":0}"} {
		if p, err := MarshalPayload(json.RawMessage(raw)); err == nil {
			t.Errorf("MarshalPayload of raw %q = %s, want an error (not valid JSON, or not UTF-8)", raw, p.Bytes())
		}
	}
}

// FuzzMarshalPayload: for any string and any valid JSON value held raw,
// MarshalPayload's output passes CheckPayload's checks.
func FuzzMarshalPayload(f *testing.F) {
	f.Add("plain", []byte(`{"a": 1}`))
	f.Add("\xff\x00\n", []byte(" [ \"\\u00e9\" , 2 ] "))
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		p, err := MarshalPayload(struct {
			S string          `json:"s"`
			R json.RawMessage `json:"r"`
		}{s, raw})
		if err != nil {
			if utf8.Valid(raw) {
				t.Fatal(err)
			}
			return // refused: raw JSON with invalid UTF-8
		}
		if err := checkPayload(p.Bytes()); err != nil {
			t.Fatalf("%q: %v", p.Bytes(), err)
		}
	})
}
