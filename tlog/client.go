package tlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// Errors a Client returns, for errors.Is.
var (
	// ErrNotFound: the log does not have the requested resource (HTTP 404).
	ErrNotFound = errors.New("tlog: not found")
	// ErrInconsistent: two verified checkpoints of one log cannot both be
	// true; the log forked its history. Keep both as evidence.
	ErrInconsistent = errors.New("tlog: checkpoints are inconsistent")
	// ErrRollback: a checkpoint is smaller than one already verified.
	ErrRollback = errors.New("tlog: checkpoint rolled back")
)

// maxResponse bounds any response body a Client reads: a full entry bundle
// of maximum-size entries.
const maxResponse = tileWidth * (2 + MaxEntrySize)

// tileCacheSize bounds the number of authenticated tiles a Client keeps.
const tileCacheSize = 4096

// A Client reads a log served in the C2SP tlog-tiles layout and checks
// everything it reads against checkpoints signed by Verifier.
//
// BaseURL is the log's prefix, the URL the tlog-tiles paths are relative
// to: for a healthcode server, "https://host/log". HTTP nil means
// http.DefaultClient; Origin "" means DefaultOrigin. A Policy, if set, is
// required of every checkpoint the Client accepts: cosignatures of a
// quorum of its witnesses.
//
// A Client caches authenticated tiles in memory; it is safe for concurrent
// use and must not be copied after first use.
type Client struct {
	BaseURL  string
	HTTP     *http.Client
	Verifier note.Verifier
	Origin   string
	Policy   *Policy

	mu    sync.Mutex
	tiles map[tileKey][]byte
}

// tileKey names a cached tile: tiles are cached per tree they were
// authenticated against, so a tile of one fork never stands in for another.
type tileKey struct {
	root sumtlog.Hash
	tile sumtlog.Tile
}

// get fetches path (relative to BaseURL) and returns the body of a 200
// response. A 404 is reported as ErrNotFound.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + "/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("get %s: %w", path, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("get %s: %s", path, resp.Status)
	case len(body) > maxResponse:
		return nil, fmt.Errorf("get %s: response too long", path)
	}
	return body, nil
}

// Checkpoint fetches the log's latest checkpoint and verifies its
// signature and origin, and the Client's Policy if it has one (an error
// wrapping ErrNoQuorum says which cosignatures are missing). It returns
// the checkpoint and the signed note, cosignatures included, which is the
// evidence to keep.
func (c *Client) Checkpoint(ctx context.Context) (Checkpoint, []byte, error) {
	msg, err := c.get(ctx, "checkpoint")
	if err != nil {
		return Checkpoint{}, nil, err
	}
	cp, err := OpenCheckpoint(msg, c.Verifier, c.Origin)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Policy != nil {
		if _, err := c.Policy.Check(msg); err != nil {
			return Checkpoint{}, nil, fmt.Errorf("checkpoint of size %d: %w", cp.Size, err)
		}
	}
	return cp, msg, nil
}

// TileReader returns a sumtlog.TileReader fetching hash tiles from the log,
// for use with sumtlog.TileHashReader(cp.Tree(), ...): that checks the
// tiles against the tree of cp, after which they are kept in the Client's
// cache for that tree.
func (c *Client) TileReader(ctx context.Context, cp Checkpoint) sumtlog.TileReader {
	return &tileReader{c: c, ctx: ctx, root: cp.Root}
}

type tileReader struct {
	c    *Client
	ctx  context.Context
	root sumtlog.Hash
}

func (r *tileReader) Height() int { return TileHeight }

func (r *tileReader) ReadTiles(tiles []sumtlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		if d, ok := r.c.cached(tileKey{r.root, t}); ok {
			data[i] = d
			continue
		}
		d, err := r.c.fetchTile(r.ctx, t)
		if err != nil {
			return nil, err
		}
		if len(d) != t.W*sumtlog.HashSize {
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", tilePath(t), len(d), t.W*sumtlog.HashSize)
		}
		data[i] = d
	}
	return data, nil
}

func (r *tileReader) SaveTiles(tiles []sumtlog.Tile, data [][]byte) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if r.c.tiles == nil || len(r.c.tiles)+len(tiles) > tileCacheSize {
		r.c.tiles = make(map[tileKey][]byte)
	}
	for i, t := range tiles {
		r.c.tiles[tileKey{r.root, t}] = data[i]
	}
}

func (c *Client) cached(k tileKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.tiles[k]
	return d, ok
}

// fetchTile fetches tile t (hash tile or entry bundle). A partial tile
// that is gone (404) is read from its full tile, of which it is a prefix
// (logs may delete partial tiles once the full tile exists). For entry
// bundles the caller trims the full bundle.
func (c *Client) fetchTile(ctx context.Context, t sumtlog.Tile) ([]byte, error) {
	d, err := c.get(ctx, tilePath(t))
	if err == nil || !errors.Is(err, ErrNotFound) || t.W == tileWidth {
		return d, err
	}
	full := t
	full.W = tileWidth
	d, err2 := c.get(ctx, tilePath(full))
	if err2 != nil {
		return nil, err // the partial tile's error
	}
	if t.L >= 0 && len(d) >= t.W*sumtlog.HashSize {
		d = d[:t.W*sumtlog.HashSize]
	}
	return d, nil
}

// Leaf returns the encoded entry at index of the tree of cp, read from its
// entry bundle. The leaf is not yet proven: see ProveInclusion.
func (c *Client) Leaf(ctx context.Context, index int64, cp Checkpoint) ([]byte, error) {
	if index < 0 || index >= cp.Size {
		return nil, fmt.Errorf("leaf %d is not in a tree of size %d", index, cp.Size)
	}
	t := sumtlog.Tile{H: TileHeight, L: -1, N: index / tileWidth, W: tileWidth}
	if end := cp.Size - t.N*tileWidth; end < tileWidth {
		t.W = int(end)
	}
	data, err := c.fetchTile(ctx, t)
	if err != nil {
		return nil, err
	}
	leaves, err := parseEntryBundle(data)
	if err != nil {
		return nil, fmt.Errorf("entry bundle %s: %w", tilePath(t), err)
	}
	if len(leaves) < t.W || len(leaves) > tileWidth {
		return nil, fmt.Errorf("entry bundle %s: %d entries, want %d", tilePath(t), len(leaves), t.W)
	}
	return leaves[index%tileWidth], nil
}

// parseEntryBundle splits a C2SP entry bundle into its entries.
func parseEntryBundle(data []byte) ([][]byte, error) {
	var leaves [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("truncated length")
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, errors.New("truncated entry")
		}
		leaves = append(leaves, data[:n:n])
		data = data[n:]
	}
	return leaves, nil
}

// ProveInclusion fetches the entry at index and proves, from the log's
// tiles, that it is in the tree of the verified checkpoint cp. It returns
// the parsed entry only if the proof checks.
func (c *Client) ProveInclusion(ctx context.Context, index int64, cp Checkpoint) (*Entry, error) {
	leaf, err := c.Leaf(ctx, index, cp)
	if err != nil {
		return nil, err
	}
	hr := sumtlog.TileHashReader(cp.Tree(), c.TileReader(ctx, cp))
	proof, err := sumtlog.ProveRecord(cp.Size, index, hr)
	if err != nil {
		return nil, fmt.Errorf("prove entry %d in tree of size %d: %w", index, cp.Size, err)
	}
	if err := sumtlog.CheckRecord(proof, cp.Size, cp.Root, index, sumtlog.RecordHash(leaf)); err != nil {
		return nil, fmt.Errorf("entry %d is not in the tree of size %d: %w", index, cp.Size, err)
	}
	e, err := ParseEntry(leaf)
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", index, err)
	}
	if e.Index != index {
		return nil, fmt.Errorf("entry %d: says it is entry %d", index, e.Index)
	}
	return e, nil
}

// CheckConsistency proves, from the log's tiles, that the tree of old is a
// prefix of the tree of new. Both must be verified checkpoints. It returns
// an error wrapping ErrRollback if old is larger than new, and one wrapping
// ErrInconsistent if the two cannot both be true.
func (c *Client) CheckConsistency(ctx context.Context, old, new Checkpoint) error {
	switch {
	case old.Size > new.Size:
		return fmt.Errorf("%w: size %d after size %d", ErrRollback, new.Size, old.Size)
	case old.Size == new.Size:
		if old.Root != new.Root {
			return fmt.Errorf("%w: two roots for size %d", ErrInconsistent, old.Size)
		}
		return nil
	case old.Size == 0:
		empty, err := sumtlog.TreeHash(0, nil)
		if err != nil || old.Root != empty {
			return fmt.Errorf("%w: bad root for the empty tree", ErrInconsistent)
		}
		return nil
	}
	hr := sumtlog.TileHashReader(new.Tree(), c.TileReader(ctx, new))
	proof, err := sumtlog.ProveTree(new.Size, old.Size, hr)
	if err != nil {
		return fmt.Errorf("prove size %d is a prefix of size %d: %w", old.Size, new.Size, err)
	}
	if err := sumtlog.CheckTree(proof, new.Size, new.Root, old.Size, old.Root); err != nil {
		return fmt.Errorf("%w: size %d is not a prefix of size %d: %v", ErrInconsistent, old.Size, new.Size, err)
	}
	return nil
}
