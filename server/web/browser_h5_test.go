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
	"time"

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
		// The copy is asynchronous (the Clipboard API): wait for its status.
		tb.do(t, chromedp.Click(chromedp.CSS("#token-copy")))
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if tb.text(t, "#token-status") != "" {
				break
			}
		}
		if got := tb.text(t, "#token-status"); got != "已复制。" {
			t.Errorf("copy status %q", got)
		}
	})
}

// TestBrowserApprovals: a command officer drafts a new version from the
// one in force; a second one opens it from the desk, sees the rules in
// words and the line diff, and publishes it; anyone reads it at
// /rulesets. A red code says what happens next.
func TestBrowserApprovals(t *testing.T) {
	browser := mustBrowser(t)
	f := mustFixture(t, testdb.SQLite(t), false)

	t.Run("draft, review the diff, publish", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.logInAs(t, f, "login-o_cmd1")
		tb.do(t, chromedp.Navigate(f.ts.URL+"/rulesets/new"), chromedp.WaitVisible(chromedp.CSS("#draft-base")))
		src := eval[string](t, tb, `document.getElementById('rs-source').value`)
		if !strings.Contains(src, "\nversion: 2\n") {
			t.Fatalf("the editor does not start from v1 as version 2:\n%.300s", src)
		}
		tb.do(t, chromedp.Evaluate[chromedp.Void](`const s = document.getElementById('rs-source'); s.value = s.value.replace('密切接触者,末次暴露后7天内', '密切接触者,末次暴露后7天内(修订)')`),
			chromedp.Click(chromedp.CSS("#rs-submit")), chromedp.WaitVisible(chromedp.CSS("#draft-stored")))
		if got := tb.text(t, "#draft-diff"); !strings.Contains(got, "+") || !strings.Contains(got, "(修订)") {
			t.Errorf("draft diff %q", got)
		}

		c := newTab(t, browser)
		c.logInAs(t, f, "login-o_cmd2")
		c.do(t, chromedp.Navigate(f.ts.URL+"/command"), chromedp.WaitVisible(chromedp.CSS("a.ruleset-link")),
			chromedp.Click(chromedp.CSS("a.ruleset-link")), chromedp.WaitVisible(chromedp.CSS("#decide")))
		if n := eval[int](t, c, `document.querySelectorAll('#rule-words > li').length`); n != 10 {
			t.Errorf("%d rules in words, want 10", n)
		}
		lines := func(sel string) string {
			return eval[string](t, c, `[...document.querySelectorAll('`+sel+`')].map(l => l.textContent).join('\n')`)
		}
		add, del := lines("#diff li.add"), lines("#diff li.del")
		if !strings.Contains(add, "(修订)") || strings.Contains(del, "(修订)") || !strings.Contains(del, "末次暴露后7天内") {
			t.Errorf("diff: added %q, removed %q", add, del)
		}
		if got := c.text(t, "#impact-summary"); !strings.Contains(got, "名居民中，有 0 名的健康码会改变") {
			t.Errorf("dry run above the decision: %q", got)
		}
		c.screenshot(t, "ruleset-review")
		c.do(t, chromedp.Click(chromedp.CSS("#ruleset-approve")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
		if got := c.text(t, "#confirm"); !strings.Contains(got, "您将批准发布规则 henan-health-code 第 2 版") {
			t.Errorf("confirmation: %q", got)
		}
		c.screenshot(t, "ruleset-confirm")
		c.do(t, chromedp.Click(chromedp.CSS("#confirm-yes")), chromedp.WaitVisible(chromedp.CSS("#done")))
		if got := c.text(t, "#done"); !strings.Contains(got, "henan-health-code 第 2 版现已施行") {
			t.Errorf("result: %q", got)
		}
		c.screenshot(t, "ruleset-published")
		c.do(t, chromedp.Navigate(f.ts.URL+"/rulesets/henan-health-code/2"), chromedp.WaitVisible(chromedp.CSS("#ruleset-status strong")))
		if got := c.text(t, "#ruleset-status"); !strings.Contains(got, "已发布") || !strings.Contains(got, "现行") {
			t.Errorf("after approval: %q", got)
		}

		// Anyone, not logged in, reads the rules in force.
		p := newTab(t, browser)
		p.do(t, chromedp.Navigate(f.ts.URL+"/rulesets"), chromedp.WaitVisible(chromedp.CSS("#in-force")))
		if got := p.text(t, "#in-force"); !strings.Contains(got, "henan-health-code") || !strings.Contains(got, "2") {
			t.Errorf("in force: %q", got)
		}
		p.screenshot(t, "rulesets")
	})

	t.Run("statistics legible on a phone", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.do(t, chromedp.Navigate(f.ts.URL+"/stats"), chromedp.WaitVisible(chromedp.CSS("#codes-chart")))
		// The smallest chart font as drawn at 360 px, in CSS px: its size
		// times the chart's scale.
		least := eval[float64](t, tb, `Math.min(...[...document.querySelectorAll('svg.chart text')].map(e => {
			const svg = e.ownerSVGElement;
			return parseFloat(e.getAttribute('font-size')) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
		}))`)
		if least < 12 {
			t.Errorf("chart text %.1f px high at 360 px, want at least 12", least)
		}
		// The jurisdictions as a tree: the province, then its city, indented.
		if got := eval[string](t, tb, `[...document.querySelectorAll('#codes-h ~ details tbody tr')].map(r => r.className).join(' ')`); !strings.HasPrefix(got, "depth-0 depth-1") {
			t.Errorf("jurisdiction rows %q", got)
		}
		tb.screenshot(t, "stats")
	})

	t.Run("a red code says what happens next", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.logInAs(t, f, "login-r_res2")
		tb.do(t, chromedp.Navigate(f.ts.URL+"/residents/r_res2"), chromedp.WaitVisible(chromedp.CSS("#outlook")))
		got := tb.text(t, "#outlook")
		for _, want := range []string{"接下来会怎样", "不会自动改变", "确诊病例或无症状感染者", "12345"} {
			if !strings.Contains(got, want) {
				t.Errorf("outlook lacks %q:\n%s", want, got)
			}
		}
		tb.screenshot(t, "resident-red-next")
	})
}
