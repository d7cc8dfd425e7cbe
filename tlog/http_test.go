package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	tests := []struct {
		path string
		tile sumtlog.Tile
	}{
		{"0/000", sumtlog.Tile{H: 8, L: 0, N: 0, W: 256}},
		{"0/000.p/1", sumtlog.Tile{H: 8, L: 0, N: 0, W: 1}},
		{"1/999.p/255", sumtlog.Tile{H: 8, L: 1, N: 999, W: 255}},
		{"2/x001/000", sumtlog.Tile{H: 8, L: 2, N: 1000, W: 256}},
		{"0/x001/x234/067", sumtlog.Tile{H: 8, L: 0, N: 1234067, W: 256}},
		{"0/x001/x234/067.p/8", sumtlog.Tile{H: 8, L: 0, N: 1234067, W: 8}},
		{"entries/000", sumtlog.Tile{H: 8, L: -1, N: 0, W: 256}},
		{"entries/x001/234.p/3", sumtlog.Tile{H: 8, L: -1, N: 1234, W: 3}},
		{"63/000", sumtlog.Tile{H: 8, L: 63, N: 0, W: 256}},
		{"0/x009/x223/x372/x036/x854/x775/807", sumtlog.Tile{H: 8, L: 0, N: 1<<63 - 1, W: 256}},
	}
	for _, tt := range tests {
		got, ok := parseTilePath(tt.path)
		if !ok || got != tt.tile {
			t.Errorf("parseTilePath(%q) = %+v, %v, want %+v", tt.path, got, ok, tt.tile)
		}
		if p := tilePath(tt.tile); p != "tile/"+tt.path {
			t.Errorf("tilePath(%+v) = %q, want %q", tt.tile, p, "tile/"+tt.path)
		}
	}
	bad := []string{
		"", "0", "0/", "0/0", "0/00", "0/0000", "0/1234", "0/x000/001", "0/x1/000", "0/001/002",
		"0/x001", "0/000.p/0", "0/000.p/256", "0/000.p/01", "0/000.p/+1", "0/000.p/", "0/000.p",
		"-1/000", "64/000", "01/000", "+1/000", "data/000", "entries/000.p/256", "0/000/", "0//000",
		"0/x009/x223/x372/x036/x854/x775/808", "0/x999/x999/x999/x999/x999/x999/x999/999", "0/00a", "8/0/000",
	}
	for _, p := range bad {
		if tile, ok := parseTilePath(p); ok {
			t.Errorf("parseTilePath(%q) accepted as %+v", p, tile)
		}
	}
}

func TestHandler(t *testing.T) {
	s, _ := mustKeys(t, "")
	const size = 600 // two full tiles and a partial one of 88
	l := newMemLog(t, s, size, size, size, "")
	srv := httptest.NewServer(NewHandler(l))
	defer srv.Close()
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := get("/log/checkpoint")
	if resp.StatusCode != 200 || !bytes.Equal(body, l.checkpoint) || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("checkpoint: %s %q cache %q", resp.Status, body, resp.Header.Get("Cache-Control"))
	}

	hr := sumtlog.HashReaderFunc(l.tree.ReadHashes)
	for _, tt := range []struct {
		path  string
		tile  sumtlog.Tile
		cache string
	}{
		{"/log/tile/0/000", sumtlog.Tile{H: 8, L: 0, N: 0, W: 256}, "public, max-age=31536000, immutable"},
		{"/log/tile/0/001", sumtlog.Tile{H: 8, L: 0, N: 1, W: 256}, "public, max-age=31536000, immutable"},
		{"/log/tile/0/002.p/88", sumtlog.Tile{H: 8, L: 0, N: 2, W: 88}, "public, max-age=86400"},
		{"/log/tile/0/002.p/5", sumtlog.Tile{H: 8, L: 0, N: 2, W: 5}, "public, max-age=86400"},
		{"/log/tile/1/000.p/2", sumtlog.Tile{H: 8, L: 1, N: 0, W: 2}, "public, max-age=86400"},
	} {
		resp, body := get(tt.path)
		want, err := sumtlog.ReadTileData(tt.tile, hr)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("%s: %s, %d bytes, want %d", tt.path, resp.Status, len(body), len(want))
		}
		if got := resp.Header.Get("Cache-Control"); got != tt.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tt.path, got, tt.cache)
		}
	}

	resp, body = get("/log/tile/entries/002.p/88")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=86400" {
		t.Fatalf("entry bundle: %s %s, Cache-Control %q", resp.Status, body, resp.Header.Get("Cache-Control"))
	}
	leaves, err := parseEntryBundle(body)
	if err != nil || len(leaves) != 88 {
		t.Fatalf("entry bundle: %d leaves, %v", len(leaves), err)
	}
	if !bytes.Equal(leaves[3], l.tree.leaves[512+3]) {
		t.Errorf("entry bundle leaf 3 differs")
	}
	if n := binary.BigEndian.Uint16(body); int(n) != len(l.tree.leaves[512]) {
		t.Errorf("first length prefix = %d, want %d", n, len(l.tree.leaves[512]))
	}
	resp, _ = get("/log/tile/entries/000")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("full entry bundle: %s, Cache-Control %q", resp.Status, resp.Header.Get("Cache-Control"))
	}

	for _, tt := range []struct {
		path   string
		status int
		code   string
	}{
		{"/log/tile/0/002", 404, "not_found"},       // full tile not yet complete
		{"/log/tile/0/002.p/89", 404, "not_found"},  // beyond the size
		{"/log/tile/0/003.p/1", 404, "not_found"},   // beyond the size
		{"/log/tile/1/000", 404, "not_found"},       // level 1 has 2 hashes
		{"/log/tile/2/000.p/1", 404, "not_found"},   // level 2 is empty
		{"/log/tile/entries/002", 404, "not_found"}, // not complete
		{"/log/tile/entries/003.p/1", 404, "not_found"},
		{"/log/tile/0/x000/000", 400, "invalid"}, // non-canonical
		{"/log/tile/8/0/000", 400, "invalid"},    // x/mod's layout, not C2SP's
		{"/log/tile/0/000.p/256", 400, "invalid"},
		{"/log/nothing", 404, "not_found"},
		{"/log/", 404, "not_found"},
		{"/elsewhere", 404, "not_found"},
	} {
		resp, body := get(tt.path)
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("%s: body %q: %v", tt.path, body, err)
		}
		if resp.StatusCode != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
			t.Errorf("%s: %s %s, want %d %s", tt.path, resp.Status, body, tt.status, tt.code)
		}
	}

	resp, err = http.Post(srv.URL+"/log/checkpoint", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}
}

func TestHandlerMountedOnMux(t *testing.T) {
	s, _ := mustKeys(t, "")
	l := newMemLog(t, s, 3, 3, 3, "")
	mux := http.NewServeMux()
	mux.Handle("GET /log/", NewHandler(l))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/log/tile/entries/000.p/3", nil))
	if rec.Code != 200 {
		t.Errorf("GET via mux: %d %s", rec.Code, rec.Body)
	}
}

// failingBackend fails every read, with err.
type failingBackend struct{ err error }

func (f failingBackend) Checkpoint(ctx context.Context) ([]byte, error) { return nil, f.err }
func (f failingBackend) ReadHashes(ctx context.Context, indexes []int64) ([]sumtlog.Hash, error) {
	return nil, f.err
}
func (f failingBackend) ReadLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	return nil, f.err
}

func TestHandlerBackendErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{errors.New("disk on fire"), 500, `{"error":{"code":"internal","message":"internal error"}}`},
		{healthcode.Errorf(healthcode.EUNAVAIL, "database unavailable"), 503, `{"error":{"code":"unavailable","message":"database unavailable"}}`},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		h := &Handler{Backend: failingBackend{tt.err}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		for _, path := range []string{"/log/checkpoint", "/log/tile/0/000"} {
			logs.Reset()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
				t.Errorf("%s with %v: %d %s, want %d %s", path, tt.err, rec.Code, rec.Body, tt.status, tt.body)
			}
			if !strings.Contains(logs.String(), tt.err.Error()) {
				t.Errorf("%s with %v: not logged: %q", path, tt.err, logs.String())
			}
		}
	}
}
