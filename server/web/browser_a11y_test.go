package web_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/healthcode/healthcode/internal/testdb"
)

// The accessibility check: axe-core (testdata/axe, vendored from npm for
// the tests only) is injected into a page and run; a serious or critical
// violation fails the test.

var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	return string(b), err
})

// axeJS runs axe on the document and returns its serious and critical
// violations, one line each.
const axeJS = `(async () => {
  const r = await axe.run(document, { resultTypes: ['violations'] });
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
})()`

// axe checks the page open in the tab, at its current size.
func (tb *tab) axe(t *testing.T) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatal(err)
	}
	// Injected through the DevTools protocol, not a <script> tag: the
	// page's Content-Security-Policy allows only its own scripts.
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		t.Fatalf("inject axe: %v", err)
	}
	where := eval[string](t, tb, `location.pathname + location.search + ' (' + document.documentElement.lang + ', ' + innerWidth + ' px)'`)
	for _, v := range eval[[]string](t, tb, axeJS) {
		t.Errorf("%s: %s", where, v)
	}
}

// axeEverywhere checks the page at 360 px and at 1280 px, in zh-CN and in
// en (switching with the page's own language link and back).
func (tb *tab) axeEverywhere(t *testing.T) {
	t.Helper()
	for _, lang := range []string{"zh", "en"} {
		if lang == "en" {
			tb.do(t, chromedp.Click(chromedp.CSS("#lang-en")), chromedp.WaitVisible(chromedp.CSS("#lang-zh")))
		}
		for _, w := range []int64{360, 1280} {
			tb.do(t, chromedp.EmulateViewport(w, 800))
			tb.axe(t)
			// Nothing wider than the screen but what scrolls in its own
			// box (tables, charts, texts).
			if got := eval[int](t, tb, `document.documentElement.scrollWidth`); got > int(w) {
				t.Errorf("%s at %d px is %d px wide", eval[string](t, tb, `location.pathname`), w, got)
			}
		}
	}
	tb.do(t, chromedp.Click(chromedp.CSS("#lang-zh")), chromedp.WaitVisible(chromedp.CSS("#lang-en")), chromedp.EmulateViewport(360, 740))
}

// pageWalk is every page a first-time visitor, resident and official
// open, each with the element that says it has loaded.
type pageWalk struct {
	login string // "" for the public
	pages [][2]string
}

func TestBrowserAccessibility(t *testing.T) {
	browser := mustBrowser(t)
	f := mustFixture(t, testdb.SQLite(t), true)
	walks := []pageWalk{
		{"", [][2]string{{"/", "main"}, {"/login", "#login"}, {"/explorer", "main"}, {"/explorer/entries/1", "#proof-result[data-outcome]"},
			{"/explorer/consistency?old=2&new=5", "#proof-result[data-outcome]"}, {"/verify", `#verifier[data-ready="true"]`},
			{"/rulesets", "#ruleset-list"}, {"/rulesets/henan-health-code/1", "#rule-words"}, {"/stats", "main"}, {"/alerts", "main"}}},
		{"login-r_res1", [][2]string{{"/residents/r_res1", "#code-h"}}},
		{"login-r_res2", [][2]string{{"/residents/r_res2", "#outlook"}}},
		{"login-o_cmd1", [][2]string{{"/command", "main"}, {"/record", "main"}, {"/record?q=%E6%9D%8E", "#record-found"}, {"/record?resident=r_res2", "#record-chosen"},
			{"/rulesets/new", "#ruleset-form"}}},
	}
	t.Run("axe finds a violation", func(t *testing.T) {
		tb := newTab(t, browser)
		tb.do(t, chromedp.Navigate(f.ts.URL+"/rulesets"), chromedp.WaitVisible(chromedp.CSS("#ruleset-list")))
		src, err := axeSource()
		if err != nil {
			t.Fatal(err)
		}
		// A button without a name and an image without a text.
		tb.do(t, chromedp.Evaluate[chromedp.Void](src+`;document.querySelector('main').insertAdjacentHTML('beforeend', '<button></button><img src="/static/favicon.svg">')`))
		got := strings.Join(eval[[]string](t, tb, axeJS), "\n")
		if !strings.Contains(got, "button-name") || !strings.Contains(got, "image-alt") {
			t.Errorf("axe did not find the violations: %q", got)
		}
	})
	for _, w := range walks {
		for _, p := range w.pages {
			// A tab per page: each has 30 s, and axe runs four times.
			t.Run(fmt.Sprintf("%s as %q", p[0], w.login), func(t *testing.T) {
				tb := newTab(t, browser)
				if w.login != "" {
					tb.logInAs(t, f, w.login)
				}
				tb.do(t, chromedp.Navigate(f.ts.URL+p[0]), chromedp.WaitVisible(chromedp.CSS(p[1])))
				tb.axeEverywhere(t)
			})
		}
	}
}
