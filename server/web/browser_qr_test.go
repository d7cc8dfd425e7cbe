package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// testQRUnavailable is the resident page while the token route answers
// 503 (the database restarting): the QR shown stays, the page says why in
// its language, and the next try after Retry-After shows a new QR.
func testQRUnavailable(t *testing.T, browser context.Context, f *fixture) {
	tb := newTab(t, browser)
	tb.do(t, chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#login"), "login-r_res1"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#qr")))
	before := eval[string](t, tb, `new Promise(ok => { const i = document.getElementById('qr'); if (i.complete) ok(i.src); else i.onload = () => ok(i.src); })`)
	// The token route answers 503 with Retry-After: 1 once; the page's
	// clock jumps past the refresh interval and the page comes into view.
	got := eval[string](t, tb, `new Promise(ok => {
		const real = window.fetch, now = Date.now;
		let refused = 0;
		window.fetch = (url, opts) => {
			if (String(url).includes('/token') && refused++ === 0) {
				return Promise.resolve(new Response('{"error":{"code":"unavailable","message":"the database is restarting or cannot be reached"}}',
					{status: 503, headers: {'Retry-After': '1', 'Content-Type': 'application/json'}}));
			}
			return real(url, opts);
		};
		Date.now = () => now() + 3600 * 1000;
		document.dispatchEvent(new Event('visibilitychange'));
		setTimeout(() => ok(document.getElementById('qr').src + '|' + document.getElementById('qr-status').textContent), 300);
	})`)
	src, note, _ := strings.Cut(got, "|")
	if src != before || !strings.Contains(note, "暂时无法刷新二维码") {
		t.Errorf("after a 503: QR %q (was %q), status %q; want the QR kept and why in Chinese", src, before, note)
	}
	after := eval[string](t, tb, `new Promise(ok => {
		const i = document.getElementById('qr');
		i.addEventListener('load', () => ok(i.src + '|' + document.getElementById('qr-status').textContent), {once: true});
		setTimeout(() => ok(i.src + '|no new QR in 10 s: ' + document.getElementById('qr-status').textContent), 10000);
	})`)
	src, note, _ = strings.Cut(after, "|")
	if !strings.HasPrefix(src, "blob:") || note != "" {
		t.Errorf("after Retry-After: QR %q, status %q; want a new QR and no status", src, note)
	}
}
