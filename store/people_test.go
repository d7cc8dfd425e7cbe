package store_test

import (
	"fmt"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// mustPeopleWorld is an accountability world with 25 more residents of
// another name, in the second community (a worker's of the first community
// must not find them), one with a known national ID number.
func mustPeopleWorld(t *testing.T, dsn string) *world {
	t.Helper()
	w := mustAccWorld(t, dsn, store.Limits{}, 6)
	var rs []healthcode.Resident
	for i := range 25 {
		r := resident(100+i, "410105001002")
		r.ID, r.Name, r.Phone = fmt.Sprintf("r_wen%02d", i), fmt.Sprintf("王文化%02d", i), fmt.Sprintf("1370000%04d", i)
		r.IDHash = w.db.HashNationalID(fmt.Sprintf("4101051990010100%02d", i))
		r.IDMasked = healthcode.MaskNationalID(fmt.Sprintf("4101051990010100%02d", i))
		rs = append(rs, r)
	}
	if err := w.db.CreateResidents(system, rs); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSearchResidents(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustPeopleWorld(t, dsn)
		worker2 := worker
		worker2.ID, worker2.Jurisdiction = "o_worker2", "410105001002"
		if err := w.db.CreateOfficial(system, healthcode.Official{ID: worker2.ID, Name: "文化路社工", Role: worker2.Role, Jurisdiction: worker2.Jurisdiction}, "login-w2", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			actor healthcode.Actor
			q     string
			page  int
			want  int  // results
			more  bool // a next page
			first string
		}{
			{"by name prefix", worker2, "王文化", 1, 20, true, "r_wen00"},
			{"second page", worker2, "王文化", 2, 5, false, "r_wen20"},
			{"by full name", worker2, "王文化07", 1, 1, false, "r_wen07"},
			{"by phone", worker2, "13700000011", 1, 1, false, "r_wen11"},
			{"by ID number", worker2, "410105199001010003", 1, 1, false, "r_wen03"},
			{"by ID number, lower-case x", worker2, "4101051990010100x3", 1, 0, false, ""},
			{"LIKE characters match themselves", worker2, "王%", 1, 0, false, ""},
			// The insider's attempt: a worker of another community
			// searches for residents outside it and finds no one.
			{"outside the jurisdiction", worker, "王文化", 1, 0, false, ""},
			{"outside, by ID number", worker, "410105199001010003", 1, 0, false, ""},
			{"the county covers both", cmdCounty, "王文化0", 1, 10, false, "r_wen00"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := accessEntries(t, w)
				got, err := w.db.SearchResidents(as(tt.actor), tt.q, tt.page)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.People) != tt.want || got.More != tt.more {
					t.Fatalf("%d results (more %v), want %d (more %v): %+v", len(got.People), got.More, tt.want, tt.more, got.People)
				}
				if tt.want > 0 {
					p := got.People[0]
					if p.ID != tt.first || p.Colour != healthcode.Green || p.JurisdictionName != "文化路社区" || p.IDMasked == "" {
						t.Errorf("first result %+v, want %s, green, 文化路社区, a masked ID", p, tt.first)
					}
				}
				// Each result shown is a logged read.
				if n := accessEntries(t, w) - before; n != tt.want {
					t.Errorf("%d data.accessed entries for %d results", n, tt.want)
				}
			})
		}
		for _, a := range []healthcode.Actor{operator, auditor} {
			if _, err := w.db.SearchResidents(as(a), "王文化", 1); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
				t.Errorf("%s searches: %v, want EFORBIDDEN", a.Role, err)
			}
		}
		if _, err := w.db.SearchResidents(self("r_test000001"), "王文化", 1); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("a resident searches: %v, want EFORBIDDEN", err)
		}
		if _, err := w.db.SearchResidents(as(worker2), " ", 1); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("empty search: %v, want EINVALID", err)
		}
	})
}

func TestRoster(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustPeopleWorld(t, dsn)
		before := accessEntries(t, w)
		got, err := w.db.Roster(as(worker), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.People) != 6 || got.More {
			t.Fatalf("roster of 农科路社区: %d people (more %v), want 6", len(got.People), got.More)
		}
		for _, p := range got.People {
			if p.Jurisdiction != "410105001001" || p.Colour == "" {
				t.Errorf("roster row %+v", p)
			}
		}
		// One logged read of the list, not one per person.
		if n := accessEntries(t, w) - before; n != 1 {
			t.Errorf("%d data.accessed entries for one roster page, want 1", n)
		}
		if _, err := w.db.Roster(as(cmdCounty), 1); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("a command officer's roster: %v, want EFORBIDDEN", err)
		}
	})
}

// TestResidentFileOneRead: a worker's visit to a resident's page reads the
// resident, code, history and appeals and is one entry in the resident's
// access log.
func TestResidentFileOneRead(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustPeopleWorld(t, dsn)
		id := "r_test000001"
		ctx, r, err := w.db.ReadResidentFile(as(worker), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "张三" {
			t.Errorf("resident %+v", r)
		}
		if _, err := w.db.Explain(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.db.History(ctx, id, 1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.db.ResidentAppeals(ctx, id); err != nil {
			t.Fatal(err)
		}
		// Another resident read in the same context is logged.
		if _, err := w.db.Explain(ctx, "r_test000002"); err != nil {
			t.Fatal(err)
		}
		log, _, err := w.db.AccessLog(self(id), id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].What != "file" {
			t.Errorf("one visit is %d entries in the access log, want 1 (file): %+v", len(log), log)
		}
		other, _, err := w.db.AccessLog(self("r_test000002"), "r_test000002", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(other) != 1 {
			t.Errorf("the other resident's read: %d entries, want 1", len(other))
		}
	})
}

// accessEntries counts the data.accessed entries in the log.
func accessEntries(t *testing.T, w *world) int {
	t.Helper()
	return len(w.entriesOfKind(t, "data.accessed"))
}
