package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/token"
)

// logInAs logs in and waits for the page after the login form.
func (tb *tab) logInAs(t *testing.T, f *fixture, login string) {
	t.Helper()
	tb.do(t, chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.SetValue(chromedp.CSS("#login"), login),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("body:not(.page-login)")))
}

// mustPhoto fetches the resident's served QR PNG and makes a photo-like
// picture of it: scaled up twice, off centre on a large grey
// background, as a phone camera would frame it.
func mustPhoto(t *testing.T, f *fixture, login, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/residents/"+id+"/token?format=png", nil)
	req.Header.Set("Authorization", "Bearer "+mustBearer(t, f, login))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	qr, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("served QR: %d %v", resp.StatusCode, err)
	}
	const k = 2
	qb := qr.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{170, 170, 165, 255}), image.Point{}, draw.Src)
	ox, oy := 420, 90
	for y := 0; y < qb.Dy()*k; y++ {
		for x := 0; x < qb.Dx()*k; x++ {
			out.Set(ox+x, oy+y, qr.At(qb.Min.X+x/k, qb.Min.Y+y/k))
		}
	}
	path := filepath.Join(t.TempDir(), "photo.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBrowserScanner: the verifier reads a photo of a served QR code with
// the vendored decoder in a browser without BarcodeDetector (as iOS
// Safari, Firefox and desktop Chrome on Linux are), and the resident page
// gives the code as text.
func TestBrowserScanner(t *testing.T) {
	browser := mustBrowser(t)
	f := mustFixture(t, testdb.SQLite(t), true)

	t.Run("photo decoded without BarcodeDetector", func(t *testing.T) {
		photo := mustPhoto(t, f, "login-r_res1", "r_res1")
		tb := newTab(t, browser)
		if _, err := chromedp.Call(tb.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `delete window.BarcodeDetector;`}); err != nil {
			t.Fatal(err)
		}
		tb.do(t, chromedp.Navigate(f.ts.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#verifier[data-ready="true"]`)))
		if got := eval[string](t, tb, `typeof BarcodeDetector + ' ' + document.getElementById('verifier').dataset.decoder`); got != "undefined jsqr" {
			t.Fatalf("detector and decoder: %q", got)
		}
		tb.do(t, chromedp.WaitVisible(chromedp.CSS("#photo")),
			chromedp.SetUploadFiles(chromedp.CSS("#photo"), []string{photo}),
			chromedp.WaitReady(chromedp.CSS(`#scan-status[data-done]`)))
		if got := eval[string](t, tb, `document.getElementById('scan-status').dataset.done`); got != "found" {
			t.Fatalf("photo: %s (%s)", got, tb.text(t, "#scan-status"))
		}
		tb.do(t, chromedp.WaitVisible(chromedp.CSS(`#result[data-outcome]`)))
		if got := tb.text(t, "#result"); !strings.Contains(got, "绿码") || !strings.Contains(got, "张*丰") {
			t.Errorf("result %q, want a valid green code for 张*丰", got)
		}
		if got := eval[string](t, tb, `document.getElementById('result').dataset.outcome`); got != "valid" {
			t.Errorf("outcome %q", got)
		}
		tb.screenshot(t, "verify-photo")
	})

	t.Run("resident copies the code as text", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.logInAs(t, f, "login-r_res1")
		tb.do(t, chromedp.Navigate(f.ts.URL+"/residents/r_res1"), chromedp.WaitVisible(chromedp.CSS("#token-box summary")),
			chromedp.Click(chromedp.CSS("#token-box summary")),
			chromedp.WaitVisible(chromedp.CSS(`#token-box[data-loaded="true"] #token-text`)))
		text := eval[string](t, tb, `document.getElementById('token-text').value`)
		if _, err := token.Parse(text); err != nil {
			t.Fatalf("token text %q: %v", text, err)
		}
		tb.do(t, chromedp.Click(chromedp.CSS("#token-copy")))
		if got := tb.text(t, "#token-status"); got != "已复制。" {
			t.Errorf("copy status %q", got)
		}
	})
}
