package store

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/tlog"
)

// checkContinued accepts only a citation of the old log's checkpoint of
// the entry's own index, signed by the old key, with the tree's root.
func TestCheckContinued(t *testing.T) {
	var hashes []sumtlog.Hash
	reader := sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) {
		out := make([]sumtlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := int64(0); i < 5; i++ {
		hs, err := sumtlog.StoredHashes(i, []byte(fmt.Sprintf("leaf %d", i)), reader)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	const oldOrigin = "healthcode.local/log"
	skey, vkey, err := tlog.GenerateKey(rand.Reader, oldOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	otherS, otherV, _ := tlog.GenerateKey(rand.Reader, oldOrigin)
	other, _ := note.NewSigner(otherS)
	sign := func(s note.Signer, size int64) string {
		root, err := sumtlog.TreeHash(size, reader)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tlog.SignCheckpoint(s, oldOrigin, size, root)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	entry := func(index int64, key, origin, cp string) *tlog.Entry {
		b, _ := json.Marshal(evLogContinued{FromOrigin: origin, FromKey: key, Checkpoint: cp})
		return &tlog.Entry{Index: index, Kind: tlog.KindLogContinued, Payload: b}
	}
	if era, err := checkContinued(entry(4, vkey, oldOrigin, sign(signer, 4)), reader); err != nil || era.Size != 4 || era.Origin != oldOrigin {
		t.Fatalf("a good citation: %+v, %v", era, err)
	}
	for _, tc := range []struct {
		name string
		e    *tlog.Entry
		want string
	}{
		{"another size", entry(4, vkey, oldOrigin, sign(signer, 3)), "has size 3"},
		{"signed by another key", entry(4, vkey, oldOrigin, sign(other, 4)), "does not verify"},
		{"the other key named", entry(4, otherV, oldOrigin, sign(signer, 4)), "does not verify"},
		{"another origin", entry(4, vkey, "healthcode.local/other", sign(signer, 4)), "does not verify"},
		{"a root not the tree's", entry(4, vkey, oldOrigin, forge(t, signer, oldOrigin)), "root is not the tree's"},
		{"a bad key", entry(4, "nope", oldOrigin, sign(signer, 4)), "from_key"},
	} {
		if _, err := checkContinued(tc.e, reader); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// forge signs a checkpoint of size 4 with a root that is not the tree's.
func forge(t *testing.T, s note.Signer, origin string) string {
	b, err := tlog.SignCheckpoint(s, origin, 4, sumtlog.Hash{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
