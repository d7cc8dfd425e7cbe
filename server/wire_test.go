package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/healthcode/healthcode/tlog"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// TestWireGolden checks that every wire shape of a domain value encodes
// to the bytes in testdata/wire, which were written from the domain types
// themselves while they still carried the API's json tags: moving the
// shapes into the server changed no byte on the wire. Every file is some
// sample's, and every sample has a file.
func TestWireGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/wire/*.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range wireSamples() {
		seen[s.name] = true
		want, err := os.ReadFile(filepath.Join("testdata", "wire", s.name+".json"))
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		got, err := encodeJSON(s.v)
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the wire shape encodes as\n%s\nwant (testdata/wire/%s.json)\n%s", s.name, got, s.name, want)
		}
	}
	for _, f := range files {
		if name := filepath.Base(f); !seen[name[:len(name)-len(".json")]] {
			t.Errorf("%s is no sample's", f)
		}
	}
}

// TestWireEnvelopes checks that each answer envelope that was a map
// encodes as the map did (encoding/json sorts a map's keys).
func TestWireEnvelopes(t *testing.T) {
	var h sumtlog.Hash
	h[0] = 7
	for name, c := range map[string]struct{ got, want any }{
		"status": {statusJSON{Status: "ok"}, map[string]string{"status": "ok"}},
		"requested": {requestedJSON{Official: "o_1", Status: "requested", Message: "m"},
			map[string]any{"official": "o_1", "status": "requested", "message": "m"}},
		"jurisdictions": {jurisdictionsJSON{Jurisdictions: []jurisdictionJSON{{Code: "41", Name: "河南省", Level: "province"}}},
			map[string]any{"jurisdictions": []jurisdictionJSON{{Code: "41", Name: "河南省", Level: "province"}}}},
		"jurisdictions_nil": {jurisdictionsJSON{}, map[string]any{"jurisdictions": []jurisdictionJSON(nil)}},
		"facts":             {factsPageJSON{Facts: []storedFactJSON{{Key: "k"}}, Page: 2, More: true}, map[string]any{"facts": []storedFactJSON{{Key: "k"}}, "page": 2, "more": true}},
		"jobs":              {jobsJSON{Jobs: []jobJSON{{ID: "j"}}}, map[string]any{"jobs": []jobJSON{{ID: "j"}}}},
		"rulesets":          {rulesetsJSON{}, map[string]any{"rulesets": []rulesetJSON(nil)}},
		"consistency": {consistencyJSON{Checkpoint: "cp\n", New: 9, Old: 3, Proof: []sumtlog.Hash{h}},
			map[string]any{"old": int64(3), "new": int64(9), "proof": []sumtlog.Hash{h}, "checkpoint": "cp\n"}},
		"own_entries": {ownEntriesJSON{Checkpoint: "cp", Entries: []tlog.OwnEntry{{Index: 4, Leaf: []byte("l")}}},
			map[string]any{"checkpoint": "cp", "entries": []tlog.OwnEntry{{Index: 4, Leaf: []byte("l")}}}},
		"entry_actor": {entryActorJSON{ID: "o_1", Kind: "official"}, map[string]string{"kind": "official", "id": "o_1", "post": ""}},
	} {
		got, err := encodeJSON(c.got)
		if err != nil {
			t.Fatal(name, err)
		}
		want, err := encodeJSON(c.want)
		if err != nil {
			t.Fatal(name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}
