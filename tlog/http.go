package tlog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/healthcode/healthcode"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// Backend is what the HTTP handler needs from the store.
type Backend interface {
	// Checkpoint returns the latest signed checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	// ReadHashes returns stored hashes by stored-hash index (see
	// sumtlog.StoredHashIndex), one per index, in order.
	ReadHashes(ctx context.Context, indexes []int64) ([]sumtlog.Hash, error)
	// ReadLeaves returns the encoded entries with indexes in [start, end).
	ReadLeaves(ctx context.Context, start, end int64) ([][]byte, error)
}

// Cache-Control values, per C2SP tlog-tiles: the checkpoint is mutable
// and may not be cached beyond a few seconds, so every read revalidates
// it (a checkpoint gains witness cosignatures as well as size); a tile or
// entry bundle path names bytes that never change (a partial one names its
// width), so tiles are long-lived. A full tile is immutable for good; a
// partial one is superseded by the full tile once 256 entries fill it (and
// the spec lets a log stop serving it then), so caches keep it a day
// rather than a year.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cachePartial    = "public, max-age=86400"
	cacheCheckpoint = "no-cache"
)

// Handler serves a log read-only in the C2SP tlog-tiles layout under the
// prefix /log/:
//
//	GET /log/checkpoint                  latest signed checkpoint
//	GET /log/tile/{L}/{N}[.p/{W}]        hash tiles, height 8
//	GET /log/tile/entries/{N}[.p/{W}]    entry bundles
//
// Mount it with mux.Handle("GET /log/", h). Tiles beyond the size of the
// backend's current checkpoint are 404. Full tiles and bundles are served
// as immutable, partial ones for a day, the checkpoint as no-cache. Errors are JSON:
// {"error":{"code":"not_found","message":"..."}}.
type Handler struct {
	Backend Backend
	Logger  *slog.Logger // for internal errors; nil means slog.Default()
}

// NewHandler returns a Handler serving b.
func NewHandler(b Backend) *Handler { return &Handler{Backend: b} }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, healthcode.EINVALID, "method not allowed")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/log/")
	switch {
	case !ok:
		h.fail(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no such log resource"))
	case rest == "checkpoint":
		h.serveCheckpoint(w, r)
	case strings.HasPrefix(rest, "tile/"):
		t, ok := parseTilePath(strings.TrimPrefix(rest, "tile/"))
		if !ok {
			h.fail(w, r, healthcode.Errorf(healthcode.EINVALID, "malformed tile path %q", rest))
			return
		}
		h.serveTile(w, r, t)
	default:
		h.fail(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no such log resource"))
	}
}

func (h *Handler) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	msg, err := h.Backend.Checkpoint(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("read checkpoint: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cacheCheckpoint)
	w.Write(msg)
}

func (h *Handler) serveTile(w http.ResponseWriter, r *http.Request, t sumtlog.Tile) {
	ctx := r.Context()
	msg, err := h.Backend.Checkpoint(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("read checkpoint: %w", err))
		return
	}
	cp, err := unverifiedCheckpoint(msg)
	if err != nil {
		h.fail(w, r, fmt.Errorf("parse own checkpoint: %w", err))
		return
	}
	// count is the number of hashes at the tile's level (of entries, for
	// bundles) in the tree of the checkpoint's size.
	count := cp.Size
	if t.L > 0 {
		count = cp.Size >> uint(TileHeight*t.L)
	}
	if t.N > count/tileWidth || t.N*tileWidth+int64(t.W) > count {
		h.fail(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "tile %s is beyond the log's size %d", tilePath(t), cp.Size))
		return
	}
	var data []byte
	if t.L == -1 {
		data, err = h.entryBundle(ctx, t)
	} else {
		data, err = sumtlog.ReadTileData(t, sumtlog.HashReaderFunc(func(indexes []int64) ([]sumtlog.Hash, error) {
			return h.Backend.ReadHashes(ctx, indexes)
		}))
		if err == nil && len(data) != t.W*sumtlog.HashSize {
			err = fmt.Errorf("tile %s has %d bytes, want %d", tilePath(t), len(data), t.W*sumtlog.HashSize)
		}
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("read %s: %w", tilePath(t), err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.W == tileWidth {
		w.Header().Set("Cache-Control", cacheImmutable)
	} else {
		w.Header().Set("Cache-Control", cachePartial)
	}
	w.Write(data)
}

// entryBundle reads the entries of tile t and encodes them as a C2SP entry
// bundle: each entry as a big-endian uint16 length and its bytes.
func (h *Handler) entryBundle(ctx context.Context, t sumtlog.Tile) ([]byte, error) {
	start := t.N * tileWidth
	leaves, err := h.Backend.ReadLeaves(ctx, start, start+int64(t.W))
	if err != nil {
		return nil, err
	}
	if len(leaves) != t.W {
		return nil, fmt.Errorf("backend returned %d entries, want %d", len(leaves), t.W)
	}
	var b []byte
	for i, leaf := range leaves {
		if len(leaf) > MaxEntrySize {
			return nil, fmt.Errorf("entry %d is %d bytes, more than %d", start+int64(i), len(leaf), MaxEntrySize)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(leaf)))
		b = append(b, leaf...)
	}
	return b, nil
}

// fail writes err as a JSON error, logging internal errors.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := healthcode.ErrorCode(err)
	status := statusOf(code)
	if status >= 500 {
		logger := h.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.ErrorContext(r.Context(), "log request failed", "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(healthcode.RetryAfterSeconds(err)))
	}
	writeError(w, status, code, healthcode.ErrorMessage(err))
}

// statusOf maps an error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case healthcode.EINVALID:
		return http.StatusBadRequest
	case healthcode.ENOTFOUND:
		return http.StatusNotFound
	case healthcode.EFORBIDDEN:
		return http.StatusForbidden
	case healthcode.EUNAUTH:
		return http.StatusUnauthorized
	case healthcode.ECONFLICT:
		return http.StatusConflict
	case healthcode.ETOOMANY:
		return http.StatusTooManyRequests
	case healthcode.EUNAVAIL:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{code, message}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
