package tlog

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/healthcode/healthcode"
)

func TestProofErrors(t *testing.T) {
	var tree memTree
	for i := int64(0); i < 10; i++ {
		tree.mustAppend(t, vectorLeaf(i))
	}
	inclusion := []struct {
		index, size int64
		field       string
	}{
		{0, 0, "size"},
		{0, 11, "size"},
		{-1, 5, "index"},
		{5, 5, "index"},
		{9, 10, ""},
		{0, 1, ""},
	}
	for _, tt := range inclusion {
		_, err := NewInclusionProof(&tree, 10, tt.index, tt.size)
		checkFieldError(t, err, tt.field, "NewInclusionProof(%d, %d)", tt.index, tt.size)
	}
	consistency := []struct {
		old, new int64
		field    string
	}{
		{0, 5, "old"},
		{6, 5, "old"},
		{5, 11, "new"},
		{5, 5, ""},
		{1, 10, ""},
	}
	for _, tt := range consistency {
		_, err := NewConsistencyProof(&tree, 10, tt.old, tt.new)
		checkFieldError(t, err, tt.field, "NewConsistencyProof(%d, %d)", tt.old, tt.new)
	}
}

func checkFieldError(t *testing.T, err error, field, format string, args ...any) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf(format+": %v", append(args, err)...)
		}
		return
	}
	var e *healthcode.Error
	if !errors.As(err, &e) || e.Code != healthcode.EINVALID || e.Field != field {
		t.Errorf(format+": error %v, want EINVALID on %s", append(args, err, field)...)
	}
}

func TestProofJSON(t *testing.T) {
	var tree memTree
	for i := int64(0); i < 3; i++ {
		tree.mustAppend(t, vectorLeaf(i))
	}
	p, err := NewInclusionProof(&tree, 3, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back InclusionProof
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(tree.mustRoot(t, 3), tree.hashes[len(tree.hashes)-1]); err != nil {
		t.Errorf("decoded proof %s: %v", b, err)
	}
	c, err := NewConsistencyProof(&tree, 3, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(c); string(b) != `{"old":3,"new":3,"proof":[]}` {
		t.Errorf("empty proof JSON = %s", b)
	}
}
