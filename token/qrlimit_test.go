package token_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode/token"
)

// TestDecodeRefusesImageBombs: a PNG of about 40 KB holding 6,000 × 6,000
// blank pixels (36 MB decoded) is refused from the dimensions its header
// declares, in well under a second, without decoding it.
func TestDecodeRefusesImageBombs(t *testing.T) {
	const side = 6000
	b := pngOfZeros(t, side)
	if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width != side {
		t.Fatalf("the crafted PNG: %+v %v", cfg, err)
	}
	start := time.Now()
	_, err := token.Decode(bytes.NewReader(b))
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing a %d-byte image took %v", len(b), d)
	}
	if err == nil || !strings.Contains(err.Error(), "6000×6000") {
		t.Errorf("Decode = %v, want a refusal naming the dimensions", err)
	}
}

// pngOfZeros is a greyscale PNG side × side, every pixel 0.
func pngOfZeros(t *testing.T, side int) []byte {
	t.Helper()
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	row := make([]byte, 1+side) // filter byte 0, then the pixels
	for range side {
		if _, err := zw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		if err := binary.Write(&out, binary.BigEndian, uint32(len(data))); err != nil {
			t.Fatal(err)
		}
		td := append([]byte(typ), data...)
		out.Write(td)
		if err := binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(td)); err != nil {
			t.Fatal(err)
		}
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(side))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(side))
	ihdr[8] = 8 // bit depth; colour type 0 (grey), compression, filter, interlace 0
	chunk("IHDR", ihdr)
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
