package store_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// sweepInsider is an insider holding the database while the auditor
// sweeps it: one chunk of three rows per step, so that the cursor stands
// part way through a table.
type sweepInsider struct {
	w      *world
	raw    *sql.DB
	rebind func(string) string
	cfg    store.AuditConfig
}

func newSweepInsider(t *testing.T, dsn string) *sweepInsider {
	w := mustProjWorld(t, dsn)
	raw, rebind := rawDB(t, w.db, dsn)
	return &sweepInsider{w: w, raw: raw, rebind: rebind,
		cfg: store.AuditConfig{Path: filepath.Join(t.TempDir(), "audit.db"), SweepRows: 3, SweepBudget: time.Nanosecond}}
}

// stepUntil steps a until its sweep stands in table, past its first chunk.
func stepUntil(t *testing.T, a *store.Auditor, table string) {
	t.Helper()
	for st := mustStep(t, a); st.SweepTable != table; st = mustStep(t, a) {
		if !st.Sweeping {
			t.Fatalf("the sweep ended before reaching %s: %+v", table, st)
		}
	}
	if st := mustStep(t, a); st.SweepTable != table {
		t.Fatalf("%+v, want the sweep in %s", st, table)
	}
}

// sweepToEnd steps a until no sweep is in progress.
func sweepToEnd(t *testing.T, a *store.Auditor) {
	t.Helper()
	for mustStep(t, a); a.Status().Sweeping; {
		mustStep(t, a)
	}
}

// state reads the auditor's row name ("sweep/ID", "sweep.done/ID") from
// the live audit_state.
func (s *sweepInsider) state(t *testing.T, name string) string {
	t.Helper()
	var v string
	if err := s.raw.QueryRow(s.rebind("SELECT value FROM audit_state WHERE name LIKE ?"), name+"/%").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// setState writes the auditor's row name in the live audit_state.
func (s *sweepInsider) setState(t *testing.T, name, value string) {
	t.Helper()
	if _, err := s.raw.Exec(s.rebind("UPDATE audit_state SET value = ? WHERE name LIKE ?"), value, name+"/%"); err != nil {
		t.Fatal(err)
	}
}

// editResident edits a resident's row (ahead of a cursor in residents'
// first chunk, r_test000000..2).
func (s *sweepInsider) editResident(t *testing.T, id string) {
	t.Helper()
	if _, err := s.raw.Exec(s.rebind("UPDATE residents SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?"), id); err != nil {
		t.Fatal(err)
	}
}

// skipResidents moves the cursor in the live audit_state past the live
// rows of residents, keeping every other field.
func (s *sweepInsider) skipResidents(t *testing.T) {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(s.state(t, "sweep")), &c); err != nil {
		t.Fatal(err)
	}
	if c["table"] != "residents" {
		t.Fatalf("cursor %v, want one in residents", c)
	}
	c["phase"], c["key"] = "log", nil
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s.setState(t, "sweep", string(b))
}

// mustFind checks that the edit of r_test000005 and the cursor's change
// (audit_state/name) were each raised once.
func (s *sweepInsider) mustFind(t *testing.T, name string) {
	t.Helper()
	if got := integrityAlertsOn(t, s.w.db, "residents", "r_test000005"); len(got) != 1 || !slices.Equal(got[0], []string{"created_at"}) {
		t.Errorf("the edited row: alerts %v, want one naming created_at", got)
	}
	if got := integrityAlertsOn(t, s.w.db, "audit_state", name); len(got) != 1 || !slices.Equal(got[0], []string{"value"}) {
		t.Errorf("audit_state %s: alerts %v, want one naming value", name, got)
	}
}

// TestAuditorCursorMovedForward: the insider edits a row ahead of the
// sweep's cursor and moves the cursor past it, under the running auditor
// or while the server is stopped. The auditor finds the cursor is not the
// one it wrote (its compare and swap; its HMAC), raises an integrity alert
// on audit_state/sweep, and sweeps again from the beginning, finding the
// edit.
func TestAuditorCursorMovedForward(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "running"
		if restart {
			name = "restart"
		}
		t.Run(name, func(t *testing.T) {
			testdb.Engines(t, func(t *testing.T, dsn string) {
				s := newSweepInsider(t, dsn)
				a := mustAuditor(t, s.w.db, s.cfg)
				stepUntil(t, a, "residents")
				if restart {
					a.Close()
				}
				s.editResident(t, "r_test000005")
				s.skipResidents(t)
				if restart {
					a = mustAuditor(t, s.w.db, s.cfg)
				}
				sweepToEnd(t, a)
				s.mustFind(t, "sweep")
			})
		})
	}
}

// TestAuditorCursorReplayed: the insider keeps a cursor the auditor wrote
// far along one sweep, and writes it back early in the next, after
// editing a row before it. The HMAC verifies (the auditor wrote it), but
// it is of another sweep than the one in progress: the alert is raised
// and the sweep starts again.
func TestAuditorCursorReplayed(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		s := newSweepInsider(t, dsn)
		a := mustAuditor(t, s.w.db, s.cfg)
		stepUntil(t, a, "facts")
		old := s.state(t, "sweep")
		sweepToEnd(t, a)
		s.w.now = s.w.now.Add(store.DefaultAuditInterval + time.Minute)
		if st := mustStep(t, a); !st.Sweeping || st.SweepTable != "jurisdictions" {
			t.Fatalf("next sweep: %+v, want one at its start", st)
		}
		a.Close()
		s.editResident(t, "r_test000005")
		s.setState(t, "sweep", old)
		a = mustAuditor(t, s.w.db, s.cfg)
		sweepToEnd(t, a)
		s.mustFind(t, "sweep")
	})
}

// TestAuditorLastSweepMovedForward: the insider sets the end of the last
// sweep to now when the next is due, to put it off a day; the end is not
// one the auditor signed, so the alert is raised and the sweep runs now.
func TestAuditorLastSweepMovedForward(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		s := newSweepInsider(t, dsn)
		a := mustAuditor(t, s.w.db, s.cfg)
		sweepToEnd(t, a)
		a.Close()
		s.w.now = s.w.now.Add(store.DefaultAuditInterval + time.Minute)
		s.editResident(t, "r_test000005")
		s.setState(t, "sweep.done", s.w.now.UTC().Format("2006-01-02T15:04:05.000Z"))
		a = mustAuditor(t, s.w.db, s.cfg)
		sweepToEnd(t, a)
		s.mustFind(t, "sweep.done")
		if st := a.Status(); st.Sweeps != 1 {
			t.Errorf("sweeps %d, want 1", st.Sweeps)
		}
	})
}

// TestAuditorCatchUpRestartsSweep: entries projected without checking the
// rows they set (a new projection file, a long backlog) are followed by a
// sweep from the beginning, not by the rest of a sweep in progress, which
// has passed rows those entries may have set. Here the projection file is
// deleted (it is a cache) while a sweep stands past residents, and a
// resident's row behind the cursor is edited: the sweep after the rebuild
// finds it.
func TestAuditorCatchUpRestartsSweep(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		s := newSweepInsider(t, dsn)
		a := mustAuditor(t, s.w.db, s.cfg)
		stepUntil(t, a, "officials")
		a.Close()
		for _, f := range []string{s.cfg.Path, s.cfg.Path + "-wal", s.cfg.Path + "-shm"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		s.editResident(t, "r_test000001")
		a = mustAuditor(t, s.w.db, s.cfg)
		sweepToEnd(t, a)
		if got := integrityAlertsOn(t, s.w.db, "residents", "r_test000001"); len(got) != 1 {
			t.Errorf("behind the old cursor: alerts %v, want one", got)
		}
		if got := integrityAlertsOn(t, s.w.db, "audit_state", "sweep"); len(got) != 0 {
			t.Errorf("a new projection file cannot judge the cursor: alerts %v, want none", got)
		}
	})
}

// TestAuditorBacklogRestartsSweep is TestAuditorCatchUpRestartsSweep for
// a backlog that builds up while the auditor runs (more entries than it
// projects in one poll, followMax, lowered here): they are projected
// without their rows checked, so the sweep in progress starts again from
// the beginning, and a resident's row behind its cursor, edited, is found.
func TestAuditorBacklogRestartsSweep(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		s := newSweepInsider(t, dsn)
		a := mustAuditor(t, s.w.db, s.cfg)
		stepUntil(t, a, "officials")
		defer store.SetFollowMax(3)()
		s.editResident(t, "r_test000001")
		var rs []healthcode.Resident
		for i := range 5 {
			rs = append(rs, healthcode.Resident{ID: fmt.Sprintf("r_backlog%d", i), IDHash: bytes.Repeat([]byte{byte(0xb0 + i)}, 32), Name: "居民", Jurisdiction: "410105001001"})
		}
		if err := s.w.db.CreateResidents(keysSystem, rs); err != nil {
			t.Fatal(err)
		}
		// Catching up ends the sweep in progress; the step after starts one.
		for i, st := 0, mustStep(t, a); !st.Sweeping; i, st = i+1, mustStep(t, a) {
			if i == 10 {
				t.Fatalf("no sweep after catching up: %+v", st)
			}
		}
		sweepToEnd(t, a)
		if got := integrityAlertsOn(t, s.w.db, "residents", "r_test000001"); len(got) != 1 {
			t.Errorf("behind the cursor, after a backlog: alerts %v, want one", got)
		}
	})
}
