package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/verify"
)

// rawDB opens the store's database directly, bypassing the store, with the
// append-only triggers disabled: what an attacker with database access can
// do.
func rawDB(t *testing.T, db *store.DB, dsn string) (*sql.DB, func(string) string) {
	t.Helper()
	engine, target, _ := store.ParseDSN(dsn)
	var raw *sql.DB
	var err error
	rebind := func(q string) string { return q }
	if engine == store.SQLite {
		raw, err = sql.Open("sqlite", target)
		for _, tr := range []string{"log_entries_no_update", "log_entries_no_delete", "log_hashes_no_update", "log_hashes_no_delete", "log_checkpoints_no_update"} {
			if _, err := raw.Exec("DROP TRIGGER " + tr); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		raw, err = sql.Open("pgx", target)
		for _, tb := range []string{"log_entries", "log_hashes", "log_checkpoints"} {
			if _, err := raw.Exec("ALTER TABLE " + tb + " DISABLE TRIGGER USER"); err != nil {
				t.Fatal(err)
			}
		}
		rebind = func(q string) string {
			n := 0
			var b strings.Builder
			for _, c := range q {
				if c == '?' {
					n++
					b.WriteString("$" + string(rune('0'+n)))
					continue
				}
				b.WriteRune(c)
			}
			return b.String()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw, rebind
}

func mustVerify(t *testing.T, db *store.DB) *verify.Report {
	t.Helper()
	rep, err := verify.Log(context.Background(), db.VerifyView(), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// seeded returns a store with a tree and 20 residents (log size 26).
func seeded(t *testing.T, dsn string) *store.DB {
	db := mustOpen(t, dsn)
	mustSeedTree(t, db)
	var rs []healthcode.Resident
	for i := 0; i < 20; i++ {
		rs = append(rs, resident(i, "410105001001"))
	}
	if err := db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestVerifyLogClean(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := seeded(t, dsn)
		rep := mustVerify(t, db)
		if len(rep.Problems) != 0 {
			t.Fatalf("clean log has problems: %v", rep.Problems)
		}
		if rep.Size != 26 || rep.Subjects != 20 || rep.Projected == 0 || rep.Checkpoints < 2 || rep.CodeChanges != 0 {
			t.Errorf("report %+v", rep)
		}
	})
}

func TestLogIsAppendOnly(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := seeded(t, dsn)
		raw, _ := openRaw(t, dsn)
		defer raw.Close()
		for _, stmt := range []string{
			"UPDATE log_entries SET data = data WHERE idx = 1",
			"DELETE FROM log_entries WHERE idx = 1",
			"UPDATE log_hashes SET hash = hash WHERE idx = 1",
			"DELETE FROM log_hashes",
			"DELETE FROM log_checkpoints",
			"UPDATE log_personal SET data = data",
		} {
			if _, err := raw.Exec(stmt); err == nil {
				t.Errorf("%s: succeeded, want the append-only trigger to refuse it", stmt)
			}
		}
		_ = db
	})
}

func TestVerifyLogDetectsTampering(t *testing.T) {
	tests := []struct {
		name      string
		tamper    []string // statements with ? for the resident id where needed
		wantIndex int64
		want      string
	}{
		{"change an entry", []string{"UPDATE log_entries SET data = ? WHERE idx = 10"}, 10, ""},
		{"delete an entry", []string{"DELETE FROM log_entries WHERE idx = 12"}, 12, "missing"},
		{"swap two entries", []string{"UPDATE log_entries SET idx = -1 WHERE idx = 8", "UPDATE log_entries SET idx = 8 WHERE idx = 9", "UPDATE log_entries SET idx = 9 WHERE idx = -1"}, 8, "says it is entry"},
		{"change a stored hash", []string{"UPDATE log_hashes SET hash = ? WHERE idx = 20"}, -2, "stored hash 20 differs"},
		{"change state without an entry", []string{"UPDATE residents SET jurisdiction = '410105001002' WHERE id = 'r_test000003'"}, 9, "residents r_test000003: jurisdiction is"},
		{"change personal data without an entry", []string{"UPDATE residents SET name = '李四' WHERE id = 'r_test000004'"}, 10, "residents r_test000004: name is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testdb.Engines(t, func(t *testing.T, dsn string) {
				db := seeded(t, dsn)
				raw, rebind := rawDB(t, db, dsn)
				for _, stmt := range tt.tamper {
					var args []any
					if strings.Contains(stmt, "SET data = ?") {
						var data []byte
						if err := raw.QueryRow("SELECT data FROM log_entries WHERE idx = 10").Scan(&data); err != nil {
							t.Fatal(err)
						}
						args = append(args, []byte(strings.Replace(string(data), "\ncounty 410105\n", "\ncounty 410106\n", 1)))
					}
					if strings.Contains(stmt, "SET hash = ?") {
						args = append(args, make([]byte, 32))
					}
					if _, err := raw.Exec(rebind(stmt), args...); err != nil {
						t.Fatalf("%s: %v", stmt, err)
					}
				}
				rep := mustVerify(t, db)
				if len(rep.Problems) == 0 {
					t.Fatal("tampering not detected")
				}
				found := false
				for _, p := range rep.Problems {
					if (tt.wantIndex == -2 || p.Index == tt.wantIndex) && strings.Contains(p.What, tt.want) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem at index %d containing %q; got %v", tt.wantIndex, tt.want, rep.Problems)
				}
			})
		})
	}
}

func TestEraseKeepsLogValid(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := seeded(t, dsn)
		if _, err := db.EraseResident(system, "r_test000005", "test erasure"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.EraseResident(system, "r_nobody", "test erasure"); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
			t.Errorf("erase unknown: %v", err)
		}
		op := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, Role: healthcode.RoleCommand, Jurisdiction: "410000"})
		if _, err := db.EraseResident(op, "r_test000006", "test erasure"); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("command officer erasing: %v", err)
		}
		rep := mustVerify(t, db)
		if len(rep.Problems) != 0 {
			t.Fatalf("after erasure: %v", rep.Problems)
		}
		self := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_test000005"})
		// Since v2 leaves, nothing about an erased resident remains.
		if r, err := db.Resident(self, "r_test000005"); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
			t.Errorf("after erasure: %+v %v", r, err)
		}
	})
}
