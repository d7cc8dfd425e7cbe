package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/tlog"
	"golang.org/x/mod/sumdb/note"
)

// TestResidentEntriesRoute is the resident's client over HTTP: it lists
// its entries with openings and proofs and checks them offline against
// the signed checkpoint; an entry the server leaves out is found.
func TestResidentEntriesRoute(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		worker := f.login(t, "login-o_worker1")
		for range 2 {
			if status, m := f.do(t, "GET", "/v1/residents/r_res1", worker, ""); status != 200 {
				t.Fatalf("worker reads: %d %v", status, m)
			}
		}
		res1 := f.login(t, "login-r_res1")
		req, _ := http.NewRequest("GET", f.ts.URL+"/v1/residents/r_res1/entries", nil)
		req.Header.Set("Authorization", "Bearer "+res1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Checkpoint string          `json:"checkpoint"`
			Entries    []tlog.OwnEntry `json:"entries"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("entries: %d %v", resp.StatusCode, err)
		}
		v, err := note.NewVerifier(f.db.LogVerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		cp, err := tlog.OpenCheckpoint([]byte(out.Checkpoint), v, f.db.LogOrigin())
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := tlog.VerifyOwnEntries("r_res1", cp, out.Entries, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 3 || entries[0].Kind != tlog.KindResidentRegistered || entries[2].Kind != tlog.KindDataAccessed {
			t.Fatalf("entries: %+v", entries)
		}
		omitted := []tlog.OwnEntry{out.Entries[0], out.Entries[2]}
		var oe *tlog.OwnEntryError
		if _, _, err := tlog.VerifyOwnEntries("r_res1", cp, omitted, nil); !errors.As(err, &oe) {
			t.Errorf("an entry left out: %v", err)
		}
	})
}
