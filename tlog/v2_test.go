package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// exampleV2 is the worked v2 example of docs/log.md: the entry of
// exampleEntry as a v2 leaf, with its personal part and salt.
func exampleV2(t testing.TB) (*Entry, []byte, [32]byte) {
	t.Helper()
	salt := [32]byte{1, 2, 3}
	part := PersonalPart{
		Subject: "r-9c2e41",
		Prev:    sumtlog.RecordHash([]byte("previous entry of r-9c2e41")),
		Event:   json.RawMessage(`{"id":"f-0001","key":"lab/f-0001","kind":"test_result","payload":{"result":"positive"},"status":"active","subject":"r-9c2e41"}`),
		Data:    json.RawMessage(`{"evidence":"lab-2022-0613-17"}`),
	}
	pb, err := part.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{
		Version:  V2,
		Index:    42,
		Time:     mustTime(t, "2022-06-13T08:30:00.125Z"),
		Kind:     KindFactRecorded,
		Actor:    Actor{Kind: ActorOfficial, ID: "off-7f3a", Post: "410105"},
		County:   "410105",
		Personal: PersonalCommitment(salt, pb),
		Payload:  json.RawMessage(`{"fact_kind":"test_result","status":"active"}`),
	}
	return e, pb, salt
}

// TestExampleV2Golden keeps testdata/entry-example-v2.* (the leaf, its
// leaf hash, its personal part and salt) as an independent
// implementation's vectors.
func TestExampleV2Golden(t *testing.T) {
	e, part, salt := exampleV2(t)
	enc, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	h := sumtlog.RecordHash(enc)
	files := map[string]string{
		"entry-example-v2.txt":      string(enc),
		"entry-example-v2.leafhash": base64.StdEncoding.EncodeToString(h[:]) + "\n",
		"entry-example-v2.personal": string(part) + "\n",
		"entry-example-v2.salt":     base64.StdEncoding.EncodeToString(salt[:]) + "\n",
	}
	for name, got := range files {
		file := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("%s differs (-want +got):\n%s", file, diff)
		}
	}
	// The leaf names no one and links to nothing.
	for _, s := range []string{"r-9c2e41", "positive", "lab-2022", e.Prev.String(), "subject", "prev"} {
		if s != "" && strings.Contains(string(enc), s) {
			t.Errorf("the v2 leaf holds %q", s)
		}
	}
	got, err := ParseEntry(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != V2 || got.County != "410105" || got.Subject != "" {
		t.Errorf("parsed %+v", got)
	}
	pp, err := ParsePersonalPart(part)
	if err != nil || pp.Subject != "r-9c2e41" || !CheckPersonal(got.Personal, salt, part) {
		t.Errorf("personal part %+v %v", pp, err)
	}
}

func TestV2Strict(t *testing.T) {
	e, part, _ := exampleV2(t)
	enc, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(string(enc), "county 410105\n", "county 410105001001\n", 1),
		strings.Replace(string(enc), "county 410105\n", "subject r-9c2e41\n", 1),
		strings.Replace(string(enc), "healthcode/log/v2\n", "healthcode/log/v1\n", 1),
		strings.Replace(string(enc), "county 410105\n", "county 41010x\n", 1),
	} {
		if _, err := ParseEntry([]byte(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
	for _, bad := range []string{
		`{"prev":"` + e.Personal.String() + `"}`,                      // a link without a subject
		strings.Replace(string(part), `{"subject"`, `{ "subject"`, 1), // not canonical
		`{"data":{},"subject":"r-1"}`,                                 // out of order
		`{"subject":"r-1","extra":1}`,
	} {
		if _, err := ParsePersonalPart([]byte(bad)); err == nil {
			t.Errorf("personal part accepted: %s", bad)
		}
	}
}

// TestPersonalPartFastPath: ParsePersonalPart's split of a canonical part
// accepts exactly what decoding it as JSON accepts, with the same fields,
// for canonical parts and for near misses of every field.
func TestPersonalPartFastPath(t *testing.T) {
	_, part, _ := exampleV2(t)
	canon := string(part)
	cases := []string{
		canon,
		`{"subject":"r-1"}`,
		`{"subject":"r-\"q\\"}`,
		`{"subject":"r-\u0031"}`,
		`{"subject":"r-1","prev":"` + strings.Repeat("A", 43) + `="}`,
		`{"subject":"r-1","prev":"` + strings.Repeat("A", 42) + `=="}`,
		`{"subject":"r-1","event":{"a":"}{\"","b":[{}]},"data":{"evidence":"x"}}`,
		`{"subject":"r-1","event":{"a":1} ,"data":{}}`,
		`{"subject":"r-1","event":{"a": 1}}`,
		`{"subject":"r-1","event":{"a":1}}x`,
		`{"subject":"r-1","event":{"a":1}`,
		`{"subject":"r-1","event":[1]}`,
		`{"subject":"r-1","event":{"a":"\xff"}}`,
		`{"subject":"r 1"}`,
		`{"data":{"a":1}}`,
		`{"subject":"r-1","data":{"a":1},"event":{}}`,
		`{"subject":""}`,
		`{"subject":"r-1","prev":""}`,
		`{}`,
		``,
		`{`,
	}
	for _, c := range cases {
		checkPersonalPaths(t, []byte(c))
	}
	// The canonical parts take the split, not the decoder.
	for _, c := range []string{canon, cases[2], cases[6]} {
		p, ok := splitPersonalPart([]byte(c))
		if !ok {
			t.Errorf("%s: not split", c)
			continue
		}
		if enc, err := p.MarshalText(); err != nil || string(enc) != c {
			t.Errorf("%s: split into %+v, which encodes as %s (%v)", c, p, enc, err)
		}
	}
}

// FuzzPersonalPart: the same, for any bytes.
func FuzzPersonalPart(f *testing.F) {
	f.Add([]byte(`{"subject":"r-1","prev":"` + strings.Repeat("A", 43) + `=","event":{"k":"v"},"data":{"evidence":"e"}}`))
	f.Add([]byte(`{"subject":"r-\\\"","event":{"a":[{"b":"}"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkPersonalPaths(t, data) })
}

// checkPersonalPaths: ParsePersonalPart and decoding as JSON agree on data.
func checkPersonalPaths(t *testing.T, data []byte) {
	t.Helper()
	fast, ferr := ParsePersonalPart(data)
	slow, serr := decodePersonalPart(data)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: ParsePersonalPart error %v, decoding as JSON %v", data, ferr, serr)
	}
	if ferr == nil && (fast.Subject != slow.Subject || fast.Prev != slow.Prev || !bytes.Equal(fast.Event, slow.Event) || !bytes.Equal(fast.Data, slow.Data)) {
		t.Fatalf("%q: ParsePersonalPart %+v, decoding as JSON %+v", data, fast, slow)
	}
}
