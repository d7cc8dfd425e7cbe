package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

type entryData struct {
	Checkpoint checkpointData
	Entry      *tlog.Entry
	Payload    string // indented public payload
	Prev       string // the subject's previous entry's leaf hash, if any
	Personal   string // commitment to the personal part, if any; the part itself is never shown
	Leaf       string
	LeafHash   string
	Proof      []string    // inclusion proof hashes
	Script     proofScript // what static/logverify.js checks in the browser
}

// ExplorerEntry shows one log entry decoded: its fields and public
// payload, the leaf and its hash, and its inclusion proof in the latest
// checkpoint. The page does not say the proof holds: its script checks the
// checkpoint's signature against the log key pinned in the browser and the
// proof against the signed root (static/logverify.js). Personal data is
// never in a leaf, only a commitment to it.
func (p *Pages) ExplorerEntry(w http.ResponseWriter, r *http.Request) {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		p.error(w, r, healthcode.FieldErrorf("index", "must be a non-negative integer, not %q", r.PathValue("index")))
		return
	}
	cpd, cp, err := p.latest(r.Context())
	if err != nil {
		p.error(w, r, err)
		return
	}
	if index >= cp.Size {
		if len(cpd.Witnesses) > 0 {
			p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "entry %d is beyond the witnessed checkpoint's size %d: the witnesses cosign new entries within about a minute", index, cp.Size))
			return
		}
		p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "entry %d is beyond the log's size %d", index, cp.Size))
		return
	}
	leaves, err := p.db.ReadLeaves(r.Context(), index, index+1)
	if err != nil {
		p.error(w, r, err)
		return
	}
	e, err := tlog.ParseEntry(leaves[0])
	if err != nil {
		p.error(w, r, err)
		return
	}
	proof, err := tlog.NewInclusionProof(p.hashReader(r.Context()), cp.Size, index, cp.Size)
	if err != nil {
		p.error(w, r, err)
		return
	}
	leafHash := sumtlog.RecordHash(leaves[0])
	d := entryData{
		Checkpoint: cpd,
		Entry:      e,
		Leaf:       string(leaves[0]),
		LeafHash:   leafHash.String(),
	}
	if len(e.Payload) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, e.Payload, "", "  ") == nil {
			d.Payload = buf.String()
		}
	}
	if e.Prev != (sumtlog.Hash{}) {
		d.Prev = e.Prev.String()
	}
	if e.Personal != (sumtlog.Hash{}) {
		d.Personal = e.Personal.String()
	}
	d.Proof = hashStrings(proof.Proof)
	d.Script = cpd.script("inclusion")
	d.Script.Index, d.Script.Leaf, d.Script.Proof = index, d.Leaf, d.Proof
	p.renderWithScript(w, r, p.newPage(w, r, "entry", d), "logverify.")
}
