package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestCodeRefusedWhenRowDiffers edits a resident's codes row behind the
// store, as an insider would: its colour, its pointer back at the
// resident's own earlier red entry, its cited facts, the row deleted.
// Code and Explain (behind the code route, the token route and the page)
// refuse it with EUNAVAIL and raise one integrity alert per edit, however
// often they are asked; an untouched resident is still served.
func TestCodeRefusedWhenRowDiffers(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		r1 := "r_test000001"
		var redEntry int64
		if err := raw.QueryRow(rebind("SELECT log_index FROM code_changes WHERE resident = ? AND colour = 'red' ORDER BY log_index LIMIT 1"), r1).Scan(&redEntry); err != nil {
			t.Fatal(err)
		}
		now, err := w.db.Code(self(r1), r1)
		if err != nil {
			t.Fatal(err)
		}
		if now.Colour == healthcode.Red || now.LogIndex == redEntry {
			t.Fatalf("r1 is %s from entry %d; want a later change than the red entry %d", now.Colour, now.LogIndex, redEntry)
		}
		for i, tc := range []struct {
			name, edit string
			args       []any
			columns    []string
		}{
			{"colour", "UPDATE codes SET colour = 'red' WHERE resident = ?", []any{r1}, []string{"colour"}},
			{"pointed back at an earlier red entry", "UPDATE codes SET colour = 'red', log_index = ? WHERE resident = ?", []any{redEntry, r1}, []string{"log_index"}},
			{"cited facts emptied", "UPDATE codes SET fact_ids = '[\"x\"]' WHERE resident = ?", []any{r1}, []string{"fact_ids"}},
			{"row deleted", "DELETE FROM codes WHERE resident = ?", []any{r1}, []string{}},
		} {
			if _, err := raw.Exec(rebind(tc.edit), tc.args...); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for range 3 {
				_, err := w.db.Code(self(r1), r1)
				var ie *store.IntegrityError
				if !errors.As(err, &ie) || healthcode.ErrorCode(err) != healthcode.EUNAVAIL {
					t.Fatalf("%s: Code: got %v, want an integrity error (unavailable)", tc.name, err)
				}
				if _, err := w.db.Explain(self(r1), r1); !errors.As(err, &ie) {
					t.Fatalf("%s: Explain: got %v, want an integrity error", tc.name, err)
				}
			}
			alerts := alertsOf(t, w.db, healthcode.AlertIntegrity)
			if len(alerts) != i+1 {
				t.Fatalf("%s: %d integrity alerts, want %d (one per edit): %+v", tc.name, len(alerts), i+1, alerts)
			}
			a := alerts[0]
			var cols []string
			for _, c := range a.Detail["columns"].([]any) {
				cols = append(cols, c.(string))
			}
			if a.Subject != "codes/"+r1 || a.Detail["table"] != "codes" || a.Detail["key"] != r1 || !slices.Equal(cols, tc.columns) && len(tc.columns)+len(cols) > 0 {
				t.Errorf("%s: alert %s %v, want codes/%s naming %v", tc.name, a.Subject, a.Detail, r1, tc.columns)
			}
			// The alert's leaf is public: the row key (a resident id) is in
			// its personal part only.
			if leaves, err := w.db.ReadLeaves(context.Background(), a.LogIndex, a.LogIndex+1); err != nil || len(leaves) != 1 || strings.Contains(string(leaves[0]), r1) {
				t.Errorf("%s: the integrity alert's leaf %q (%v) names %s", tc.name, leaves, err, r1)
			}
			if _, err := w.db.Code(self("r_test000003"), "r_test000003"); err != nil {
				t.Fatalf("%s: an untouched resident: %v", tc.name, err)
			}
			// Put the row back as the log says (as log rebuild would).
			if _, err := raw.Exec(rebind("DELETE FROM codes WHERE resident = ?"), r1); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(rebind(`INSERT INTO codes (resident, colour, since, ruleset, ruleset_version, rule, fact_ids, log_index)
				SELECT resident, colour, changed_at, ruleset, ruleset_version, rule, fact_ids, log_index FROM code_changes WHERE log_index = ?`), now.LogIndex); err != nil {
				t.Fatal(err)
			}
			if _, err := w.db.Code(self(r1), r1); err != nil {
				t.Fatalf("%s: the row restored: %v", tc.name, err)
			}
		}
	})
}
