package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestResidentListsArePaged: a resident with many code changes and many
// reads of their data gets them a bounded page at a time, newest first,
// pages that neither overlap nor skip, and the last page says so.
func TestResidentListsArePaged(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		r0 := resident(0, "").ID
		// 11 positive tests, each retracted: 22 code changes.
		for i := 0; i < 11; i++ {
			res, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr(fmt.Sprint("pos-", i), r0, "positive", w.now.Add(-time.Hour))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.db.RetractFact(as(lab), res.Facts[0].Key, "录入错误"); err != nil {
				t.Fatal(err)
			}
		}
		// 45 visits of an official: 45 reads in the access log.
		for i := 0; i < 45; i++ {
			if _, _, err := w.db.ReadResidentFile(as(cmdCounty), r0); err != nil {
				t.Fatal(err)
			}
		}
		mustPages(t, "history", []int{20, 2}, func(n int) ([]int64, bool, error) {
			h, more, err := w.db.History(self(r0), r0, n)
			var idx []int64
			for _, ex := range h {
				idx = append(idx, ex.LogIndex)
			}
			return idx, more, err
		})
		mustPages(t, "access log", []int{20, 20, 5, 0}, func(n int) ([]int64, bool, error) {
			a, more, err := w.db.AccessLog(self(r0), r0, n)
			var idx []int64
			for _, x := range a {
				idx = append(idx, x.LogIndex)
			}
			return idx, more, err
		})
		// A page number below 1 is the first page, never everything.
		if a, _, err := w.db.AccessLog(self(r0), r0, 0); err != nil || len(a) != store.PerPage {
			t.Errorf("page 0: %d reads, %v", len(a), err)
		}
	})
}

// mustPages reads pages 1, 2, ... of a list (the log indexes of its
// items) and checks their lengths, that each but the last (and an empty
// one after it) says a next page exists, and that the pages are newest
// first without overlap.
func mustPages(t *testing.T, what string, lens []int, page func(n int) ([]int64, bool, error)) {
	t.Helper()
	var seen []int64
	for i, want := range lens {
		idx, more, err := page(i + 1)
		if wantMore := i+1 < len(lens) && lens[i+1] > 0; err != nil || len(idx) != want || more != wantMore {
			t.Fatalf("%s page %d: %d items, more %v, %v; want %d, %v", what, i+1, len(idx), more, err, want, wantMore)
		}
		seen = append(seen, idx...)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("%s pages are not newest first without overlap: %v", what, seen)
		}
	}
}

// TestPendingFactsArePaged: the approval queue is read a bounded page at a
// time, and the recorder's own facts are never in it.
func TestPendingFactsArePaged(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		var fs []healthcode.Fact
		for i := 0; i < 25; i++ {
			fs = append(fs, w.fact(fmt.Sprint("case-", i), "case_status", resident(i%6, "").ID, w.now.Add(-time.Hour),
				fmt.Sprintf(`{"status":"confirmed","case_id":"ZY-%d"}`, i)))
		}
		if _, err := w.db.RecordFacts(as(cmdCounty), fs); err != nil {
			t.Fatal(err)
		}
		for n, want := range []struct {
			len  int
			more bool
		}{{20, true}, {5, false}} {
			got, more, err := w.db.PendingFacts(as(cmdProvince1), n+1)
			if err != nil || len(got) != want.len || more != want.more {
				t.Fatalf("pending page %d: %d facts, more %v, %v; want %d, %v", n+1, len(got), more, err, want.len, want.more)
			}
		}
		if own, _, err := w.db.PendingFacts(as(cmdCounty), 1); err != nil || len(own) != 0 {
			t.Errorf("the recorder's queue: %d facts, %v", len(own), err)
		}
	})
}
