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

// explorerPageSize is how many entries the log explorer lists at a time.
const explorerPageSize = 25

type checkpointData struct {
	Signed string // the signed checkpoint note, as served at /log/checkpoint
	Origin string
	Size   int64
	Root   string
	Key    string // the log's verifier key
}

type explorerData struct {
	Checkpoint checkpointData
	Entries    []*tlog.Entry // newest first
	Newer      int64         // "before" of the newer page; 0 if this is the newest
	Older      int64         // "before" of the older page; 0 if none
}

// latest reads the log's signed checkpoint and verifies it with the log's
// key: pages show only what the signature covers.
func (p *Pages) latest(ctx context.Context) (checkpointData, tlog.Checkpoint, error) {
	signed, err := p.db.LogCheckpoint(ctx)
	if err != nil {
		return checkpointData{}, tlog.Checkpoint{}, err
	}
	v, err := note.NewVerifier(p.db.LogVerifierKey())
	if err != nil {
		return checkpointData{}, tlog.Checkpoint{}, err
	}
	cp, err := tlog.OpenCheckpoint(signed, v, p.db.LogOrigin())
	if err != nil {
		return checkpointData{}, tlog.Checkpoint{}, err
	}
	return checkpointData{Signed: string(signed), Origin: cp.Origin, Size: cp.Size, Root: cp.Root.String(), Key: p.db.LogVerifierKey()}, cp, nil
}

// Explorer is the public log explorer: the latest checkpoint and the
// entries, newest first, a page at a time (?before=N lists the entries
// below index N).
func (p *Pages) Explorer(w http.ResponseWriter, r *http.Request) {
	cpd, cp, err := p.latest(r.Context())
	if err != nil {
		p.error(w, r, err)
		return
	}
	before := cp.Size
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			p.error(w, r, healthcode.FieldErrorf("before", "must be a positive entry index, not %q", s))
			return
		}
		before = min(n, cp.Size)
	}
	d := explorerData{Checkpoint: cpd}
	start := max(0, before-explorerPageSize)
	if before > start {
		leaves, err := p.db.ReadLeaves(r.Context(), start, before)
		if err != nil {
			p.error(w, r, err)
			return
		}
		for i := len(leaves) - 1; i >= 0; i-- {
			e, err := tlog.ParseEntry(leaves[i])
			if err != nil {
				p.error(w, r, err)
				return
			}
			d.Entries = append(d.Entries, e)
		}
	}
	if before < cp.Size {
		d.Newer = min(before+explorerPageSize, cp.Size)
	}
	if start > 0 {
		d.Older = start
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "explorer", d))
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
