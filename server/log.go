package server

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// logBackend adapts the store to the tile handler.
type logBackend struct {
	db         *store.DB
	witnessing *atomic.Pointer[tlog.Policy] // set by StartWitnessing
}

// Checkpoint is the checkpoint /log/checkpoint serves: with witnessing,
// the newest one whose cosignatures met the policy, with them (the latest
// checkpoint while none has); without, the latest. Its errors, like the
// other methods', are described for the client (store.DescribeError): a
// database restarting is a 503 with Retry-After, not a 500.
func (b logBackend) Checkpoint(ctx context.Context) ([]byte, error) {
	if b.witnessing.Load() != nil {
		if msg, _, err := b.db.LogWitnessed(ctx); err != nil || msg != nil {
			return msg, store.DescribeError(err)
		}
	}
	cp, err := b.db.LogCheckpoint(ctx)
	return cp, store.DescribeError(err)
}
func (b logBackend) ReadHashes(ctx context.Context, idx []int64) ([]sumtlog.Hash, error) {
	h, err := b.db.ReadHashes(ctx, idx)
	return h, store.DescribeError(err)
}
func (b logBackend) ReadLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	l, err := b.db.ReadLeaves(ctx, start, end)
	return l, store.DescribeError(err)
}

func (s *Server) handleLogKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write([]byte(s.db.LogVerifierKey() + "\n"))
}

// latest returns the checkpoint /log/checkpoint serves, signed and
// parsed: with witnessing the newest one whose cosignatures met the
// policy, so that the API's proofs are against a checkpoint the witnesses
// vouch for, not one only the server signed.
func (s *Server) latest(ctx context.Context) ([]byte, tlog.Checkpoint, error) {
	signed, err := logBackend{s.db, &s.witnessing}.Checkpoint(ctx)
	if err != nil {
		return nil, tlog.Checkpoint{}, err
	}
	v, err := note.NewVerifier(s.db.LogVerifierKey())
	if err != nil {
		return nil, tlog.Checkpoint{}, err
	}
	cp, err := tlog.OpenCheckpoint(signed, v, s.db.LogOrigin())
	return signed, cp, err
}

func (s *Server) hashReader(ctx context.Context) sumtlog.HashReader {
	return sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) { return s.db.ReadHashes(ctx, idx) })
}

type entryJSON struct {
	Index      int64                `json:"index"`
	Time       string               `json:"time"`
	Kind       string               `json:"kind"`
	Actor      entryActorJSON       `json:"actor"`
	Version    int                  `json:"version"`
	County     string               `json:"county,omitempty"`
	Subject    string               `json:"subject,omitempty"`
	Prev       string               `json:"prev,omitempty"`
	Personal   string               `json:"personal_commitment,omitempty"`
	Payload    any                  `json:"payload"`
	LeafHash   string               `json:"leaf_hash"`
	Leaf       string               `json:"leaf"`
	Inclusion  *tlog.InclusionProof `json:"inclusion"`
	Checkpoint string               `json:"checkpoint"`
}

func (s *Server) handleLogEntry(w http.ResponseWriter, r *http.Request) {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		s.writeError(w, r, healthcode.FieldErrorf("index", "must be a non-negative integer, not %q", r.PathValue("index")))
		return
	}
	signed, cp, err := s.latest(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if index >= cp.Size {
		if s.witnessing.Load() != nil {
			s.writeError(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "entry %d is beyond the witnessed checkpoint's size %d: the witnesses cosign new entries within about a minute", index, cp.Size))
			return
		}
		s.writeError(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "entry %d is beyond the log's size %d", index, cp.Size))
		return
	}
	leaves, err := s.db.ReadLeaves(r.Context(), index, index+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := tlog.ParseEntry(leaves[0])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	proof, err := tlog.NewInclusionProof(s.hashReader(r.Context()), cp.Size, index, cp.Size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := entryJSON{
		Index:      e.Index,
		Time:       e.Time.UTC().Format(tlog.TimeFormat),
		Kind:       string(e.Kind),
		Actor:      entryActorJSON{ID: e.Actor.ID, Kind: e.Actor.Kind, Post: e.Actor.Post},
		Version:    max(e.Version, tlog.V1),
		County:     e.County,
		Subject:    e.Subject,
		Payload:    rawJSON(e.Payload),
		LeafHash:   sumtlog.RecordHash(leaves[0]).String(),
		Leaf:       string(leaves[0]),
		Inclusion:  proof,
		Checkpoint: string(signed),
	}
	if e.Prev != (sumtlog.Hash{}) {
		out.Prev = e.Prev.String()
	}
	if e.Personal != (sumtlog.Hash{}) {
		out.Personal = e.Personal.String()
	}
	writeJSON(w, http.StatusOK, out)
}

type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

func (s *Server) handleLogConsistency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	parse := func(name string) (int64, error) {
		v, err := strconv.ParseInt(q.Get(name), 10, 64)
		if err != nil {
			return 0, healthcode.FieldErrorf(name, "must be an integer tree size, not %q", q.Get(name))
		}
		return v, nil
	}
	oldN, err := parse("old")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	newN, err := parse("new")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	signed, cp, err := s.latest(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := tlog.NewConsistencyProof(s.hashReader(r.Context()), cp.Size, oldN, newN)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, consistencyJSON{Checkpoint: string(signed), New: p.New, Old: p.Old, Proof: p.Proof})
}
