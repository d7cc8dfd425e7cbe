package tlog

import (
	"fmt"

	"github.com/healthcode/healthcode"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// InclusionProof proves that the entry at Index is in the tree of size
// Size. Its JSON is {"index":3,"size":8,"proof":["base64",...]}.
type InclusionProof struct {
	Index int64          `json:"index"`
	Size  int64          `json:"size"`
	Proof []sumtlog.Hash `json:"proof"`
}

// ConsistencyProof proves that the tree of size Old is a prefix of the
// tree of size New. Its JSON is {"old":3,"new":8,"proof":["base64",...]}.
type ConsistencyProof struct {
	Old   int64          `json:"old"`
	New   int64          `json:"new"`
	Proof []sumtlog.Hash `json:"proof"`
}

// NewInclusionProof computes the proof that entry index is in the tree of
// the given size, from the stored hashes of a log whose current size is
// current. Bad parameters are *healthcode.Error of code EINVALID naming
// "index" or "size".
func NewInclusionProof(r sumtlog.HashReader, current, index, size int64) (*InclusionProof, error) {
	switch {
	case size < 1:
		return nil, healthcode.FieldErrorf("size", "must be at least 1")
	case size > current:
		return nil, healthcode.FieldErrorf("size", "%d is beyond the log's size %d", size, current)
	case index < 0:
		return nil, healthcode.FieldErrorf("index", "must not be negative")
	case index >= size:
		return nil, healthcode.FieldErrorf("index", "%d is not below the tree size %d", index, size)
	}
	p, err := sumtlog.ProveRecord(size, index, r)
	if err != nil {
		return nil, fmt.Errorf("prove entry %d in tree of size %d: %w", index, size, err)
	}
	return &InclusionProof{Index: index, Size: size, Proof: nonNil(p)}, nil
}

// Verify checks p against the root hash of the tree of size p.Size and the
// leaf hash of the entry (see Entry.LeafHash).
func (p *InclusionProof) Verify(root, leafHash sumtlog.Hash) error {
	return sumtlog.CheckRecord(p.Proof, p.Size, root, p.Index, leafHash)
}

// NewConsistencyProof computes the proof that the tree of size old is a
// prefix of the tree of size new, from the stored hashes of a log whose
// current size is current. Bad parameters are *healthcode.Error of code
// EINVALID naming "old" or "new".
func NewConsistencyProof(r sumtlog.HashReader, current, old, new int64) (*ConsistencyProof, error) {
	switch {
	case old < 1:
		return nil, healthcode.FieldErrorf("old", "must be at least 1")
	case new > current:
		return nil, healthcode.FieldErrorf("new", "%d is beyond the log's size %d", new, current)
	case old > new:
		return nil, healthcode.FieldErrorf("old", "%d is larger than new %d", old, new)
	}
	p, err := sumtlog.ProveTree(new, old, r)
	if err != nil {
		return nil, fmt.Errorf("prove size %d is a prefix of size %d: %w", old, new, err)
	}
	return &ConsistencyProof{Old: old, New: new, Proof: nonNil(p)}, nil
}

// Verify checks p against the root hashes of the trees of sizes p.Old and
// p.New.
func (p *ConsistencyProof) Verify(oldRoot, newRoot sumtlog.Hash) error {
	return sumtlog.CheckTree(p.Proof, p.New, newRoot, p.Old, oldRoot)
}

// nonNil makes an empty proof encode as [] rather than null.
func nonNil(p []sumtlog.Hash) []sumtlog.Hash {
	if p == nil {
		return []sumtlog.Hash{}
	}
	return p
}
