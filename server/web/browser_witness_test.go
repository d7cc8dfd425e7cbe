package web_test

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/internal/witnesstest"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/tlog"
)

// newWitness runs an in-process healthcode witness of the log of logVKey
// and returns it with its URL, and its signer for forging tests.
func newWitness(t *testing.T, name, logVKey string) (tlog.Witness, note.Signer) {
	t.Helper()
	return witnesstest.Start(t, name, logVKey, t.TempDir())
}

// withoutSignatureBy returns signed without its signature lines by the
// key named name.
func withoutSignatureBy(signed, name string) string {
	var out []string
	for _, l := range strings.SplitAfter(signed, "\n") {
		if !strings.HasPrefix(l, "— "+name+" ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// TestBrowserLogWitnessed checks that with witnessing the explorer's pages
// are about a checkpoint the witnesses cosigned, that the browser pins the
// witness policy beside the log key and requires a quorum of its
// cosignatures: a server that shows a checkpoint only it signed (a split
// view, or witnessing turned off) fails in the browser, even when the
// server's page also stops naming witnesses.
func TestBrowserLogWitnessed(t *testing.T) {
	browser := mustBrowser(t)
	f := mustFixture(t, testdb.SQLite(t), false)
	w1, _ := newWitness(t, "w1.example", f.db.LogVerifierKey())
	w2, _ := newWitness(t, "w2.example", f.db.LogVerifierKey())
	policy, err := tlog.NewPolicy([]tlog.Witness{w1, w2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := f.srv.StartWitnessing(ctx, server.WitnessConfig{Policy: policy, Poll: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if signed, _, err := f.db.LogWitnessed(ctx); err != nil {
			t.Fatal(err)
		} else if signed != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no witnessed checkpoint after 10 s")
		}
	}
	tp := &tamperer{h: f.srv}
	ts := httptest.NewServer(tp)
	t.Cleanup(ts.Close)
	visit := func(tb *tab, path string, edit func(map[string]any)) proofResult {
		t.Helper()
		return tp.visit(t, tb, ts.URL+path, edit)
	}
	expect := expectProof(t)
	strip := func(names ...string) func(map[string]any) {
		return func(d map[string]any) {
			for _, n := range names {
				d["checkpoint"] = withoutSignatureBy(d["checkpoint"].(string), n)
			}
		}
	}

	tb := newTab(t, browser)
	got := visit(tb, "/explorer", nil)
	expect("cosigned list", got, "verified", "")
	if !strings.Contains(got.Note, "有 2 个共同签署") || !strings.Contains(got.Note, "w1.example") {
		t.Errorf("the note %q does not say that both witnesses cosigned", got.Note)
	}
	expect("cosigned entry", visit(tb, "/explorer/entries/3", nil), "verified", "")
	expect("cosigned consistency", visit(tb, "/explorer/consistency?old=3", nil), "verified", "")
	// The server's own signature alone, or with one of the two: refused.
	expect("one cosignature", visit(tb, "/explorer/entries/3", strip("w2.example")), "failed", "no_quorum")
	expect("no cosignature", visit(tb, "/explorer/consistency?old=3", strip("w1.example", "w2.example")), "failed", "no_quorum")
	// A server that also stops naming witnesses cannot shed the pinned
	// policy.
	got = visit(tb, "/explorer", func(d map[string]any) {
		strip("w1.example", "w2.example")(d)
		d["witnesses"], d["quorum"] = []any{}, 0
	})
	expect("witnesses dropped from the page", got, "failed", "no_quorum")
	// A cosignature under a witness's name by another key does not count.
	forged := func(d map[string]any) {
		cp := withoutSignatureBy(d["checkpoint"].(string), "w2.example")
		skey, _, _ := note.GenerateKey(rand.Reader, "w2.example")
		s, _, _ := tlog.NewWitnessSigner(skey)
		text := cp[:strings.Index(cp, "\n\n")+1]
		n, _ := note.Sign(&note.Note{Text: text}, s)
		d["checkpoint"] = cp + string(n[len(text)+1:])
	}
	expect("forged cosignature", visit(tb, "/explorer/entries/3", forged), "failed", "no_quorum")
	// A tampered cosignature does not count.
	expect("tampered cosignature", visit(tb, "/explorer/entries/3", func(d map[string]any) {
		cp := d["checkpoint"].(string)
		i := strings.Index(cp, "— w1.example ") + len("— w1.example ") + 20
		d["checkpoint"] = cp[:i] + flip(cp[i:])
	}), "failed", "no_quorum")
	expect("honest again", visit(tb, "/explorer/entries/3", nil), "verified", "")

	// A browser that pinned before the log had witnesses adopts them: that
	// only adds to what it requires.
	early := newTab(t, browser)
	got = visit(early, "/explorer", func(d map[string]any) {
		strip("w1.example", "w2.example")(d)
		d["witnesses"], d["quorum"] = []any{}, 0
	})
	expect("no witnesses yet", got, "verified", "")
	if !strings.Contains(got.Note, "没有固定见证方") {
		t.Errorf("the note %q does not say that no witness was checked", got.Note)
	}
	expect("witnesses adopted", visit(early, "/explorer/entries/3", strip("w2.example")), "failed", "no_quorum")
}
