package tlog

import (
	"fmt"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// OwnEntry is one entry about a resident as the resident's client gets
// it: the leaf, the opening of its personal part and the entry's
// inclusion proof in a signed checkpoint. Its JSON is what
// GET /v1/residents/{id}/entries lists.
type OwnEntry struct {
	Index    int64          `json:"index"`
	Leaf     []byte         `json:"leaf"`               // base64 of the leaf data
	Salt     []byte         `json:"salt,omitempty"`     // base64 of the 32-byte salt, or absent
	Personal []byte         `json:"personal,omitempty"` // base64 of the personal part, or absent
	Proof    InclusionProof `json:"proof"`
}

// OwnHead is where a resident's chain ended when their client last
// checked it: the index and leaf hash of their latest entry.
type OwnHead struct {
	Index int64        `json:"index"`
	Hash  sumtlog.Hash `json:"hash"`
}

// An OwnEntryError is a failed check of a resident's entries: Index is
// the entry it concerns (-1: the list as a whole).
type OwnEntryError struct {
	Index int64
	What  string
}

func (e *OwnEntryError) Error() string {
	if e.Index < 0 {
		return "tlog: own entries: " + e.What
	}
	return fmt.Sprintf("tlog: own entries: entry %d: %s", e.Index, e.What)
}

// VerifyOwnEntries checks, offline, the entries a server lists as all
// those about subject, against the signed checkpoint cp (opened by
// OpenCheckpoint, so verified): each entry is in the tree of cp (its
// inclusion proof in that size, against that root), is about subject (a
// v1 leaf's subject line; a v2 leaf's personal part, which must open the
// leaf's commitment with its salt), and links to the one before it (its
// chain link is the previous entry's leaf hash; the first has none, or
// follows an erasure, which starts a chain anew). An entry left out of
// the middle breaks the chain. An entry left out of the end cannot be
// seen from the list alone: seen, the head the client kept from its last
// check (nil: none), must be one of the entries, with the same hash.
// It returns the parsed entries (v2 ones opened: Subject, Prev and the
// whole event in Payload) and the new head.
func VerifyOwnEntries(subject string, cp Checkpoint, entries []OwnEntry, seen *OwnHead) ([]*Entry, OwnHead, error) {
	var (
		out  []*Entry
		prev sumtlog.Hash
		head = OwnHead{Index: -1}
	)
	fail := func(i int64, format string, args ...any) ([]*Entry, OwnHead, error) {
		return nil, OwnHead{}, &OwnEntryError{Index: i, What: fmt.Sprintf(format, args...)}
	}
	sawSeen := seen == nil
	for n, oe := range entries {
		if n > 0 && oe.Index <= entries[n-1].Index {
			return fail(oe.Index, "entries are not in log order")
		}
		leaf := sumtlog.RecordHash(oe.Leaf)
		if oe.Proof.Index != oe.Index || oe.Proof.Size != cp.Size {
			return fail(oe.Index, "the inclusion proof is for entry %d in a tree of size %d, not in the checkpoint's %d", oe.Proof.Index, oe.Proof.Size, cp.Size)
		}
		if err := oe.Proof.Verify(cp.Root, leaf); err != nil {
			return fail(oe.Index, "is not in the log of the signed checkpoint: %v", err)
		}
		e, err := ParseEntry(oe.Leaf)
		if err != nil {
			return fail(oe.Index, "does not parse: %v", err)
		}
		if e.Index != oe.Index {
			return fail(oe.Index, "the leaf says it is entry %d", e.Index)
		}
		if e.V2() {
			if len(oe.Salt) != 32 || !CheckPersonal(e.Personal, [32]byte(oe.Salt), oe.Personal) {
				return fail(oe.Index, "its personal part does not open the commitment in the leaf")
			}
			pp, err := ParsePersonalPart(oe.Personal)
			if err != nil {
				return fail(oe.Index, "%v", err)
			}
			e.Subject, e.Prev = pp.Subject, pp.Prev
			e.OpenActor()
			if len(pp.Event) > 0 {
				e.Payload = pp.Event
			}
		}
		if e.Subject != subject {
			return fail(oe.Index, "is about %q, not %q", e.Subject, subject)
		}
		restart := e.Kind == KindLogErased && e.Prev == (sumtlog.Hash{})
		if e.Prev != prev && !restart {
			if n == 0 {
				return fail(oe.Index, "links to an entry before it that the list leaves out")
			}
			return fail(oe.Index, "does not link to entry %d, the one before it in the list: an entry between them is left out", entries[n-1].Index)
		}
		if seen != nil && oe.Index == seen.Index {
			if leaf != seen.Hash {
				return fail(oe.Index, "is not the entry seen at this index before")
			}
			sawSeen = true
		}
		prev = leaf
		head = OwnHead{Index: oe.Index, Hash: leaf}
		out = append(out, e)
	}
	if !sawSeen {
		return fail(-1, "the latest entry seen before, %d, is left out", seen.Index)
	}
	return out, head, nil
}
