package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

func mustAuditor(t *testing.T, db *store.DB, cfg store.AuditConfig) *store.Auditor {
	t.Helper()
	a, err := db.OpenAuditor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func mustStep(t *testing.T, a *store.Auditor) store.AuditStatus {
	t.Helper()
	if err := a.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a.Status()
}

// integrityAlertsOn returns the integrity alerts about table/key, each as
// its columns.
func integrityAlertsOn(t *testing.T, db *store.DB, table, key string) [][]string {
	t.Helper()
	var out [][]string
	for _, a := range alertsOf(t, db, healthcode.AlertIntegrity) {
		if a.Detail["table"] != table || a.Detail["key"] != key {
			continue
		}
		var cols []string
		for _, c := range a.Detail["columns"].([]any) {
			cols = append(cols, c.(string))
		}
		out = append(out, cols)
	}
	return out
}

// TestAuditorFindsEditedRows: the auditor's first step projects the log
// and sweeps it (nothing differs); a fact row edited behind the store is
// found by the next sweep, due a day later, which raises one integrity
// alert naming the table, key and column (not one per sweep); a row
// edited beside its new entry is found by the next step, without a sweep.
func TestAuditorFindsEditedRows(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		a := mustAuditor(t, w.db, store.AuditConfig{Path: filepath.Join(t.TempDir(), "audit.db")})
		st := mustStep(t, a)
		if st.Sweeps != 1 || st.Differences != 0 || st.Checked == 0 {
			t.Fatalf("first step: %+v, want one sweep of every row, no differences", st)
		}
		var factKey string
		if err := raw.QueryRow("SELECT uid FROM facts WHERE kind = 'contact' ORDER BY uid LIMIT 1").Scan(&factKey); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(rebind("UPDATE facts SET recorded_by = 'o_cmdcity2' WHERE uid = ?"), factKey); err != nil {
			t.Fatal(err)
		}
		if st := mustStep(t, a); st.Sweeps != 1 || len(integrityAlertsOn(t, w.db, "facts", factKey)) != 0 {
			t.Fatalf("a step with no sweep due: %+v, alerts %v", st, integrityAlertsOn(t, w.db, "facts", factKey))
		}
		for i := range 2 {
			w.now = w.now.Add(store.DefaultAuditInterval + time.Minute)
			if st := mustStep(t, a); st.Sweeps != int64(2+i) {
				t.Fatalf("sweep %d: %+v", 2+i, st)
			}
			if got := integrityAlertsOn(t, w.db, "facts", factKey); len(got) != 1 || !slices.Equal(got[0], []string{"recorded_by"}) {
				t.Fatalf("after sweep %d: integrity alerts on facts %s: %v, want one naming recorded_by", 2+i, factKey, got)
			}
		}

		// A history row deleted, and a spurious access-log row inserted:
		// rows of the log not stored, rows stored not in the log.
		var change int64
		if err := raw.QueryRow("SELECT MAX(log_index) FROM code_changes").Scan(&change); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(rebind("DELETE FROM code_changes WHERE log_index = ?"), change); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("INSERT INTO data_access (log_index, resident, official, post, what, at) VALUES (999999, 'r_test000002', 'o_cmdc', '410105', 'code', '2026-11-01T08:00:00.000Z')"); err != nil {
			t.Fatal(err)
		}
		w.now = w.now.Add(store.DefaultAuditInterval + time.Minute)
		mustStep(t, a)
		if got := integrityAlertsOn(t, w.db, "code_changes", fmt.Sprint(change)); len(got) != 1 || len(got[0]) != 0 {
			t.Errorf("history row deleted: alerts %v, want one naming the row", got)
		}
		if got := integrityAlertsOn(t, w.db, "data_access", "999999"); len(got) != 1 || len(got[0]) != 0 {
			t.Errorf("spurious row: alerts %v, want one naming the row", got)
		}

		// A new entry's row, edited before the auditor sees the entry.
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-9", "r_test000003", "C-1", w.now.Add(-time.Hour), "flow report 9")})
		if err != nil {
			t.Fatal(err)
		}
		key := res.Facts[0].Key
		if _, err := raw.Exec(rebind("UPDATE facts SET status = 'active' WHERE uid = ?"), key); err != nil {
			t.Fatal(err)
		}
		before := a.Status()
		st = mustStep(t, a)
		if st.Sweeps != before.Sweeps {
			t.Fatalf("a sweep ran: %+v", st)
		}
		if got := integrityAlertsOn(t, w.db, "facts", key); len(got) != 1 || !slices.Equal(got[0], []string{"status"}) {
			t.Fatalf("new entry's row edited: integrity alerts %v, want one naming status", got)
		}
		if st.Differences != before.Differences+1 {
			t.Errorf("differences %d → %d, want one more", before.Differences, st.Differences)
		}
	})
}

// TestAuditorResumesSweep stops a sweep part way (one chunk of three rows
// per step), reopens the auditor as a restarted server would, and checks
// that the sweep goes on from its cursor: a row edited behind the cursor
// is not found by this sweep (it was compared already) but by the next,
// a row ahead of it is found by this one.
func TestAuditorResumesSweep(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		cfg := store.AuditConfig{Path: filepath.Join(t.TempDir(), "audit.db"), SweepRows: 3, SweepBudget: time.Nanosecond}
		a := mustAuditor(t, w.db, cfg)
		var st store.AuditStatus
		for st.SweepTable != "residents" {
			if st = mustStep(t, a); !st.Sweeping {
				t.Fatalf("the sweep ended before reaching residents: %+v", st)
			}
		}
		st = mustStep(t, a) // residents' first chunk: r_test000000..2
		if st.SweepTable != "residents" {
			t.Fatalf("%+v", st)
		}
		a.Close()
		for _, id := range []string{"r_test000001", "r_test000005"} { // behind and ahead of the cursor
			if _, err := raw.Exec(rebind("UPDATE residents SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?"), id); err != nil {
				t.Fatal(err)
			}
		}
		a = mustAuditor(t, w.db, cfg)
		resumed := a.Status()
		if !resumed.Sweeping || resumed.SweepTable != "residents" || resumed.SweepRows != st.SweepRows {
			t.Fatalf("reopened: %+v, want the sweep at residents after %d rows", resumed, st.SweepRows)
		}
		for a.Status().Sweeping {
			mustStep(t, a)
		}
		if got := integrityAlertsOn(t, w.db, "residents", "r_test000005"); len(got) != 1 || !slices.Equal(got[0], []string{"created_at"}) {
			t.Errorf("ahead of the cursor: alerts %v, want one naming created_at", got)
		}
		if got := integrityAlertsOn(t, w.db, "residents", "r_test000001"); len(got) != 0 {
			t.Errorf("behind the cursor: alerts %v, want none from the resumed sweep", got)
		}
		if st := a.Status(); st.Sweeps != 1 {
			t.Errorf("sweeps %d, want 1", st.Sweeps)
		}
		w.now = w.now.Add(store.DefaultAuditInterval + time.Minute)
		for mustStep(t, a); a.Status().Sweeping; {
			mustStep(t, a)
		}
		if got := integrityAlertsOn(t, w.db, "residents", "r_test000001"); len(got) != 1 {
			t.Errorf("next sweep: alerts on r_test000001 %v, want one", got)
		}
	})
}

// TestAuditorRefusesMalformedCursor: a sweep cursor in audit_state that
// the auditor did not write (edited in the database, or written by another
// version) is not read, neither as key 0 nor as any other place to resume:
// it does not verify under the auditor's key, so the integrity alert is
// raised and the sweep runs from the beginning.
func TestAuditorRefusesMalformedCursor(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		cfg := store.AuditConfig{Path: filepath.Join(t.TempDir(), "audit.db")}
		a := mustAuditor(t, w.db, cfg)
		if st := mustStep(t, a); st.Sweeps != 1 {
			t.Fatalf("first step: %+v, want one sweep", st)
		}
		a.Close()
		var done string
		if err := raw.QueryRow("SELECT name FROM audit_state WHERE name LIKE 'sweep.done/%'").Scan(&done); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(rebind("INSERT INTO audit_state (name, value) VALUES (?, ?)"), "sweep/"+strings.TrimPrefix(done, "sweep.done/"),
			`{"table":"code_changes","phase":"","key":["7x"],"rows":3,"started":"2026-01-01T00:00:00.000Z"}`); err != nil {
			t.Fatal(err)
		}
		a = mustAuditor(t, w.db, cfg)
		if st := mustStep(t, a); st.Sweeps != 1 || st.Sweeping {
			t.Fatalf("step with a malformed cursor: %+v, want a whole sweep", st)
		}
		if got := integrityAlertsOn(t, w.db, "audit_state", "sweep"); len(got) != 1 {
			t.Errorf("alerts on audit_state/sweep: %v, want one", got)
		}
	})
}

// TestAuditorPathLocked: two auditors on one projection file (two servers
// given one --audit-path, or the old shared default on PostgreSQL) would
// each rebuild and write it as their own; the second is refused with
// ErrAuditPathInUse, naming the path, until the first closes.
func TestAuditorPathLocked(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		path := filepath.Join(t.TempDir(), "audit.db")
		first := mustAuditor(t, w.db, store.AuditConfig{Path: path})
		other := mustOpen(t, dsn) // another server on the same database
		_, err := other.OpenAuditor(context.Background(), store.AuditConfig{Path: path})
		if !errors.Is(err, store.ErrAuditPathInUse) || !strings.Contains(err.Error(), path) {
			t.Fatalf("a second auditor on %s: %v, want ErrAuditPathInUse naming the path", path, err)
		}
		mustAuditor(t, other, store.AuditConfig{Path: filepath.Join(t.TempDir(), "audit.db")})
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		mustStep(t, mustAuditor(t, other, store.AuditConfig{Path: path}))
	})
}
