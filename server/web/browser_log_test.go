package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// tamperer serves h, letting a test rewrite the proof data a page hands
// its script (the JSON in #hc-log-proof): a server that lies.
type tamperer struct {
	h    http.Handler
	edit atomic.Pointer[func(d map[string]any)]
}

const proofOpen, proofClose = `<script type="application/json" id="hc-log-proof">`, `</script>`

func (tp *tamperer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	edit := tp.edit.Load()
	if edit == nil {
		tp.h.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	tp.h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if i := bytes.Index(body, []byte(proofOpen)); i >= 0 {
		start := i + len(proofOpen)
		end := start + bytes.Index(body[start:], []byte(proofClose))
		var d map[string]any
		if err := json.Unmarshal(body[start:end], &d); err != nil {
			panic(fmt.Sprintf("proof data: %v: %s", err, body[start:end]))
		}
		(*edit)(d)
		b, _ := json.Marshal(d) // escapes <, > and &: safe in a script element
		body = append(append(append([]byte(nil), body[:start]...), b...), body[end:]...)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// proofResult is what a log page's script concluded.
type proofResult struct{ Outcome, Reason, Text, Note string }

// visit opens url in tb with the proof data rewritten by edit (if not
// nil) and returns what the page's script concluded.
func (tp *tamperer) visit(t *testing.T, tb *tab, url string, edit func(map[string]any)) proofResult {
	t.Helper()
	if edit != nil {
		tp.edit.Store(&edit)
		defer tp.edit.Store(nil)
	}
	tb.do(t, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#proof-result[data-outcome]`)))
	return eval[proofResult](t, tb, `(() => { const o = document.getElementById('proof-result');
		return {Outcome: o.dataset.outcome, Reason: o.dataset.reason || '', Text: o.textContent, Note: document.getElementById('proof-note').textContent}; })()`)
}

// expectProof returns a check that a page's script concluded outcome
// for reason.
func expectProof(t *testing.T) func(name string, got proofResult, outcome, reason string) {
	return func(name string, got proofResult, outcome, reason string) {
		t.Helper()
		if got.Outcome != outcome || got.Reason != reason {
			t.Errorf("%s: %s (%s) %q, want %s (%s)", name, got.Outcome, got.Reason, got.Text, outcome, reason)
		}
	}
}

// tamperRoot changes the root line of the page's signed checkpoint.
func tamperRoot(d map[string]any) {
	lines := strings.SplitN(d["checkpoint"].(string), "\n", 4)
	lines[2] = flip(lines[2])
	d["checkpoint"] = strings.Join(lines, "\n")
}

// flip changes the first character of a base64 hash.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestBrowserLogProofs checks that the explorer's proof pages verify in the
// browser what the server hands them, and show a lie as failing: a
// tampered inclusion or consistency proof, leaf, checkpoint, root or log
// key. The browser's memory (the pinned key, the roots it verified) is
// what a lying server cannot change.
func TestBrowserLogProofs(t *testing.T) {
	browser := mustBrowser(t)
	f := mustFixture(t, testdb.SQLite(t), false)
	tp := &tamperer{h: f.srv}
	ts := httptest.NewServer(tp)
	t.Cleanup(ts.Close)
	size := func() int64 {
		t.Helper()
		signed, err := f.db.LogCheckpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		v, _ := note.NewVerifier(f.db.LogVerifierKey())
		cp, err := tlog.OpenCheckpoint(signed, v, f.db.LogOrigin())
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}
	if size() < 8 {
		t.Fatalf("the fixture's log has %d entries, too few for proofs", size())
	}
	visit := func(tb *tab, path string, edit func(map[string]any)) proofResult {
		t.Helper()
		return tp.visit(t, tb, ts.URL+path, edit)
	}
	expect := expectProof(t)
	otherKey := func() string {
		_, vkey, err := note.GenerateKey(rand.Reader, f.db.LogOrigin())
		if err != nil {
			t.Fatal(err)
		}
		return vkey
	}

	t.Run("honest pages verify", func(t *testing.T) {
		tb := newTab(t, browser)
		if got := visit(tb, "/explorer", nil); got.Outcome != "verified" || !strings.Contains(got.Text, fmt.Sprint(size())) {
			t.Errorf("explorer: %+v", got)
		}
		got := visit(tb, "/explorer/entries/3", nil)
		expect("entry", got, "verified", "")
		if !strings.HasPrefix(got.Text, "已验证（在本浏览器中）") || !strings.Contains(got.Note, f.db.LogVerifierKey()) {
			t.Errorf("entry: %q, note %q", got.Text, got.Note)
		}
		expect("first entry", visit(tb, "/explorer/entries/0", nil), "verified", "")
		expect(fmt.Sprintf("last entry %d", size()-1), visit(tb, fmt.Sprintf("/explorer/entries/%d", size()-1), nil), "verified", "")
		expect("consistency to the signed size", visit(tb, "/explorer/consistency?old=3", nil), "verified", "")
		expect("consistency between two sizes", visit(tb, "/explorer/consistency?old=2&new=5", nil), "verified", "")
		expect("consistency of a size with itself", visit(tb, fmt.Sprintf("/explorer/consistency?old=%d", size()), nil), "verified", "")
	})

	for _, tc := range []struct {
		name, path string
		edit       func(map[string]any)
		reason     string
	}{
		{"tampered inclusion proof", "/explorer/entries/3", func(d map[string]any) {
			p := d["proof"].([]any)
			p[1] = flip(p[1].(string))
		}, "bad_proof"},
		{"inclusion proof of another entry", "/explorer/entries/3", func(d map[string]any) { d["index"] = 2 }, "bad_leaf"},
		{"tampered leaf", "/explorer/entries/3", func(d map[string]any) {
			d["leaf"] = strings.Replace(d["leaf"].(string), "\npayload {", "\npayload {\"x\":1,", 1)
		}, "bad_proof"},
		{"tampered checkpoint", "/explorer/entries/3", tamperRoot, "bad_signature"},
		{"tampered checkpoint of the list", "/explorer", tamperRoot, "bad_signature"},
		{"tampered checkpoint of a consistency proof", "/explorer/consistency?old=3", tamperRoot, "bad_signature"},
		{"checkpoint signed by another key", "/explorer/entries/3", func(d map[string]any) {
			s, _, _ := note.GenerateKey(rand.Reader, d["origin"].(string))
			signer, _ := note.NewSigner(s)
			text := d["checkpoint"].(string)
			signed, _ := note.Sign(&note.Note{Text: text[:strings.Index(text, "\n\n")+1]}, signer)
			d["checkpoint"] = string(signed)
		}, "bad_signature"},
		{"tampered consistency proof", "/explorer/consistency?old=3", func(d map[string]any) {
			p := d["proof"].([]any)
			p[0] = flip(p[0].(string))
		}, "bad_proof"},
		{"tampered old root", "/explorer/consistency?old=3", func(d map[string]any) { d["old_root"] = flip(d["old_root"].(string)) }, "bad_proof"},
		{"tampered intermediate root", "/explorer/consistency?old=2&new=5", func(d map[string]any) { d["new_root"] = flip(d["new_root"].(string)) }, "bad_proof"},
		{"garbage", "/explorer/entries/3", func(d map[string]any) { d["proof"] = []any{"not base64!"} }, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(tc.name, visit(newTab(t, browser), tc.path, tc.edit), "failed", tc.reason)
		})
	}

	t.Run("log key pinned on first use", func(t *testing.T) {
		tb := newTab(t, browser)
		expect("first visit", visit(tb, "/explorer/entries/3", nil), "verified", "")
		vkey := otherKey()
		got := visit(tb, "/explorer/entries/3", func(d map[string]any) { d["key"] = vkey })
		expect("another key", got, "failed", "key_changed")
		if !strings.Contains(got.Text, f.db.LogVerifierKey()) {
			t.Errorf("the refusal does not name the pinned key: %q", got.Text)
		}
		// A key obtained out of band is pinned by hand on the list page,
		// replacing the pin; the page then checks against it.
		pin := func(key string) proofResult {
			tb.do(t, chromedp.Navigate(ts.URL+"/explorer"), chromedp.WaitVisible(chromedp.CSS(`#proof-result[data-outcome]`)),
				chromedp.Evaluate[chromedp.Void](`document.getElementById('pin-box').open = true`),
				chromedp.SetValue(chromedp.CSS("#pin-key"), key),
				chromedp.Evaluate[chromedp.Void](`document.getElementById('proof-result').removeAttribute('data-outcome')`),
				chromedp.Click(chromedp.CSS("#pin-button")),
				chromedp.WaitVisible(chromedp.CSS(`#proof-result[data-outcome]`)))
			return eval[proofResult](t, tb, `(() => { const o = document.getElementById('proof-result'); return {Outcome: o.dataset.outcome, Reason: o.dataset.reason || '', Text: o.textContent}; })()`)
		}
		expect("another key pinned by hand", pin(vkey), "failed", "key_changed")
		expect("the log's key pinned by hand", pin(f.db.LogVerifierKey()), "verified", "")
		// A browser that never saw the log pins what it is given: a
		// server that swaps key and signature together fools only it.
		fresh := newTab(t, browser)
		expect("fresh browser, honest page", visit(fresh, "/explorer/consistency?old=3", nil), "verified", "")
	})

	t.Run("a root the browser verified is the old root", func(t *testing.T) {
		tb := newTab(t, browser)
		old := size()
		expect("explorer", visit(tb, "/explorer", nil), "verified", "") // remembers the root of size old
		sys := system
		if _, err := f.db.AppendEvents(sys, []store.Event{{Kind: tlog.KindJobProgressed, Payload: map[string]int{"n": 1}}}); err != nil {
			t.Fatal(err)
		}
		got := visit(tb, fmt.Sprintf("/explorer/consistency?old=%d", old), func(d map[string]any) { d["old_root"] = flip(d["old_root"].(string)) })
		expect("lied-about old root", got, "failed", "bad_root")
		got = visit(tb, fmt.Sprintf("/explorer/consistency?old=%d", old), nil)
		expect("the remembered old root", got, "verified", "")
		if !strings.Contains(got.Note, "本浏览器先前核验过") {
			t.Errorf("note %q does not say the old root is the remembered one", got.Note)
		}
		if got := visit(newTab(t, browser), fmt.Sprintf("/explorer/consistency?old=%d", old), nil); !strings.Contains(got.Note, "服务器给出") {
			t.Errorf("a fresh browser's note %q does not say the old root is the server's", got.Note)
		}
	})

	t.Run("Merkle proofs match the test vectors", func(t *testing.T) {
		tb := newTab(t, browser)
		visit(tb, "/explorer/entries/0", nil)
		vectors, err := os.ReadFile("../../tlog/testdata/vectors.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, failure := range eval[[]string](t, tb, fmt.Sprintf(merkleVectorsJS, vectors)) {
			t.Error(failure)
		}
	})
}

// merkleVectorsJS checks HCLog's RFC 9162 verification against
// tlog/testdata/vectors.json: every proof verifies, and flipping a bit of
// any proof hash, the leaf or a root makes it fail.
const merkleVectorsJS = `(async () => {
  const L = globalThis.HCLog, V = globalThis.HCVerify, vectors = %s, out = [], enc = new TextEncoder();
  const h = (s) => V.unbase64(s);
  const bit = (b) => { const c = b.slice(); c[0] ^= 1; return c; };
  const roots = {};
  for (const v of vectors) roots[v.size] = h(v.root);
  let n = 0;
  for (const v of vectors) {
    for (const p of v.inclusion) {
      const leaf = await L.leafHash(enc.encode('leaf ' + p.index)), proof = p.proof.map(h), root = roots[p.size];
      n++;
      if (!await L.verifyInclusion(p.index, p.size, leaf, proof, root)) out.push('inclusion ' + p.index + ' in ' + p.size + ' does not verify');
      if (await L.verifyInclusion(p.index, p.size, bit(leaf), proof, root)) out.push('inclusion ' + p.index + ' in ' + p.size + ' verifies a changed leaf');
      if (await L.verifyInclusion(p.index, p.size, leaf, proof, bit(root))) out.push('inclusion ' + p.index + ' in ' + p.size + ' verifies a changed root');
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.slice(); bad[i] = bit(bad[i]);
        if (await L.verifyInclusion(p.index, p.size, leaf, bad, root)) out.push('inclusion ' + p.index + ' in ' + p.size + ' verifies with hash ' + i + ' changed');
      }
      if (proof.length && await L.verifyInclusion(p.index, p.size, leaf, proof.slice(1), root)) out.push('inclusion ' + p.index + ' in ' + p.size + ' verifies a shortened proof');
    }
    for (const p of v.consistency) {
      const proof = p.proof.map(h), o = roots[p.old], nw = roots[p.new];
      n++;
      if (!await L.verifyConsistency(p.old, p.new, o, nw, proof)) out.push('consistency ' + p.old + ' → ' + p.new + ' does not verify');
      if (await L.verifyConsistency(p.old, p.new, bit(o), nw, proof)) out.push('consistency ' + p.old + ' → ' + p.new + ' verifies a changed old root');
      if (await L.verifyConsistency(p.old, p.new, o, bit(nw), proof)) out.push('consistency ' + p.old + ' → ' + p.new + ' verifies a changed new root');
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.slice(); bad[i] = bit(bad[i]);
        if (await L.verifyConsistency(p.old, p.new, o, nw, bad)) out.push('consistency ' + p.old + ' → ' + p.new + ' verifies with hash ' + i + ' changed');
      }
    }
  }
  if (n < 50) out.push('only ' + n + ' vectors checked');
  return out;
})()`
