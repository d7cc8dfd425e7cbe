package store

import (
	"context"
	"testing"

	"github.com/healthcode/healthcode/tlog"
)

// TestProjectionLastUnknownSticks: once an entry leaves a row's personal
// columns unknown (an erased personal part), projection_last says so for
// good, whether a later entry that sets the row with its personal part
// comes in the same commit (touch's notes) or in a later one (the
// upsert's CASE); a row never left unknown stays known. verify and
// rebuild leave such columns out of their comparison and copy.
func TestProjectionLastUnknownSticks(t *testing.T) {
	ctx := context.Background()
	p, err := NewProjector(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	known, unknown := true, false
	touch := func(idx int64, has *bool, row string) {
		t.Helper()
		if p.tx == nil {
			if _, err := p.Apply(ctx, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		p.pr.e = &tlog.Entry{Index: idx}
		if err := p.pr.touch("residents", has, row); err != nil {
			t.Fatal(err)
		}
	}
	commit := func() {
		t.Helper()
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	last := func(row string) (idx int64, personal int) {
		t.Helper()
		if err := p.db.db.QueryRowContext(ctx, "SELECT idx, personal FROM projection_last WHERE tbl = 'residents' AND row_key = ?", row).Scan(&idx, &personal); err != nil {
			t.Fatal(err)
		}
		return idx, personal
	}

	touch(1, &unknown, "r_same") // erased, then set again in the same commit
	touch(2, &known, "r_same")
	touch(1, &unknown, "r_later") // erased, set again in a later commit
	touch(3, &known, "r_known")
	commit()
	touch(4, &known, "r_later")
	touch(5, nil, "r_known")
	commit()

	for _, c := range []struct {
		row      string
		idx      int64
		personal int
	}{{"r_same", 2, 0}, {"r_later", 4, 0}, {"r_known", 5, 1}} {
		if idx, personal := last(c.row); idx != c.idx || personal != c.personal {
			t.Errorf("%s: entry %d, personal %d; want entry %d, personal %d", c.row, idx, personal, c.idx, c.personal)
		}
	}
}
