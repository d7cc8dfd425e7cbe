package tlog

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// memTree is an in-memory Merkle tree built with sumtlog.StoredHashes.
type memTree struct {
	leaves [][]byte
	hashes []sumtlog.Hash
}

func (m *memTree) ReadHashes(indexes []int64) ([]sumtlog.Hash, error) {
	out := make([]sumtlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("stored hash %d not in tree of %d hashes", x, len(m.hashes))
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) size() int64 { return int64(len(m.leaves)) }

func (m *memTree) mustAppend(t testing.TB, leaf []byte) {
	t.Helper()
	hs, err := sumtlog.StoredHashes(m.size(), leaf, m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.leaves = append(m.leaves, leaf)
}

func (m *memTree) mustRoot(t testing.TB, size int64) sumtlog.Hash {
	t.Helper()
	h, err := sumtlog.TreeHash(size, m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// memLog is an in-memory Backend: a tree and the checkpoint it serves.
type memLog struct {
	mu         sync.Mutex
	tree       memTree
	checkpoint []byte
}

func (l *memLog) Checkpoint(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpoint, nil
}

func (l *memLog) ReadHashes(ctx context.Context, indexes []int64) ([]sumtlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.ReadHashes(indexes)
}

func (l *memLog) ReadLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if start < 0 || end > l.tree.size() || start > end {
		return nil, fmt.Errorf("leaves [%d,%d) not in tree of size %d", start, end, l.tree.size())
	}
	return l.tree.leaves[start:end], nil
}

// mustEntry returns the encoding of a valid entry with the given index;
// fork changes its payload, to build a different history.
func mustEntry(t testing.TB, index int64, fork string) []byte {
	t.Helper()
	e := exampleEntry(t)
	e.Index = index
	e.Payload = []byte(fmt.Sprintf(`{"n":%d,"fork":%q}`, index, fork))
	b, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newMemLog returns a log of n entries (entries from index forkAt on carry
// the fork label), with a checkpoint for size signed by s.
func newMemLog(t testing.TB, s note.Signer, n, forkAt, size int64, fork string) *memLog {
	t.Helper()
	l := &memLog{}
	for i := int64(0); i < n; i++ {
		label := ""
		if i >= forkAt {
			label = fork
		}
		l.tree.mustAppend(t, mustEntry(t, i, label))
	}
	l.mustSign(t, s, size)
	return l
}

func (l *memLog) mustSign(t testing.TB, s note.Signer, size int64) []byte {
	t.Helper()
	msg, err := SignCheckpoint(s, "", size, l.tree.mustRoot(t, size))
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.checkpoint = msg
	l.mu.Unlock()
	return msg
}
