package web

import (
	"context"
	"net/http"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// The log explorer lists explorerPageSize entries at a time; filtering by
// kind, it reads explorerChunk leaves at a time and at most
// explorerMaxScan per page.
const (
	explorerPageSize = 25
	explorerChunk    = 500
	explorerMaxScan  = 5000
)

type checkpointData struct {
	Signed string // the signed checkpoint note, as served at /log/checkpoint
	Origin string
	Size   int64
	Root   string
	Key    string // the log's verifier key
	// Witnesses are the verifier keys of the server's witness policy and
	// Quorum how many of them must have cosigned Signed; none without
	// witnessing.
	Witnesses []string
	Quorum    int
}

// script is the part of a page's proofScript that is the checkpoint's.
func (c checkpointData) script(kind string) proofScript {
	ws := c.Witnesses
	if ws == nil {
		ws = []string{}
	}
	return proofScript{Kind: kind, Key: c.Key, Origin: c.Origin, Checkpoint: c.Signed, Witnesses: ws, Quorum: c.Quorum}
}

type explorerData struct {
	Checkpoint checkpointData
	Entries    []*tlog.Entry // newest first
	Newer      int64         // "before" of the newer page; 0 if this is the newest
	Older      int64         // "before" of the older page; 0 if none
	Kind       tlog.Kind     // the kind listed, or "" for all
	Kinds      []tlog.Kind   // every kind, for the filter
	Scanned    int64         // entries read for this page
	Script     proofScript   // the checkpoint, for static/logverify.js
}

// latest reads the log's signed checkpoint and verifies it with the log's
// key: pages show only what the signature covers. With witnessing it is
// the newest checkpoint whose cosignatures met the witness policy, as
// /log/checkpoint serves it (the latest while none has: the page's script
// then says that it lacks them), so that the page's proofs are against a
// checkpoint the witnesses vouch for, not one only the server signed.
func (p *Pages) latest(ctx context.Context) (checkpointData, tlog.Checkpoint, error) {
	var signed []byte
	var ws []string
	quorum := 0
	policy := p.opts.Witnesses()
	if policy != nil {
		var err error
		if signed, _, err = p.db.LogWitnessed(ctx); err != nil {
			return checkpointData{}, tlog.Checkpoint{}, err
		}
		for _, w := range policy.Witnesses {
			ws = append(ws, w.VKey)
		}
		quorum = policy.Quorum
	}
	if signed == nil {
		var err error
		if signed, err = p.db.LogCheckpoint(ctx); err != nil {
			return checkpointData{}, tlog.Checkpoint{}, err
		}
	}
	v, err := note.NewVerifier(p.db.LogVerifierKey())
	if err != nil {
		return checkpointData{}, tlog.Checkpoint{}, err
	}
	cp, err := tlog.OpenCheckpoint(signed, v, p.db.LogOrigin())
	if err != nil {
		return checkpointData{}, tlog.Checkpoint{}, err
	}
	return checkpointData{Signed: string(signed), Origin: cp.Origin, Size: cp.Size, Root: cp.Root.String(), Key: p.db.LogVerifierKey(), Witnesses: ws, Quorum: quorum}, cp, nil
}

// Explorer is the public log explorer: the latest checkpoint and the
// entries, newest first, a page at a time (?before=N lists the entries
// below index N). ?kind=K lists only entries of kind K, scanning at most
// explorerMaxScan entries per page.
func (p *Pages) Explorer(w http.ResponseWriter, r *http.Request) {
	cpd, cp, err := p.latest(r.Context())
	if err != nil {
		p.error(w, r, err)
		return
	}
	q := r.URL.Query()
	before := cp.Size
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			p.error(w, r, healthcode.FieldErrorf("before", "must be a positive entry index, not %q", s))
			return
		}
		before = min(n, cp.Size)
	}
	d := explorerData{Checkpoint: cpd, Kinds: tlog.Kinds(), Kind: tlog.Kind(q.Get("kind")),
		Script: cpd.script("checkpoint")}
	d.Script.Proof = []string{}
	if d.Kind != "" && !d.Kind.Valid() {
		p.error(w, r, healthcode.FieldErrorf("kind", "unknown entry kind %q", d.Kind))
		return
	}
	// Read back from before in chunks until a page is full (or, for a
	// kind, the scan limit is reached).
	start := before
	for start > 0 && len(d.Entries) < explorerPageSize && before-start < explorerMaxScan {
		from := max(0, start-explorerChunk)
		if d.Kind == "" {
			from = max(0, start-int64(explorerPageSize-len(d.Entries)))
		}
		leaves, err := p.db.ReadLeaves(r.Context(), from, start)
		if err != nil {
			p.error(w, r, err)
			return
		}
		for i := len(leaves) - 1; i >= 0 && len(d.Entries) < explorerPageSize; i-- {
			e, err := tlog.ParseEntry(leaves[i])
			if err != nil {
				p.error(w, r, err)
				return
			}
			start = from + int64(i)
			if d.Kind == "" || e.Kind == d.Kind {
				d.Entries = append(d.Entries, e)
			}
		}
		if len(d.Entries) < explorerPageSize {
			start = from
		}
	}
	d.Scanned = before - start
	if before < cp.Size {
		d.Newer = min(before+explorerPageSize, cp.Size)
		if d.Kind != "" {
			d.Newer = cp.Size // back to the newest: a kind's pages are not known in advance
		}
	}
	if start > 0 {
		d.Older = start
	}
	p.renderWithScript(w, r, p.newPage(w, r, "explorer", d), "logverify.")
}

// proofScript is a log page's data for static/logverify.js, as JSON in
// the page: the signed checkpoint and the log key the page delivers (the
// script pins the key on first use), and the inclusion (Index, Leaf) or
// consistency (Old, New, OldRoot) proof; the explorer's list has only the
// checkpoint (kind "checkpoint"), which the script checks and remembers.
type proofScript struct {
	Kind       string `json:"kind"` // "inclusion", "consistency" or "checkpoint"
	Key        string `json:"key"`
	Origin     string `json:"origin"`
	Checkpoint string `json:"checkpoint"`
	// Witnesses and Quorum are the witness policy the script pins beside
	// the log key and requires of Checkpoint (none: not witnessed).
	Witnesses []string `json:"witnesses"`
	Quorum    int      `json:"quorum"`
	Index     int64    `json:"index"`
	Leaf      string   `json:"leaf,omitempty"`
	Old       int64    `json:"old,omitempty"`
	New       int64    `json:"new,omitempty"`
	OldRoot   string   `json:"old_root,omitempty"`
	Proof     []string `json:"proof"`
	// NewRoot and NewProof, when New is below the checkpoint's size, prove
	// the server's root of size New from the signed one.
	NewRoot  string   `json:"new_root,omitempty"`
	NewProof []string `json:"new_proof,omitempty"`
}

// hashStrings are hashes in base64, never nil.
func hashStrings(hs []sumtlog.Hash) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.String())
	}
	return out
}

// renderWithScript renders a page with the messages of its script, those
// whose keys start with prefix.
func (p *Pages) renderWithScript(w http.ResponseWriter, r *http.Request, pg *page, prefix string) {
	msgs, err := scriptMessages(pg.Lang, prefix)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	pg.Messages = msgs
	p.render(w, r, http.StatusOK, pg)
}

func (p *Pages) hashReader(ctx context.Context) sumtlog.HashReader {
	return sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) { return p.db.ReadHashes(ctx, idx) })
}

// ExplorerGoto sends the "go to entry" form to the entry's page.
func (p *Pages) ExplorerGoto(w http.ResponseWriter, r *http.Request) {
	s := r.URL.Query().Get("index")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		p.error(w, r, healthcode.FieldErrorf("index", "must be a non-negative integer, not %q", s))
		return
	}
	http.Redirect(w, r, "/explorer/entries/"+strconv.FormatInt(n, 10), http.StatusSeeOther)
}
