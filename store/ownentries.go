package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/tlog"
)

// OwnEntry is one log entry about a resident with the opening of its
// personal part: what the resident's client needs to check, offline,
// that the entry is in the log (with an inclusion proof against a signed
// checkpoint) and that it is about them (the opening of the commitment
// in the leaf names them and links the entry to their previous one).
type OwnEntry struct {
	Index    int64
	Leaf     []byte // the entry's leaf data
	Salt     []byte // the personal part's salt (32 bytes), or nil for none
	Personal []byte // the personal part, or nil for none
}

// ResidentEntries returns every entry about resident id in log order,
// each with the opening of its personal part: the v2 entries found by
// their personal parts (log_personal, by subject), and v1 entries (which
// name their subject in the leaf) by the rows they projected. A reader
// who checks the chain link of each finds any entry left out before the
// last one returned (tlog.VerifyOwnEntries). An official's read is
// logged as a read of the resident's history. Returns ENOTFOUND,
// EFORBIDDEN.
func (db *DB) ResidentEntries(ctx context.Context, id string) ([]OwnEntry, error) {
	if _, err := db.readResident(ctx, id, "history"); err != nil {
		return nil, err
	}
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT idx FROM log_personal WHERE subject = ?
		UNION SELECT log_index FROM residents WHERE id = ?
		UNION SELECT log_index FROM code_changes WHERE resident = ?
		UNION SELECT log_index FROM facts WHERE subject = ? AND kind <> 'risk_area'
		UNION SELECT decided_log FROM facts WHERE subject = ? AND kind <> 'risk_area' AND decided_log >= 0
		UNION SELECT log_index FROM appeals WHERE resident = ?
		UNION SELECT log_index FROM appeal_steps WHERE resident = ?
		UNION SELECT log_index FROM data_access WHERE resident = ?`), id, id, id, id, id, id, id, id)
	var idxs []int64
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var x int64
		if err := rows.Scan(&x); err != nil {
			return err
		}
		idxs = append(idxs, x)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("entries of %s: %w", id, err)
	}
	slices.Sort(idxs)
	idxs = slices.Compact(idxs)
	out := make([]OwnEntry, 0, len(idxs))
	for start := 0; start < len(idxs); start += 500 {
		part := idxs[start:min(start+500, len(idxs))]
		args := make([]any, len(part))
		for i, x := range part {
			args[i] = x
		}
		rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT e.idx, e.data, p.salt, p.data FROM log_entries e
			LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx IN (`+placeholders(len(part))+`) ORDER BY e.idx`), args...)
		if err := scanRows(rows, err, func(rows *sql.Rows) error {
			var o OwnEntry
			if err := rows.Scan(&o.Index, &o.Leaf, &o.Salt, &o.Personal); err != nil {
				return err
			}
			e, err := openEntry(o.Leaf, o.Personal)
			if err != nil {
				return err
			}
			if e.Subject == id {
				out = append(out, o)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("entries of %s: %w", id, err)
		}
	}
	return db.fillChainGaps(ctx, id, out)
}

// fillChainGaps adds to a resident's entries (in log order) those their
// chain links name that no row led to: a v1 entry is found only by the
// rows it projected, and a later entry may have overwritten the row (a
// fact approved in v1 and retracted later no longer cites its approval).
// Each entry's link names the leaf hash of the one before it; where that
// is not the previous entry listed, the leaf is looked up by its hash
// between the two, and added if it is about the resident.
func (db *DB) fillChainGaps(ctx context.Context, id string, out []OwnEntry) ([]OwnEntry, error) {
	for i := len(out) - 1; i > 0; i-- {
		e, err := openEntry(out[i].Leaf, out[i].Personal)
		if err != nil {
			return nil, err
		}
		lo, hi := out[i-1].Index, out[i].Index
		if e.Prev == (sumtlog.Hash{}) || e.Prev == sumtlog.RecordHash(out[i-1].Leaf) || hi-lo < 2 {
			continue
		}
		var stored int64
		err = db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT idx FROM log_hashes WHERE idx > ? AND idx < ? AND hash = ?"),
			sumtlog.StoredHashIndex(0, lo), sumtlog.StoredHashIndex(0, hi), e.Prev[:]).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			continue // a gap the resident's check reports
		}
		if err != nil {
			return nil, fmt.Errorf("entries of %s: the leaf entry %d links to: %w", id, hi, err)
		}
		// The leaf whose stored hash index that is (a tree hash, not a
		// leaf's, matches no leaf).
		n := lo + 1 + int64(sort.Search(int(hi-lo-1), func(k int) bool { return sumtlog.StoredHashIndex(0, lo+1+int64(k)) >= stored }))
		if n >= hi || sumtlog.StoredHashIndex(0, n) != stored {
			continue
		}
		var o OwnEntry
		err = db.db.QueryRowContext(ctx, db.dialect.rebind(`SELECT e.idx, e.data, p.salt, p.data FROM log_entries e
			LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx = ?`), n).Scan(&o.Index, &o.Leaf, &o.Salt, &o.Personal)
		if err != nil {
			return nil, fmt.Errorf("entries of %s: entry %d: %w", id, n, err)
		}
		found, err := openEntry(o.Leaf, o.Personal)
		if err != nil {
			return nil, err
		}
		if found.Subject != id {
			continue
		}
		out = slices.Insert(out, i, o)
		i++ // check the added entry's own link next
	}
	return out, nil
}

// OpenedEntry returns the entry at index idx as its personal part, if
// held, opens it (tlog.Entry's Subject, Prev and Payload are then the
// personal part's); erased says a v2 entry about a resident has lost its
// personal part. It does not check the opening against the commitment
// (log verify does).
func (db *DB) OpenedEntry(ctx context.Context, idx int64) (e *tlog.Entry, erased bool, err error) {
	var data, stored []byte
	if err := db.db.QueryRowContext(ctx, db.dialect.rebind(`SELECT e.data, p.data FROM log_entries e
		LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx = ?`), idx).Scan(&data, &stored); err != nil {
		return nil, false, fmt.Errorf("read entry %d: %w", idx, err)
	}
	o, err := openEntry(data, stored)
	if err != nil {
		return nil, false, err
	}
	return o.Entry, o.erased, nil
}
