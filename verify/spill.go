package verify

// What log verify keeps while it streams the entries, in memory that does
// not grow with the log: the stored hashes the tree still needs (a chunk
// and its left frontier), the personal commitments (a file indexed by
// entry) and the per-subject hash chains (sorted runs on disk, merged by
// subject at the end).

import (
	"bufio"
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// hashFrontier is a tlog.HashReader over the stored hashes recomputed so
// far that the tree can still need: those of the current chunk of entries
// and, from before it, the roots of the complete subtrees of the tree of
// the entries before the chunk (at most 63). Every later record's stored
// hashes and every tree hash of a size at or after the chunk's start read
// only these.
type hashFrontier struct {
	base  int64          // stored-hash index of chunk[0]
	chunk []sumtlog.Hash // hashes from base on
	left  map[int64]sumtlog.Hash
}

func (f *hashFrontier) get(x int64) (sumtlog.Hash, bool) {
	if x >= f.base && x-f.base < int64(len(f.chunk)) {
		return f.chunk[x-f.base], true
	}
	h, ok := f.left[x]
	return h, ok
}

// ReadHashes implements tlog.HashReader.
func (f *hashFrontier) ReadHashes(idx []int64) ([]sumtlog.Hash, error) {
	out := make([]sumtlog.Hash, len(idx))
	for i, x := range idx {
		h, ok := f.get(x)
		if !ok {
			return nil, fmt.Errorf("hash %d not computed or no longer held", x)
		}
		out[i] = h
	}
	return out, nil
}

// add appends the stored hashes of the next record.
func (f *hashFrontier) add(hs []sumtlog.Hash) { f.chunk = append(f.chunk, hs...) }

// advance starts a new chunk after n records, keeping only the roots of
// the complete subtrees of the tree of size n.
func (f *hashFrontier) advance(n int64) error {
	left := make(map[int64]sumtlog.Hash, 64)
	for level := 0; level < 63 && n>>level > 0; level++ {
		if n>>level&1 == 0 {
			continue
		}
		x := sumtlog.StoredHashIndex(level, n>>level-1)
		h, ok := f.get(x)
		if !ok {
			return fmt.Errorf("frontier hash %d of tree size %d not computed", x, n)
		}
		left[x] = h
	}
	f.left, f.base, f.chunk = left, sumtlog.StoredHashIndex(0, n), f.chunk[:0]
	return nil
}

// commitFile holds, for each entry, its personal commitment and the
// SHA-256 of the personal part served with it (zero: none), a record of
// commitRecord bytes at commitRecord×index, in a temporary file: the
// personal parts stored beside the log are checked against both after
// the entries are read.
type commitFile struct {
	f *os.File
	w *bufio.Writer
	n int64 // entries written
}

const commitRecord = 2 * sumtlog.HashSize

func newCommitFile(dir string) (*commitFile, error) {
	f, err := os.Create(filepath.Join(dir, "commitments"))
	if err != nil {
		return nil, fmt.Errorf("commitments file: %w", err)
	}
	return &commitFile{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// add records entry idx's commitment h and the personal part served with
// it (nil: none); entries come in index order.
func (c *commitFile) add(idx int64, h sumtlog.Hash, served []byte) error {
	for ; c.n < idx; c.n++ { // an entry that did not parse commits to nothing
		if _, err := c.w.Write(make([]byte, commitRecord)); err != nil {
			return err
		}
	}
	c.n++
	var d sumtlog.Hash
	if len(served) > 0 {
		d = sha256.Sum256(served)
	}
	if _, err := c.w.Write(h[:]); err != nil {
		return err
	}
	_, err := c.w.Write(d[:])
	return err
}

// done ends the writing.
func (c *commitFile) done() error { return c.w.Flush() }

// at is entry idx's commitment, whether it has one, and the SHA-256 of
// the personal part served with it (zero: none, or taken).
func (c *commitFile) at(idx int64) (h sumtlog.Hash, ok bool, served sumtlog.Hash, err error) {
	if idx < 0 || idx >= c.n {
		return h, false, served, nil
	}
	var rec [commitRecord]byte
	if _, err := c.f.ReadAt(rec[:], idx*commitRecord); err != nil {
		return h, false, served, fmt.Errorf("read commitment %d: %w", idx, err)
	}
	copy(h[:], rec[:sumtlog.HashSize])
	copy(served[:], rec[sumtlog.HashSize:])
	return h, h != (sumtlog.Hash{}), served, nil
}

// take marks the personal part served with entry idx as matched by a
// stored one.
func (c *commitFile) take(idx int64) error {
	if _, err := c.f.WriteAt(make([]byte, sumtlog.HashSize), idx*commitRecord+sumtlog.HashSize); err != nil {
		return fmt.Errorf("write commitment %d: %w", idx, err)
	}
	return nil
}

// untaken hands f, in index order, every entry served with a personal
// part that take has not marked.
func (c *commitFile) untaken(f func(idx int64) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(c.f, 0, c.n*commitRecord), 1<<16)
	var rec [commitRecord]byte
	for idx := int64(0); idx < c.n; idx++ {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return fmt.Errorf("read commitment %d: %w", idx, err)
		}
		if [sumtlog.HashSize]byte(rec[sumtlog.HashSize:]) != (sumtlog.Hash{}) {
			if err := f(idx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *commitFile) close() error { return c.f.Close() }

// A chainLink is one entry about a subject: its index, its record hash
// and the prev hash it carries.
type chainLink struct {
	subject    string
	idx        int64
	hash, prev sumtlog.Hash
	// restart: a log.erased entry with no prev, which starts the erased
	// resident's chain anew.
	restart bool
}

// chainSorter gathers the chain links of every entry, in index order, and
// gives them back sorted by subject and then index, holding at most
// runSize in memory: each full run is sorted and written to a file of its
// own, and the runs are merged at the end.
type chainSorter struct {
	dir     string
	runSize int
	buf     []chainLink
	runs    []string
}

func (s *chainSorter) add(l chainLink) error {
	s.buf = append(s.buf, l)
	if len(s.buf) >= s.runSize {
		return s.spill()
	}
	return nil
}

// spill writes the links held as one sorted run. Links come in index
// order, so a stable sort by subject leaves each subject's in index order.
func (s *chainSorter) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.SortStableFunc(s.buf, func(a, b chainLink) int { return cmp.Compare(a.subject, b.subject) })
	name := filepath.Join(s.dir, fmt.Sprintf("chains-%d", len(s.runs)))
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("chain run: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	var rec []byte
	for _, l := range s.buf {
		rec = binary.AppendUvarint(rec[:0], uint64(len(l.subject)))
		rec = append(rec, l.subject...)
		rec = binary.BigEndian.AppendUint64(rec, uint64(l.idx))
		rec = append(append(rec, l.hash[:]...), l.prev[:]...)
		restart := byte(0)
		if l.restart {
			restart = 1
		}
		rec = append(rec, restart)
		if _, err := w.Write(rec); err != nil {
			return errors.Join(fmt.Errorf("chain run: %w", err), f.Close())
		}
	}
	if err := w.Flush(); err != nil {
		return errors.Join(fmt.Errorf("chain run: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chain run: %w", err)
	}
	s.runs = append(s.runs, name)
	s.buf = s.buf[:0]
	return nil
}

// each hands every link to f, by subject and then index.
func (s *chainSorter) each(f func(chainLink) error) (err error) {
	if err := s.spill(); err != nil {
		return err
	}
	var h runHeap
	for i, name := range s.runs {
		file, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("chain run: %w", err)
		}
		defer func() {
			if cerr := file.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		r := &runReader{r: bufio.NewReaderSize(file, 1<<16), run: i}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, r)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		r := h[0]
		if err := f(r.cur); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// runReader reads one sorted run of links.
type runReader struct {
	r   *bufio.Reader
	run int
	cur chainLink
}

func (r *runReader) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("chain run: %w", err)
	}
	buf := make([]byte, int(n)+8+2*sumtlog.HashSize+1)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return false, fmt.Errorf("chain run: %w", err)
	}
	r.cur.subject = string(buf[:n])
	buf = buf[n:]
	r.cur.idx = int64(binary.BigEndian.Uint64(buf))
	copy(r.cur.hash[:], buf[8:])
	copy(r.cur.prev[:], buf[8+sumtlog.HashSize:])
	r.cur.restart = buf[8+2*sumtlog.HashSize] == 1
	return true, nil
}

// runHeap orders the runs by their current link: subject, then run (an
// earlier run holds earlier entries).
type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := cmp.Compare(h[i].cur.subject, h[j].cur.subject); c != 0 {
		return c < 0
	}
	return h[i].run < h[j].run
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
