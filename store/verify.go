package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/tlog"
)

// A Problem is one thing log verification found wrong. Index is the log
// index it concerns, or -1 for the log as a whole.
type Problem struct {
	Index int64
	What  string
}

func (p Problem) String() string {
	if p.Index < 0 {
		return p.What
	}
	return fmt.Sprintf("entry %d: %s", p.Index, p.What)
}

// VerifyReport is the outcome of VerifyLog.
type VerifyReport struct {
	Size        int64 // entries checked
	Checkpoints int   // signed checkpoints checked against the recomputed tree
	Subjects    int   // per-subject hash chains checked
	StateRows   int   // state rows checked against the entries that made them
	Projected   int   // projected rows rebuilt from the log and compared column by column
	CodeChanges int   // code changes recomputed from the logged facts and rulesets
	// Exposed counts, by kind, the v1 leaves (written before migration
	// 0013; immutable) that name their resident or carry a health payload
	// in public: a known exposure, listed, not hidden.
	Exposed  map[tlog.Kind]int64
	Problems []Problem
}

// maxProblems bounds the report; verification stops collecting after it.
const maxProblems = 1000

func (r *VerifyReport) add(index int64, format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, Problem{index, fmt.Sprintf(format, args...)})
	}
}

// VerifyLog recomputes the log from the stored entries and checks it
// against everything stored: every entry parses canonically and sits at its
// index; the stored hashes equal the recomputed ones; the latest signed
// checkpoint and every earlier one match the recomputed tree; every
// subject's hash chain is unbroken; every personal part opens its
// commitment; every state row links to an entry that records it.
//
// The projection is rebuilt from the log alone and compared with the
// state (verifyProjection) beside these checks, on another core. progress,
// if not nil, is called with the entries both checked and projected so
// far, from either goroutine but one call at a time. Memory grows with
// the log: the recomputed stored hashes (64 bytes per entry), each
// subject's chain head, and the replayer's facts (BENCHMARKS.md).
func (db *DB) VerifyLog(ctx context.Context, progress func(done, total int64)) (*VerifyReport, error) {
	rep := &VerifyReport{}
	prog := &verifyProgress{f: progress}
	signed, err := db.LogCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := tlog.OpenCheckpoint(signed, db.log.verifier, db.origin)
	if err != nil {
		rep.add(-1, "latest checkpoint does not verify with the log's key: %v", err)
		return rep, nil
	}
	var maxIdx, count int64
	if err := db.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx), -1), COUNT(*) FROM log_entries").Scan(&maxIdx, &count); err != nil {
		return nil, fmt.Errorf("count entries: %w", err)
	}
	if maxIdx+1 != cp.Size {
		rep.add(-1, "the signed checkpoint has size %d but the highest stored entry is %d", cp.Size, maxIdx)
	}
	if count != maxIdx+1 {
		rep.add(-1, "%d entries stored for indices 0..%d: some are missing", count, maxIdx)
	}

	var hashes []sumtlog.Hash // recomputed stored hashes, by stored-hash index
	reader := sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) {
		out := make([]sumtlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	heads := make(map[string]sumtlog.Hash) // subject → leaf hash of its last entry
	lastOf := make(map[string]int64)
	expect, err := db.stateExpectations(ctx, rep)
	if err != nil {
		return nil, err
	}
	replay, err := db.newReplayer(ctx, rep)
	if err != nil {
		return nil, err
	}
	personal := make(map[int64]sumtlog.Hash) // commitments, checked against log_personal
	var continued []*tlog.Entry              // log.continued entries: the origins the log moved from
	// The projection: every projected row rebuilt from the log alone and
	// compared with the stored one, while the entries are checked.
	proj := db.startProjection(ctx, prog.projection)
	defer proj.stop()
	total := maxIdx + 1
	const chunk = 10000
	next := int64(0)
	for start := int64(0); start < total; start += chunk {
		end := min(start+chunk, total)
		rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT e.idx, e.data, p.data FROM log_entries e
			LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx`), start, end)
		if err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		for rows.Next() {
			var idx int64
			var data, stored []byte
			if err := rows.Scan(&idx, &data, &stored); err != nil {
				rows.Close()
				return nil, err
			}
			for ; next < idx; next++ {
				rep.add(next, "missing")
				return rep, rows.Close() // the tree cannot be recomputed past a gap
			}
			next = idx + 1
			o, err := openEntry(data, stored)
			if err != nil {
				rep.add(idx, "does not parse: %v", err)
			} else {
				e := o.Entry
				if e.Index != idx {
					rep.add(idx, "is stored at index %d but says it is entry %d", idx, e.Index)
				}
				if !e.V2() && e.Subject != "" {
					if rep.Exposed == nil {
						rep.Exposed = make(map[tlog.Kind]int64)
					}
					rep.Exposed[e.Kind]++
				}
				if e.Kind == tlog.KindLogErased && e.Prev == (sumtlog.Hash{}) {
					delete(heads, e.Subject) // erasure starts the resident's chain anew
				}
				if e.Subject != "" {
					if e.Prev != heads[e.Subject] {
						if _, ok := heads[e.Subject]; ok {
							rep.add(idx, "breaks the hash chain of %s: prev is not the hash of its entry %d", e.Subject, lastOf[e.Subject])
						} else {
							rep.add(idx, "is the first entry about %s but has a prev hash", e.Subject)
						}
					}
					heads[e.Subject] = sumtlog.RecordHash(data)
					lastOf[e.Subject] = idx
				}
				if e.Personal != (sumtlog.Hash{}) {
					personal[idx] = e.Personal
				}
				for _, x := range expect[idx] {
					x.check(rep, e)
				}
				if !o.erased {
					replay.entry(e)
				}
				delete(expect, idx)
				if e.Kind == tlog.KindLogContinued {
					continued = append(continued, e)
				}
			}
			hs, err := sumtlog.StoredHashes(idx, data, reader)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("recompute hashes of entry %d: %w", idx, err)
			}
			hashes = append(hashes, hs...)
		}
		if err := endRows(rows); err != nil {
			return nil, err
		}
		if err := db.compareHashes(ctx, rep, hashes, sumtlog.StoredHashIndex(0, start), sumtlog.StoredHashIndex(0, end)); err != nil {
			return nil, err
		}
		prog.entries(end, total)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.Size = next
	rep.CodeChanges = replay.Changes

	// Each origin the log moved from signed the checkpoints up to the size
	// its log.continued entry cites.
	var eras []logEra
	for _, e := range continued {
		era, err := checkContinued(e, reader)
		if err != nil {
			rep.add(e.Index, "log.continued: %v", err)
			continue
		}
		eras = append(eras, era)
	}
	signerOf := func(size int64) (note.Verifier, string) {
		for _, era := range eras {
			if size <= era.Size {
				return era.Verifier, era.Origin
			}
		}
		return db.log.verifier, db.origin
	}

	// Checkpoints: the latest, and every one ever signed, against the tree.
	rows, err := db.db.QueryContext(ctx, "SELECT size, root, signed FROM log_checkpoints ORDER BY size")
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	for rows.Next() {
		var size int64
		var root, s []byte
		if err := rows.Scan(&size, &root, &s); err != nil {
			rows.Close()
			return nil, err
		}
		rep.Checkpoints++
		ver, origin := signerOf(size)
		c, err := tlog.OpenCheckpoint(s, ver, origin)
		switch {
		case err != nil:
			rep.add(-1, "checkpoint of size %d does not verify: %v", size, err)
		case c.Size != size || !bytes.Equal(c.Root[:], root):
			rep.add(-1, "checkpoint of size %d: stored size or root differs from the signed one", size)
		case size > rep.Size:
			rep.add(-1, "checkpoint of size %d is beyond the %d entries stored", size, rep.Size)
		default:
			h, err := sumtlog.TreeHash(size, reader)
			if err != nil || h != c.Root {
				rep.add(size-1, "the signed checkpoint of size %d does not match the tree recomputed from the entries", size)
			}
		}
	}
	if err := endRows(rows); err != nil {
		return nil, err
	}
	if cp.Size <= rep.Size {
		if h, err := sumtlog.TreeHash(cp.Size, reader); err != nil || h != cp.Root {
			rep.add(-1, "the latest signed checkpoint (size %d) does not match the tree recomputed from the entries", cp.Size)
		}
	}

	if err := db.verifySubjects(ctx, rep, heads, lastOf); err != nil {
		return nil, err
	}
	if err := db.verifyPersonal(ctx, rep, personal); err != nil {
		return nil, err
	}
	if err := proj.wait(rep); err != nil {
		return nil, err
	}
	for idx, xs := range expect {
		for _, x := range xs {
			rep.add(idx, "%s %s refers to this entry, which does not exist", x.table, x.key)
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Index < rep.Problems[j].Index })
	return rep, nil
}

// compareHashes compares the stored hashes [from, to) with the recomputed.
func (db *DB) compareHashes(ctx context.Context, rep *VerifyReport, hashes []sumtlog.Hash, from, to int64) error {
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT idx, hash FROM log_hashes WHERE idx >= ? AND idx < ? ORDER BY idx"), from, to)
	if err != nil {
		return fmt.Errorf("read stored hashes: %w", err)
	}
	defer rows.Close()
	next := from
	for rows.Next() {
		var idx int64
		var h []byte
		if err := rows.Scan(&idx, &h); err != nil {
			return err
		}
		if idx != next {
			rep.add(recordOf(next), "stored hash %d is missing", next)
		}
		next = idx + 1
		if idx < int64(len(hashes)) && !bytes.Equal(h, hashes[idx][:]) {
			rep.add(recordOf(idx), "stored hash %d differs from the hash recomputed from the entries", idx)
		}
	}
	if next < to {
		rep.add(recordOf(next), "stored hashes from %d on are missing", next)
	}
	return rows.Err()
}

// recordOf returns the entry whose append stored hash index x.
func recordOf(x int64) int64 {
	lo, hi := int64(0), x+1
	for lo < hi { // the first n with StoredHashIndex(0, n) > x, minus one
		m := (lo + hi) / 2
		if sumtlog.StoredHashIndex(0, m) > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

func (db *DB) verifySubjects(ctx context.Context, rep *VerifyReport, heads map[string]sumtlog.Hash, lastOf map[string]int64) error {
	rows, err := db.db.QueryContext(ctx, "SELECT subject, last_index, last_hash FROM log_subjects")
	if err != nil {
		return fmt.Errorf("read chain heads: %w", err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var s string
		var idx int64
		var h []byte
		if err := rows.Scan(&s, &idx, &h); err != nil {
			return err
		}
		seen++
		if want, ok := heads[s]; !ok || lastOf[s] != idx || !bytes.Equal(want[:], h) {
			rep.add(idx, "the chain head of %s does not match its last entry %d", s, lastOf[s])
		}
	}
	rep.Subjects = len(heads)
	if seen != len(heads) {
		rep.add(-1, "%d subjects have entries but %d chain heads are stored", len(heads), seen)
	}
	return rows.Err()
}

func (db *DB) verifyPersonal(ctx context.Context, rep *VerifyReport, commitments map[int64]sumtlog.Hash) error {
	// Personal parts are kept in log_personal, and facts' evidence (the
	// personal part of their entries) in their own rows (see
	// factPersonalData): each must open its entry's commitment.
	open := func(idx int64, salt, data []byte, unasked, wrong string) {
		c, ok := commitments[idx]
		var s [32]byte
		copy(s[:], salt)
		switch {
		case !ok:
			rep.add(idx, "%s", unasked)
		case len(salt) != 32 || !tlog.CheckPersonal(c, s, data):
			rep.add(idx, "%s", wrong)
		}
	}
	rows, err := db.db.QueryContext(ctx, "SELECT idx, salt, data FROM log_personal")
	if err != nil {
		return fmt.Errorf("read personal parts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var salt, data []byte
		if err := rows.Scan(&idx, &salt, &data); err != nil {
			return err
		}
		open(idx, salt, data, "has a stored personal part but commits to none",
			"its personal part does not open the commitment in the entry")
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = db.db.QueryContext(ctx, "SELECT log_index, evidence, evidence_salt FROM facts WHERE length(evidence_salt) > 0")
	if err != nil {
		return fmt.Errorf("read facts' evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var evidence string
		var salt []byte
		if err := rows.Scan(&idx, &evidence, &salt); err != nil {
			return err
		}
		open(idx, salt, factPersonalData(evidence), "its fact stores evidence but the entry commits to no personal part",
			"its fact's evidence does not open the commitment in the entry")
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Since v2 leaves, a fact's evidence is in its entry's personal part
	// (checked above); the row's copy must be the one in it.
	rows, err = db.db.QueryContext(ctx, `SELECT f.log_index, f.evidence, p.data FROM facts f JOIN log_personal p ON p.idx = f.log_index
		WHERE length(f.evidence_salt) = 0`)
	if err != nil {
		return fmt.Errorf("read facts' evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var evidence string
		var data []byte
		if err := rows.Scan(&idx, &evidence, &data); err != nil {
			return err
		}
		pp, err := tlog.ParsePersonalPart(data)
		if err != nil {
			continue // a v1 part: only facts' evidence rows, checked above
		}
		var ev struct{ Evidence string }
		if len(pp.Data) > 0 {
			if err := json.Unmarshal(pp.Data, &ev); err != nil {
				rep.add(idx, "its personal part's data is not JSON")
				continue
			}
		}
		if ev.Evidence != evidence {
			rep.add(idx, "its fact's evidence does not open the commitment in the entry: it differs from the entry's personal part")
		}
	}
	// A commitment without a stored part is an erased personal part: fine.
	return rows.Err()
}
