package tlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// vectorSizes are the tree sizes of testdata/vectors.json.
var vectorSizes = []int64{0, 1, 2, 3, 4, 7, 8, 96, 871, 1000, 1024}

// vectorTree is one tree of testdata/vectors.json, with leaves
// fmt.Sprintf("leaf %d", i).
type vectorTree struct {
	Size        int64              `json:"size"`
	Root        sumtlog.Hash       `json:"root"`
	Inclusion   []InclusionProof   `json:"inclusion"`
	Consistency []ConsistencyProof `json:"consistency"`
}

func vectorLeaf(i int64) []byte { return []byte(fmt.Sprintf("leaf %d", i)) }

// mustVectors computes the vectors with x/mod.
func mustVectors(t *testing.T) []vectorTree {
	t.Helper()
	var tree memTree
	max := vectorSizes[len(vectorSizes)-1]
	for i := int64(0); i < max; i++ {
		tree.mustAppend(t, vectorLeaf(i))
	}
	var out []vectorTree
	for _, size := range vectorSizes {
		v := vectorTree{Size: size, Root: tree.mustRoot(t, size), Inclusion: []InclusionProof{}, Consistency: []ConsistencyProof{}}
		seen := map[int64]bool{}
		for _, index := range []int64{0, 1, size / 2, size - 2, size - 1} {
			if index < 0 || index >= size || seen[index] {
				continue
			}
			seen[index] = true
			p, err := NewInclusionProof(&tree, max, index, size)
			if err != nil {
				t.Fatal(err)
			}
			v.Inclusion = append(v.Inclusion, *p)
		}
		for _, old := range vectorSizes {
			if old < 1 || old > size {
				continue
			}
			p, err := NewConsistencyProof(&tree, max, old, size)
			if err != nil {
				t.Fatal(err)
			}
			v.Consistency = append(v.Consistency, *p)
		}
		out = append(out, v)
	}
	return out
}

func TestVectors(t *testing.T) {
	file := filepath.Join("testdata", "vectors.json")
	got := mustVectors(t)
	if *update {
		b, err := json.MarshalIndent(got, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want []vectorTree
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("vectors differ from %s (-want +got):\n%s", file, diff)
	}

	roots := map[int64]sumtlog.Hash{}
	for _, v := range want {
		roots[v.Size] = v.Root
	}
	if empty, _ := sumtlog.TreeHash(0, nil); roots[0] != empty {
		t.Errorf("root of the empty tree = %v, want SHA-256 of nothing %v", roots[0], empty)
	}
	if roots[1] != sumtlog.RecordHash(vectorLeaf(0)) {
		t.Errorf("root of size 1 is not the leaf hash")
	}
	for _, v := range want {
		for _, p := range v.Inclusion {
			leaf := sumtlog.RecordHash(vectorLeaf(p.Index))
			if err := p.Verify(v.Root, leaf); err != nil {
				t.Errorf("size %d: inclusion of %d: %v", v.Size, p.Index, err)
			}
			if p.Verify(flip(v.Root, 0), leaf) == nil {
				t.Errorf("size %d: inclusion of %d accepted a flipped root", v.Size, p.Index)
			}
			if p.Verify(v.Root, flip(leaf, 255)) == nil {
				t.Errorf("size %d: inclusion of %d accepted a flipped leaf", v.Size, p.Index)
			}
			for i := range p.Proof {
				q := p
				q.Proof = append([]sumtlog.Hash(nil), p.Proof...)
				q.Proof[i] = flip(q.Proof[i], 8*i+3)
				if q.Verify(v.Root, leaf) == nil {
					t.Errorf("size %d: inclusion of %d accepted flipped proof hash %d", v.Size, p.Index, i)
				}
			}
		}
		for _, p := range v.Consistency {
			if err := p.Verify(roots[p.Old], v.Root); err != nil {
				t.Errorf("consistency %d→%d: %v", p.Old, p.New, err)
			}
			if p.Verify(flip(roots[p.Old], 1), v.Root) == nil {
				t.Errorf("consistency %d→%d accepted a flipped old root", p.Old, p.New)
			}
			if p.Verify(roots[p.Old], flip(v.Root, 2)) == nil {
				t.Errorf("consistency %d→%d accepted a flipped new root", p.Old, p.New)
			}
			for i := range p.Proof {
				q := p
				q.Proof = append([]sumtlog.Hash(nil), p.Proof...)
				q.Proof[i] = flip(q.Proof[i], 8*i+5)
				if q.Verify(roots[p.Old], v.Root) == nil {
					t.Errorf("consistency %d→%d accepted flipped proof hash %d", p.Old, p.New, i)
				}
			}
		}
	}
}

// flip returns h with bit i (mod 256) inverted.
func flip(h sumtlog.Hash, i int) sumtlog.Hash {
	i %= 8 * sumtlog.HashSize
	h[i/8] ^= 1 << (i % 8)
	return h
}
