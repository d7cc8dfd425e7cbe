package web

import (
	"net/http"
	"strconv"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

type consistencyData struct {
	Checkpoint checkpointData
	Old, New   int64
	Asked      bool // both sizes were given
	OldRoot    string
	NewRoot    string
	Proof      []string
	Script     proofScript // what static/logverify.js checks in the browser
}

// ExplorerConsistency proves that the log of size ?old= is a prefix of the
// log of size ?new= (default: the latest checkpoint's size). The page's
// script checks the proof in the browser (static/logverify.js): the new
// root is the signed checkpoint's, or one proved from it (a second proof,
// from size new to the signed size); the old root is one the browser
// verified before, or else the server's, which the page then says.
func (p *Pages) ExplorerConsistency(w http.ResponseWriter, r *http.Request) {
	cpd, cp, err := p.latest(r.Context())
	if err != nil {
		p.error(w, r, err)
		return
	}
	d := consistencyData{Checkpoint: cpd, New: cp.Size}
	q := r.URL.Query()
	if q.Get("old") == "" {
		d.Old = max(1, cp.Size/2)
		p.render(w, r, http.StatusOK, p.newPage(w, r, "consistency", d))
		return
	}
	parse := func(name string, def int64) (int64, error) {
		s := q.Get(name)
		if s == "" {
			return def, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, healthcode.FieldErrorf(name, "must be an integer tree size, not %q", s)
		}
		return v, nil
	}
	if d.Old, err = parse("old", 0); err != nil {
		p.error(w, r, err)
		return
	}
	if d.New, err = parse("new", cp.Size); err != nil {
		p.error(w, r, err)
		return
	}
	hr := p.hashReader(r.Context())
	proof, err := tlog.NewConsistencyProof(hr, cp.Size, d.Old, d.New)
	if err != nil {
		p.error(w, r, err)
		return
	}
	oldRoot, err := sumtlog.TreeHash(d.Old, hr)
	if err != nil {
		p.error(w, r, err)
		return
	}
	newRoot, err := sumtlog.TreeHash(d.New, hr)
	if err != nil {
		p.error(w, r, err)
		return
	}
	d.Asked = true
	d.OldRoot, d.NewRoot = oldRoot.String(), newRoot.String()
	d.Proof = hashStrings(proof.Proof)
	d.Script = cpd.script("consistency")
	d.Script.Old, d.Script.New, d.Script.OldRoot, d.Script.Proof = d.Old, d.New, d.OldRoot, d.Proof
	if d.New < cp.Size {
		up, err := tlog.NewConsistencyProof(hr, cp.Size, d.New, cp.Size)
		if err != nil {
			p.error(w, r, err)
			return
		}
		d.Script.NewRoot, d.Script.NewProof = d.NewRoot, hashStrings(up.Proof)
	}
	p.renderWithScript(w, r, p.newPage(w, r, "consistency", d), "logverify.")
}
