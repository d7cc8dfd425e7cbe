// Package verify checks a healthcode log against everything stored beside
// it, trusting nothing of the writer's: it recomputes the Merkle tree from
// the entries and checks it against the stored hashes and every signed
// checkpoint, each subject's hash chain, every personal part against its
// commitment, replays every code decision from the logged facts and
// rulesets, and rebuilds the whole projection from the log alone to
// compare it with the live state row by row, column by column.
//
// It reads only through Source, a narrow read-only interface: entries
// with their stored personal parts, stored hashes, checkpoints, chain
// heads and the state rows it compares. store.VerifyView implements it
// over a database; another implementation can serve it from the log's
// tiles over HTTP. The package shares with the writer only what it must to
// mean the same thing: the event types and their codec, and the apply
// functions, which store.Projector runs into a scratch database of its
// own (the projection, never the live one). It must not import
// database/sql or a database driver (TestImports).
//
// It is a top-level package, not store/verify, because it is a consumer of
// the store like cmd and server, not a part of it: what it checks is the
// store's work, and the Source it reads could be anyone's copy of the log.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"os"
	"sort"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// Source is what the verifier reads: a read-only view of a log and of the
// state it projects. Every method hands rows to f in the order it names;
// an error f returns stops the read and is returned.
type Source interface {
	// LogKey is the log's verifier key and origin: the trust anchor.
	LogKey() (note.Verifier, string)
	// Checkpoint is the latest signed checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	// Bounds is the highest stored index (-1: none) and how many
	// entries are stored.
	Bounds(ctx context.Context) (maxIdx, count int64, err error)
	// Entries are the stored entries [from, to), in index order.
	Entries(ctx context.Context, from, to int64, f func(store.RawEntry) error) error
	// Hashes are the stored hashes of stored-hash indices [from, to),
	// in order.
	Hashes(ctx context.Context, from, to int64, f func(idx int64, hash []byte) error) error
	// Checkpoints are the stored signed checkpoints of a size in
	// (after, upTo], by size.
	Checkpoints(ctx context.Context, after, upTo int64, f func(size int64, root, signed []byte) error) error
	// SubjectHeads are the stored chain heads, by subject in byte order.
	SubjectHeads(ctx context.Context, f func(subject string, idx int64, hash []byte) error) error
	// PersonalParts are the personal parts stored beside the log.
	PersonalParts(ctx context.Context, f func(idx int64, salt, data []byte) error) error
	// FactEvidence are the facts that keep their evidence in their row
	// (salt not empty), and those whose entry has a stored personal part
	// (salt empty; personal is that part).
	FactEvidence(ctx context.Context, f func(idx int64, evidence string, salt, personal []byte) error) error
	// RulesetSources are the stored rulesets' texts.
	RulesetSources(ctx context.Context, f func(id string, version int, source string) error) error
	// Rows are the live rows of a projected table (store.ProjectedTables)
	// in key order.
	Rows(ctx context.Context, table string) (store.RowCursor, error)
}

// A Problem is one thing verification found wrong.
type Problem = store.Problem

// Report is the outcome of Log.
type Report struct {
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

func (r *Report) add(index int64, format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, Problem{Index: index, What: fmt.Sprintf(format, args...)})
	}
}

// Options tune Log.
type Options struct {
	// Progress, if not nil, is called, from either goroutine but one
	// call at a time, in phase PhaseEntries with the entries both checked
	// and projected so far, then in a phase "compare TABLE" with each
	// table's rows compared.
	Progress func(phase string, done, total int64)
	// Logger hears of temporary files that could not be removed; nil:
	// nobody.
	Logger *slog.Logger
	// RunSize is how many chain links are sorted in memory before they
	// are written out as a run (about 100 bytes each); 0: 65,536.
	RunSize int
}

// defaultRunSize is Options.RunSize's default.
const defaultRunSize = 1 << 16

// Log recomputes the log from src's entries and checks it against
// everything stored: every entry parses canonically and sits at its
// index; the stored hashes equal the recomputed ones; the latest signed
// checkpoint and every earlier one match the recomputed tree; every
// subject's hash chain is unbroken and ends at its stored head; every
// personal part opens its commitment and is the one its entry was read
// with.
//
// The projection is rebuilt from the log alone, every code change is
// replayed from the facts and rulesets projected before it, and the
// rebuilt state is compared with the live one column by column, beside
// these checks, on another core (Options.Progress hears of both), from
// the entries as these checks read and opened them: each is read once.
//
// Memory does not grow with the log: entries are read in chunks; of the
// recomputed stored hashes only a chunk's and the tree's frontier are
// held; the commitments and the chain links go to temporary files (the
// links sorted by subject in runs of bounded size and merged at the end);
// the projection and the replay's facts live in the scratch database.
func Log(ctx context.Context, src Source, opt Options) (*Report, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.RunSize <= 0 {
		opt.RunSize = defaultRunSize
	}
	rep := &Report{}
	prog := &progress{f: opt.Progress}
	signed, err := src.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	logKey, origin := src.LogKey()
	cp, err := tlog.OpenCheckpoint(signed, logKey, origin)
	if err != nil {
		rep.add(-1, "latest checkpoint does not verify with the log's key: %v", err)
		return rep, nil
	}
	maxIdx, count, err := src.Bounds(ctx)
	if err != nil {
		return nil, err
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
			opt.Logger.Warn("removing verify's temporary files failed", "dir", dir, "err", err)
		}
	}()
	commits, err := newCommitFile(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := commits.close(); err != nil {
			opt.Logger.Warn("closing verify's commitments file failed", "dir", dir, "err", err)
		}
	}()
	chains := &chainSorter{dir: dir, runSize: opt.RunSize}
	hashes := &hashFrontier{}
	var eras []store.LogEra // the origins the log moved from (log.continued entries)
	// The projection: every projected row rebuilt from the log alone and
	// compared with the stored one, while the entries are checked.
	total := maxIdx + 1
	proj := startProjection(ctx, src, total, opt.Logger, prog)
	defer proj.stop()
	const chunk = 10000
	next := int64(0)
	errGap := errors.New("gap") // the tree cannot be recomputed past a gap
	for start := int64(0); start < total; start += chunk {
		end := min(start+chunk, total)
		err := src.Entries(ctx, start, end, func(raw store.RawEntry) error {
			idx, data := raw.Index, raw.Data
			if next < idx {
				rep.add(next, "missing")
				return errGap
			}
			next = idx + 1
			o, err := store.OpenEntry(data, raw.Personal)
			if err != nil {
				rep.add(idx, "does not parse: %v", err)
				proj.failed(idx, err)
			} else {
				// The projection applies the entry as opened here.
				proj.add(o)
				e := o.Entry()
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
						return err
					}
				}
				if e.Personal != (sumtlog.Hash{}) || len(raw.Personal) > 0 {
					// The personal part served with the entry is the one
					// the projection applies: verifyPersonal checks that
					// it is the stored one that opens the commitment.
					if err := commits.add(idx, e.Personal, raw.Personal); err != nil {
						return err
					}
				}
				if e.Kind == tlog.KindLogContinued {
					// The tree of size idx is the one the frontier holds now.
					if era, err := store.CheckContinued(e, hashes); err != nil {
						rep.add(e.Index, "log.continued: %v", err)
					} else {
						eras = append(eras, era)
					}
				}
			}
			hs, err := sumtlog.StoredHashes(idx, data, hashes)
			if err != nil {
				return fmt.Errorf("recompute hashes of entry %d: %w", idx, err)
			}
			hashes.add(hs)
			return nil
		})
		if err == errGap {
			return rep, nil
		}
		if err != nil {
			return nil, err
		}
		if err := compareHashes(ctx, src, rep, hashes, sumtlog.StoredHashIndex(0, start), sumtlog.StoredHashIndex(0, end)); err != nil {
			return nil, err
		}
		// The signed trees of the sizes this chunk reached.
		if err := checkTreeSizes(ctx, src, rep, hashes, cp, start, end); err != nil {
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
	proj.finish()
	if err := commits.done(); err != nil {
		return nil, fmt.Errorf("commitments file: %w", err)
	}
	if err := checkSignatures(ctx, src, rep, eras); err != nil {
		return nil, err
	}
	if err := verifySubjects(ctx, src, rep, chains); err != nil {
		return nil, err
	}
	if err := verifyPersonal(ctx, src, rep, commits); err != nil {
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
func checkTreeSizes(ctx context.Context, src Source, rep *Report, hashes sumtlog.HashReader, latest tlog.Checkpoint, start, end int64) error {
	err := src.Checkpoints(ctx, start, end, func(size int64, root, _ []byte) error {
		if h, err := sumtlog.TreeHash(size, hashes); err != nil || !bytes.Equal(h[:], root) {
			rep.add(size-1, "the signed checkpoint of size %d does not match the tree recomputed from the entries", size)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if latest.Size > start && latest.Size <= end {
		if h, err := sumtlog.TreeHash(latest.Size, hashes); err != nil || h != latest.Root {
			rep.add(-1, "the latest signed checkpoint (size %d) does not match the tree recomputed from the entries", latest.Size)
		}
	}
	return nil
}

// checkSignatures checks every stored checkpoint's signature, under the
// key of its era, and that its size and root are the signed ones (which
// checkTreeSizes compared with the tree).
func checkSignatures(ctx context.Context, src Source, rep *Report, eras []store.LogEra) error {
	logKey, origin := src.LogKey()
	signerOf := func(size int64) (note.Verifier, string) {
		for _, era := range eras {
			if size <= era.Size {
				return era.Verifier, era.Origin
			}
		}
		return logKey, origin
	}
	return src.Checkpoints(ctx, math.MinInt64, math.MaxInt64, func(size int64, root, s []byte) error {
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
		return nil
	})
}

// compareHashes compares the stored hashes [from, to) with the recomputed.
func compareHashes(ctx context.Context, src Source, rep *Report, hashes *hashFrontier, from, to int64) error {
	next := from
	err := src.Hashes(ctx, from, to, func(idx int64, h []byte) error {
		if idx != next {
			rep.add(recordOf(next), "stored hash %d is missing", next)
		}
		next = idx + 1
		if want, ok := hashes.get(idx); ok && !bytes.Equal(h, want[:]) {
			rep.add(recordOf(idx), "stored hash %d differs from the hash recomputed from the entries", idx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if next < to {
		rep.add(recordOf(next), "stored hashes from %d on are missing", next)
	}
	return nil
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

// head is a subject's stored chain head.
type head struct {
	subject string
	idx     int64
	hash    []byte
}

// verifySubjects checks every subject's hash chain, from the links sorted
// by subject and index, and that its stored head is its last entry: a
// merge of the links with the stored heads in the same (byte) order.
func verifySubjects(ctx context.Context, src Source, rep *Report, chains *chainSorter) error {
	// The stored heads are read as a stream beside the links.
	heads, stopHeads := pullHeads(ctx, src)
	defer stopHeads()
	var stored *head // the next stored head, nil at the end
	nstored := 0
	nextHead := func() error {
		h, err, ok := heads()
		if !ok {
			stored = nil
			return nil
		}
		if err != nil {
			return err
		}
		stored = &h
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
	err := chains.each(func(l chainLink) error {
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
	return nil
}

// pullHeads reads src's stored chain heads one at a time: next returns
// ok false at the end, after an error if the read failed.
func pullHeads(ctx context.Context, src Source) (next func() (head, error, bool), stop func()) {
	errStop := errors.New("stop")
	seq := func(yield func(head, error) bool) {
		err := src.SubjectHeads(ctx, func(subject string, idx int64, hash []byte) error {
			if !yield(head{subject, idx, hash}, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			yield(head{}, err)
		}
	}
	return iter.Pull2(iter.Seq2[head, error](seq))
}

func verifyPersonal(ctx context.Context, src Source, rep *Report, commitments *commitFile) error {
	// Personal parts are kept beside the log, and facts' evidence (the
	// personal part of their entries, before v2 leaves) in their own rows
	// (see store.FactPersonalData): each must open its entry's commitment.
	open := func(idx int64, salt, data []byte, unasked, wrong string) (served sumtlog.Hash, err error) {
		c, ok, served, err := commitments.at(idx)
		if err != nil {
			return served, err
		}
		var s [32]byte
		copy(s[:], salt)
		switch {
		case !ok:
			rep.add(idx, "%s", unasked)
		case len(salt) != 32 || !tlog.CheckPersonal(c, s, data):
			rep.add(idx, "%s", wrong)
		}
		return served, nil
	}
	err := src.PersonalParts(ctx, func(idx int64, salt, data []byte) error {
		served, err := open(idx, salt, data, "has a stored personal part but commits to none",
			"its personal part does not open the commitment in the entry")
		if err != nil {
			return err
		}
		// The part the entry was served with (and projected from) must
		// be this one, which opens the commitment.
		if served != sha256.Sum256(data) {
			rep.add(idx, "was read with a personal part other than the stored one that opens its commitment")
			return nil
		}
		return commitments.take(idx)
	})
	if err != nil {
		return err
	}
	err = commitments.untaken(func(idx int64) error {
		rep.add(idx, "was read with a personal part, but none is stored beside the log to open its commitment")
		return nil
	})
	if err != nil {
		return err
	}
	return src.FactEvidence(ctx, func(idx int64, evidence string, salt, data []byte) error {
		if len(salt) > 0 {
			_, err := open(idx, salt, store.FactPersonalData(evidence), "its fact stores evidence but the entry commits to no personal part",
				"its fact's evidence does not open the commitment in the entry")
			return err
		}
		// Since v2 leaves, a fact's evidence is in its entry's personal
		// part (checked above); the row's copy must be the one in it.
		pp, err := tlog.ParsePersonalPart(data)
		if err != nil {
			return nil // a v1 part: only facts' evidence rows, checked above
		}
		var ev struct{ Evidence string }
		if len(pp.Data) > 0 {
			if err := json.Unmarshal(pp.Data, &ev); err != nil {
				rep.add(idx, "its personal part's data is not JSON")
				return nil
			}
		}
		if ev.Evidence != evidence && evidence != "" { // the row's copy may be erased (retention), never changed
			rep.add(idx, "its fact's evidence does not open the commitment in the entry: it differs from the entry's personal part")
		}
		// A commitment without a stored part is an erased personal part: fine.
		return nil
	})
}
