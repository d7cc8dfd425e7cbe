package token

import (
	"bytes"
	_ "embed"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // Decode accepts GIF, JPEG and PNG
	_ "image/jpeg"
	"image/png"
	"io"
	"sync"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"rsc.io/qr"

	"github.com/healthcode/healthcode"
)

// glyphs.png holds the label glyphs as an alpha atlas, rendered from
// Droid Sans Fallback by glyphgen_test.go (see docs/token.md for licence).
//
//go:embed glyphs.png
var glyphAtlasPNG []byte

// QR image layout, in pixels.
const (
	moduleSize = 8  // pixels per QR module
	quietZone  = 4  // white modules around the code, as ISO/IEC 18004 asks
	frameWidth = 24 // coloured frame
	labelPad   = 12 // space above and below the label
)

type palette struct{ frame, text color.RGBA }

var palettes = map[healthcode.Colour]palette{
	healthcode.Green:  {color.RGBA{0x1a, 0xad, 0x19, 0xff}, color.RGBA{0x0b, 0x6e, 0x0a, 0xff}},
	healthcode.Yellow: {color.RGBA{0xf5, 0xb8, 0x00, 0xff}, color.RGBA{0x8a, 0x64, 0x00, 0xff}},
	healthcode.Red:    {color.RGBA{0xe5, 0x39, 0x35, 0xff}, color.RGBA{0xb7, 0x1c, 0x1c, 0xff}},
}

// PNG renders text as a QR code at error correction level M, framed in
// colour, with colour.Label(lang) written under it (绿码, 黄码, 红码 by
// default; lang "en" for English). The QR keeps its white quiet zone inside
// the frame, so standard readers decode it.
func PNG(text string, colour healthcode.Colour, lang string) ([]byte, error) {
	pal, ok := palettes[colour]
	if !ok {
		return nil, healthcode.FieldErrorf("colour", "unknown colour %q", string(colour))
	}
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("encode qr: %w", err)
	}
	atlas, err := loadGlyphAtlas()
	if err != nil {
		return nil, err
	}
	label := colour.Label(lang)
	labelWidth := 0
	for _, r := range label {
		cell, ok := glyphCells[r]
		if !ok {
			return nil, fmt.Errorf("render label: no glyph for %q", r)
		}
		labelWidth += cell[1]
	}

	qrPixels := (code.Size + 2*quietZone) * moduleSize
	panelW := max(qrPixels, labelWidth+2*labelPad)
	panelH := qrPixels + glyphHeight + 2*labelPad
	img := image.NewRGBA(image.Rect(0, 0, panelW+2*frameWidth, panelH+2*frameWidth))
	draw.Draw(img, img.Bounds(), image.NewUniform(pal.frame), image.Point{}, draw.Src)
	panel := image.Rect(frameWidth, frameWidth, frameWidth+panelW, frameWidth+panelH)
	draw.Draw(img, panel, image.White, image.Point{}, draw.Src)

	ox := frameWidth + (panelW-qrPixels)/2 + quietZone*moduleSize
	oy := frameWidth + quietZone*moduleSize
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; x++ {
			if code.Black(x, y) {
				r := image.Rect(ox+x*moduleSize, oy+y*moduleSize, ox+(x+1)*moduleSize, oy+(y+1)*moduleSize)
				draw.Draw(img, r, image.Black, image.Point{}, draw.Src)
			}
		}
	}

	x := frameWidth + (panelW-labelWidth)/2
	y := frameWidth + qrPixels + labelPad
	ink := image.NewUniform(pal.text)
	for _, r := range label {
		cell := glyphCells[r]
		dst := image.Rect(x, y, x+cell[1], y+glyphHeight)
		draw.DrawMask(img, dst, ink, image.Point{}, atlas, image.Pt(cell[0], 0), draw.Over)
		x += cell[1]
	}

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// loadGlyphAtlas decodes the embedded atlas once; the result is read-only.
var loadGlyphAtlas = sync.OnceValues(glyphAtlas)

// glyphAtlas decodes the embedded atlas into an alpha mask.
func glyphAtlas() (*image.Alpha, error) {
	src, err := png.Decode(bytes.NewReader(glyphAtlasPNG))
	if err != nil {
		return nil, fmt.Errorf("decode glyph atlas: %w", err)
	}
	gray, ok := src.(*image.Gray)
	if !ok {
		return nil, fmt.Errorf("decode glyph atlas: want a grey image, got %T", src)
	}
	return &image.Alpha{Pix: gray.Pix, Stride: gray.Stride, Rect: gray.Rect}, nil
}

// Limits of an image Decode reads: its file size, and the dimensions it
// declares, checked before any pixel is decoded (a small file can declare
// a huge image: decoding one of 429 KB took 25 s and 1.7 GB).
const (
	MaxImageBytes  = 8 << 20
	MaxImageSide   = 4096
	MaxImagePixels = 16 << 20
)

// Decode reads an image (PNG, JPEG or GIF), finds a QR code in it and
// returns the text it encodes, e.g. for `healthcode token verify --image`.
// An image larger than MaxImageBytes, or declaring more than MaxImageSide
// pixels a side or MaxImagePixels in all, is refused (EINVALID) before it
// is decoded.
func Decode(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxImageBytes+1))
	if err != nil {
		return "", fmt.Errorf("read image: %w", err)
	}
	if len(b) > MaxImageBytes {
		return "", healthcode.Errorf(healthcode.EINVALID, "the image file is larger than %d bytes", MaxImageBytes)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", healthcode.Errorf(healthcode.EINVALID, "decode image: %v", err)
	}
	if cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > MaxImagePixels {
		return "", healthcode.Errorf(healthcode.EINVALID, "the image is %d×%d pixels, more than %d a side: crop or scale it", cfg.Width, cfg.Height, MaxImageSide)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", healthcode.Errorf(healthcode.EINVALID, "decode image: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", healthcode.Errorf(healthcode.EINVALID, "decode image: %v", err)
	}
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	reader := zxqr.NewQRCodeReader()
	res, err := reader.Decode(bmp, hints)
	// gozxing's detector misses the finder patterns of about one code in a
	// hundred (some data modules look like a finder pattern); turned a
	// quarter, the same code decodes.
	for turns := 1; err != nil && turns < 4 && bmp.IsRotateSupported(); turns++ {
		turned, rerr := bmp.RotateCounterClockwise()
		if rerr != nil {
			break
		}
		bmp = turned
		if r, derr := reader.Decode(bmp, hints); derr == nil {
			res, err = r, nil
		}
	}
	if err != nil {
		return "", healthcode.Errorf(healthcode.EINVALID, "no readable QR code in the image: %v", err)
	}
	return res.GetText(), nil
}
