package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestIntegrityAlertsErasedWithResident (issue 15): an integrity alert
// about a resident's row (found by the code route, or by the auditor in a
// stored row no entry set) is an entry about the resident: its leaf names
// no one, and erasing the resident removes it with their other rows, so
// that nothing served afterwards names them, and log verify passes.
func TestIntegrityAlertsErasedWithResident(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		ctx := context.Background()
		mustOperator2(t, w)
		raw, rebind := rawDB(t, w.db, dsn)
		r1 := "r_test000001"
		var colour string
		if err := raw.QueryRow(rebind("SELECT colour FROM codes WHERE resident = ?"), r1).Scan(&colour); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(rebind("UPDATE codes SET colour = 'red' WHERE resident = ?"), r1); err != nil {
			t.Fatal(err)
		}
		var ie *store.IntegrityError
		if _, err := w.db.Code(self(r1), r1); !errors.As(err, &ie) {
			t.Fatalf("Code of an edited row: %v, want an integrity error", err)
		}
		// Put back as the log says (as log rebuild would): the erasure
		// counts the resident's code into the statistics it keeps.
		if _, err := raw.Exec(rebind("UPDATE codes SET colour = ? WHERE resident = ?"), colour, r1); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("INSERT INTO data_access (log_index, resident, official, post, what, at) VALUES (999999, '" + r1 + "', 'o_cmdc', '410105', 'code', '2026-11-01T08:00:00.000Z')"); err != nil {
			t.Fatal(err)
		}
		mustStep(t, mustAuditor(t, w.db, store.AuditConfig{Path: filepath.Join(t.TempDir(), "audit.db")}))
		mentions := func() int {
			n := 0
			for _, a := range alertsOf(t, w.db, healthcode.AlertIntegrity) {
				b, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), r1) {
					n++
				}
			}
			return n
		}
		// The code route's alert names the row (codes/r1) to auditors; the
		// auditor's names only data_access/999999, but the row is about r1.
		if n, all := mentions(), len(alertsOf(t, w.db, healthcode.AlertIntegrity)); n != 1 || all != 2 {
			t.Fatalf("%d integrity alerts, %d naming %s: want 2 (the code route's and the auditor's), 1", all, n, r1)
		}
		if _, err := w.db.EraseResident(as(operator), r1, "the resident asked"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.EraseResident(as(operator2), r1, "approved: in order"); err != nil {
			t.Fatal(err)
		}
		if al := alertsOf(t, w.db, healthcode.AlertIntegrity); len(al) != 0 {
			t.Errorf("after the erasure the integrity alerts about %s's rows remain: %+v", r1, al)
		}
		if _, leaves := mustSignedLeaves(t, w.db); strings.Contains(string(bytesJoin(leaves)), r1) {
			t.Errorf("a public leaf names %s", r1)
		}
		mustVerified(t, w.db)
		if p, err := w.db.CheckErasures(ctx); err != nil || len(p) > 0 {
			t.Errorf("CheckErasures: %v %v", p, err)
		}
	})
}

func bytesJoin(bs [][]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}
