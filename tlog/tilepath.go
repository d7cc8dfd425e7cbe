package tlog

import (
	"fmt"
	"strconv"
	"strings"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of the log's tiles: 2^8 = 256 hashes or entries
// per full tile, as C2SP tlog-tiles fixes it.
const TileHeight = 8

// tileWidth is the number of hashes or entries in a full tile.
const tileWidth = 1 << TileHeight

// tilePath returns the C2SP tlog-tiles path of t, relative to the log's
// prefix: tile/<L>/<N>[.p/<W>], or tile/entries/<N>[.p/<W>] for L == -1.
func tilePath(t sumtlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	p := "tile/" + level + "/" + formatTileIndex(t.N)
	if t.W != tileWidth {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}

// formatTileIndex encodes n as zero-padded three-digit path elements, all
// but the last prefixed with x: 1234067 is x001/x234/067.
func formatTileIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// parseTilePath parses a path relative to the log's prefix (after "tile/"
// has been removed: "<L>/<N>[.p/<W>]" or "entries/<N>[.p/<W>]"). It accepts
// only the canonical form: the result's tilePath is exactly "tile/"+rest.
// Entry bundles have L == -1.
func parseTilePath(rest string) (sumtlog.Tile, bool) {
	levelText, nText, ok := strings.Cut(rest, "/")
	if !ok {
		return sumtlog.Tile{}, false
	}
	t := sumtlog.Tile{H: TileHeight, W: tileWidth}
	if levelText == "entries" {
		t.L = -1
	} else {
		l, err := strconv.Atoi(levelText)
		if err != nil || l < 0 || l > 63 {
			return sumtlog.Tile{}, false
		}
		t.L = l
	}
	if i := strings.Index(nText, ".p/"); i >= 0 {
		w, err := strconv.Atoi(nText[i+len(".p/"):])
		if err != nil || w < 1 || w >= tileWidth {
			return sumtlog.Tile{}, false
		}
		t.W = w
		nText = nText[:i]
	}
	elems := strings.Split(nText, "/")
	for i, e := range elems {
		last := i == len(elems)-1
		if !last {
			var ok bool
			if e, ok = strings.CutPrefix(e, "x"); !ok {
				return sumtlog.Tile{}, false
			}
		}
		if len(e) != 3 || e[0] < '0' || e[0] > '9' || e[1] < '0' || e[1] > '9' || e[2] < '0' || e[2] > '9' {
			return sumtlog.Tile{}, false
		}
		d := int64(e[0]-'0')*100 + int64(e[1]-'0')*10 + int64(e[2]-'0')
		if t.N > (1<<63-1-d)/1000 {
			return sumtlog.Tile{}, false // overflow
		}
		t.N = t.N*1000 + d
	}
	if tilePath(t) != "tile/"+rest {
		return sumtlog.Tile{}, false // leading x000/ elements, "+1" widths and the like
	}
	return t, true
}
