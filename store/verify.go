package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
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
	Projected   int   // projected rows rebuilt from the log and compared column by column
	CodeChanges int   // code changes recomputed from the logged facts and rulesets
	// Exposed counts, by kind, the v1 leaves (written before migration
	// 0013; immutable) with a subject line: each names its resident and
	// carries its chain link and whole payload in public, a known
	// exposure, listed, not hidden. A v1 leaf without a subject line is
	// not counted, even where its payload names a resident (an old
	// alert.raised's subject or detail); docs/log.md says so.
	Exposed map[tlog.Kind]int64
	// ExposedEntries are those leaves' indices, in log order.
	ExposedEntries []int64
	Problems       []Problem
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
// subject's hash chain is unbroken and ends at its stored head; every
// personal part opens its commitment.
//
// The projection is rebuilt from the log alone, every code change is
// replayed from the facts and rulesets projected before it, and the
// rebuilt state is compared with the live one column by column
// (verifyProjection), beside these checks, on another core. progress, if
// not nil, is called, from either goroutine but one call at a time, in
// phase VerifyPhaseEntries with the entries both checked and projected
// so far, then in a phase "compare TABLE" with each table's rows compared.
//
// Memory does not grow with the log: entries are read in chunks; of the
// recomputed stored hashes only a chunk's and the tree's frontier are
// held; the commitments and the chain links go to temporary files (the
// links sorted by subject in runs of bounded size and merged at the end);
// the projection and the replay's facts live in the scratch database.
func (db *DB) VerifyLog(ctx context.Context, progress func(phase string, done, total int64)) (*VerifyReport, error) {
	return db.verifyLog(ctx, progress, verifyRunSize)
}

// verifyRunSize is how many chain links VerifyLog sorts in memory before
// it writes them out as a run (about 100 bytes each).
const verifyRunSize = 1 << 16

func (db *DB) verifyLog(ctx context.Context, progress func(phase string, done, total int64), runSize int) (*VerifyReport, error) {
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

	dir, err := os.MkdirTemp("", "healthcode-verify-*")
	if err != nil {
		return nil, fmt.Errorf("verify: temporary directory: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			db.logger.Warn("removing verify's temporary files failed", "dir", dir, "err", err)
		}
	}()
	commits, err := newCommitFile(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := commits.close(); err != nil {
			db.logger.Warn("closing verify's commitments file failed", "dir", dir, "err", err)
		}
	}()
	chains := &chainSorter{dir: dir, runSize: runSize}
	hashes := &hashFrontier{}
	var eras []logEra // the origins the log moved from (log.continued entries)
	// The projection: every projected row rebuilt from the log alone and
	// compared with the stored one, while the entries are checked.
	proj := db.startProjection(ctx, prog)
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
					rep.ExposedEntries = append(rep.ExposedEntries, idx)
				}
				if e.Subject != "" {
					// An erasure starts the resident's chain anew.
					restart := e.Kind == tlog.KindLogErased && e.Prev == (sumtlog.Hash{})
					if err := chains.add(chainLink{subject: e.Subject, idx: idx, hash: sumtlog.RecordHash(data), prev: e.Prev, restart: restart}); err != nil {
						rows.Close()
						return nil, err
					}
				}
				if e.Personal != (sumtlog.Hash{}) {
					if err := commits.add(idx, e.Personal); err != nil {
						rows.Close()
						return nil, err
					}
				}
				if e.Kind == tlog.KindLogContinued {
					// The tree of size idx is the one the frontier holds now.
					if era, err := checkContinued(e, hashes); err != nil {
						rep.add(e.Index, "log.continued: %v", err)
					} else {
						eras = append(eras, era)
					}
				}
			}
			hs, err := sumtlog.StoredHashes(idx, data, hashes)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("recompute hashes of entry %d: %w", idx, err)
			}
			hashes.add(hs)
		}
		if err := endRows(rows); err != nil {
			return nil, err
		}
		if err := db.compareHashes(ctx, rep, hashes, sumtlog.StoredHashIndex(0, start), sumtlog.StoredHashIndex(0, end)); err != nil {
			return nil, err
		}
		// The signed trees of the sizes this chunk reached.
		if err := db.checkTreeSizes(ctx, rep, hashes, cp, start, end); err != nil {
			return nil, err
		}
		if err := hashes.advance(end); err != nil {
			return nil, err
		}
		prog.entries(end, total)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.Size = next
	if err := commits.done(); err != nil {
		return nil, fmt.Errorf("commitments file: %w", err)
	}
	if err := db.checkSignatures(ctx, rep, eras); err != nil {
		return nil, err
	}
	if err := db.verifySubjects(ctx, rep, chains); err != nil {
		return nil, err
	}
	if err := db.verifyPersonal(ctx, rep, commits); err != nil {
		return nil, err
	}
	if err := proj.wait(rep); err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Index < rep.Problems[j].Index })
	return rep, nil
}

// checkTreeSizes compares the root of every stored checkpoint of a size
// in (start, end], and the latest signed one's, with the tree recomputed
// from the entries; hashes holds the chunk [start, end).
func (db *DB) checkTreeSizes(ctx context.Context, rep *VerifyReport, hashes sumtlog.HashReader, latest tlog.Checkpoint, start, end int64) error {
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT size, root FROM log_checkpoints WHERE size > ? AND size <= ? ORDER BY size"), start, end)
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	for rows.Next() {
		var size int64
		var root []byte
		if err := rows.Scan(&size, &root); err != nil {
			return err
		}
		if h, err := sumtlog.TreeHash(size, hashes); err != nil || !bytes.Equal(h[:], root) {
			rep.add(size-1, "the signed checkpoint of size %d does not match the tree recomputed from the entries", size)
		}
	}
	if latest.Size > start && latest.Size <= end {
		if h, err := sumtlog.TreeHash(latest.Size, hashes); err != nil || h != latest.Root {
			rep.add(-1, "the latest signed checkpoint (size %d) does not match the tree recomputed from the entries", latest.Size)
		}
	}
	return rows.Err()
}

// checkSignatures checks every stored checkpoint's signature, under the
// key of its era, and that its size and root are the signed ones (which
// checkTreeSizes compared with the tree).
func (db *DB) checkSignatures(ctx context.Context, rep *VerifyReport, eras []logEra) error {
	signerOf := func(size int64) (note.Verifier, string) {
		for _, era := range eras {
			if size <= era.Size {
				return era.Verifier, era.Origin
			}
		}
		return db.log.verifier, db.origin
	}
	rows, err := db.db.QueryContext(ctx, "SELECT size, root, signed FROM log_checkpoints ORDER BY size")
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	for rows.Next() {
		var size int64
		var root, s []byte
		if err := rows.Scan(&size, &root, &s); err != nil {
			return err
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
		}
	}
	return rows.Err()
}

// compareHashes compares the stored hashes [from, to) with the recomputed.
func (db *DB) compareHashes(ctx context.Context, rep *VerifyReport, hashes *hashFrontier, from, to int64) error {
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT idx, hash FROM log_hashes WHERE idx >= ? AND idx < ? ORDER BY idx"), from, to)
	if err != nil {
		return fmt.Errorf("read stored hashes: %w", err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
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
		if want, ok := hashes.get(idx); ok && !bytes.Equal(h, want[:]) {
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

// verifySubjects checks every subject's hash chain, from the links sorted
// by subject and index, and that its stored head is its last entry: a
// merge of the links with log_subjects in the same (byte) order.
func (db *DB) verifySubjects(ctx context.Context, rep *VerifyReport, chains *chainSorter) error {
	order := "subject"
	if db.dialect.name() == Postgres {
		order += ` COLLATE "C"`
	}
	rows, err := db.db.QueryContext(ctx, "SELECT subject, last_index, last_hash FROM log_subjects ORDER BY "+order)
	if err != nil {
		return fmt.Errorf("read chain heads: %w", err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	type head struct {
		subject string
		idx     int64
		hash    []byte
	}
	var stored *head // the next stored head, nil at the end
	nstored := 0
	nextHead := func() error {
		if !rows.Next() {
			stored = nil
			return rows.Err()
		}
		stored = &head{}
		if err := rows.Scan(&stored.subject, &stored.idx, &stored.hash); err != nil {
			return err
		}
		nstored++
		return nil
	}
	if err := nextHead(); err != nil {
		return err
	}
	// end checks the chain of a subject, whose last link is last, against
	// the stored heads up to it.
	end := func(last chainLink) error {
		for stored != nil && stored.subject < last.subject {
			rep.add(stored.idx, "the chain head of %s does not match its last entry %d", stored.subject, 0)
			if err := nextHead(); err != nil {
				return err
			}
		}
		if stored != nil && stored.subject == last.subject {
			if stored.idx != last.idx || !bytes.Equal(stored.hash, last.hash[:]) {
				rep.add(stored.idx, "the chain head of %s does not match its last entry %d", last.subject, last.idx)
			}
			return nextHead()
		}
		return nil
	}
	var last chainLink
	subjects := 0
	err = chains.each(func(l chainLink) error {
		if subjects == 0 || l.subject != last.subject {
			if subjects > 0 {
				if err := end(last); err != nil {
					return err
				}
			}
			subjects++
			if l.prev != (sumtlog.Hash{}) {
				rep.add(l.idx, "is the first entry about %s but has a prev hash", l.subject)
			}
		} else if l.prev != last.hash && !l.restart {
			rep.add(l.idx, "breaks the hash chain of %s: prev is not the hash of its entry %d", l.subject, last.idx)
		}
		last = l
		return nil
	})
	if err != nil {
		return err
	}
	if subjects > 0 {
		if err := end(last); err != nil {
			return err
		}
	}
	for stored != nil {
		rep.add(stored.idx, "the chain head of %s does not match its last entry %d", stored.subject, 0)
		if err := nextHead(); err != nil {
			return err
		}
	}
	rep.Subjects = subjects
	if nstored != subjects {
		rep.add(-1, "%d subjects have entries but %d chain heads are stored", subjects, nstored)
	}
	return rows.Err()
}

func (db *DB) verifyPersonal(ctx context.Context, rep *VerifyReport, commitments *commitFile) error {
	// Personal parts are kept in log_personal, and facts' evidence (the
	// personal part of their entries) in their own rows (see
	// factPersonalData): each must open its entry's commitment.
	open := func(idx int64, salt, data []byte, unasked, wrong string) error {
		c, ok, err := commitments.at(idx)
		if err != nil {
			return err
		}
		var s [32]byte
		copy(s[:], salt)
		switch {
		case !ok:
			rep.add(idx, "%s", unasked)
		case len(salt) != 32 || !tlog.CheckPersonal(c, s, data):
			rep.add(idx, "%s", wrong)
		}
		return nil
	}
	rows, err := db.db.QueryContext(ctx, "SELECT idx, salt, data FROM log_personal")
	if err != nil {
		return fmt.Errorf("read personal parts: %w", err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	for rows.Next() {
		var idx int64
		var salt, data []byte
		if err := rows.Scan(&idx, &salt, &data); err != nil {
			return err
		}
		if err := open(idx, salt, data, "has a stored personal part but commits to none",
			"its personal part does not open the commitment in the entry"); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = db.db.QueryContext(ctx, "SELECT log_index, evidence, evidence_salt FROM facts WHERE length(evidence_salt) > 0")
	if err != nil {
		return fmt.Errorf("read facts' evidence: %w", err)
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	for rows.Next() {
		var idx int64
		var evidence string
		var salt []byte
		if err := rows.Scan(&idx, &evidence, &salt); err != nil {
			return err
		}
		if err := open(idx, salt, factPersonalData(evidence), "its fact stores evidence but the entry commits to no personal part",
			"its fact's evidence does not open the commitment in the entry"); err != nil {
			return err
		}
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
		if ev.Evidence != evidence && evidence != "" { // the row's copy may be erased (retention), never changed
			rep.add(idx, "its fact's evidence does not open the commitment in the entry: it differs from the entry's personal part")
		}
	}
	// A commitment without a stored part is an erased personal part: fine.
	return rows.Err()
}
