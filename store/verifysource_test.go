package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/verify"
)

// tamperSource is a verify.Source that passes the store's view through,
// counting the calls of each method, and changes what one method (tamper)
// returns, as a copy of the log served by someone else could.
type tamperSource struct {
	verify.Source
	tamper string

	mu      sync.Mutex // the verifier reads from two goroutines
	calls   map[string]int
	entries map[int64]int // how often Entries served each entry
}

func (s *tamperSource) call(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
	return s.tamper == name
}

// flip returns b with its last byte changed.
func flip(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) > 0 {
		b[len(b)-1] ^= 1
	}
	return b
}

func (s *tamperSource) LogKey() (note.Verifier, string) {
	v, origin := s.Source.LogKey()
	if s.call("LogKey") {
		_, vkey, _ := note.GenerateKey(rand.Reader, origin)
		v, _ = note.NewVerifier(vkey)
	}
	return v, origin
}

func (s *tamperSource) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := s.Source.Checkpoint(ctx)
	if s.call("Checkpoint") {
		cp = bytes.Replace(cp, []byte("\n"), []byte("\n\n"), 1)
	}
	return cp, err
}

func (s *tamperSource) Bounds(ctx context.Context) (int64, int64, error) {
	maxIdx, count, err := s.Source.Bounds(ctx)
	if s.call("Bounds") {
		count++
	}
	return maxIdx, count, err
}

func (s *tamperSource) Entries(ctx context.Context, from, to int64, f func(store.RawEntry) error) error {
	tamper := s.call("Entries")
	return s.Source.Entries(ctx, from, to, func(e store.RawEntry) error {
		s.mu.Lock()
		if s.entries == nil {
			s.entries = map[int64]int{}
		}
		s.entries[e.Index]++
		s.mu.Unlock()
		if tamper && e.Index == 10 {
			e.Data = bytes.Replace(e.Data, []byte("\ncounty 410105\n"), []byte("\ncounty 410106\n"), 1)
		}
		return f(e)
	})
}

func (s *tamperSource) Hashes(ctx context.Context, from, to int64, f func(int64, []byte) error) error {
	tamper := s.call("Hashes")
	return s.Source.Hashes(ctx, from, to, func(idx int64, h []byte) error {
		if tamper && idx == 20 {
			h = flip(h)
		}
		return f(idx, h)
	})
}

func (s *tamperSource) Checkpoints(ctx context.Context, after, upTo int64, f func(int64, []byte, []byte) error) error {
	tamper := s.call("Checkpoints")
	return s.Source.Checkpoints(ctx, after, upTo, func(size int64, root, signed []byte) error {
		if tamper {
			root = flip(root)
		}
		return f(size, root, signed)
	})
}

func (s *tamperSource) SubjectHeads(ctx context.Context, f func(string, int64, []byte) error) error {
	tamper := s.call("SubjectHeads")
	return s.Source.SubjectHeads(ctx, func(subject string, idx int64, h []byte) error {
		if tamper {
			h = flip(h)
		}
		return f(subject, idx, h)
	})
}

func (s *tamperSource) PersonalParts(ctx context.Context, f func(int64, []byte, []byte) error) error {
	tamper := s.call("PersonalParts")
	return s.Source.PersonalParts(ctx, func(idx int64, salt, data []byte) error {
		if tamper {
			salt = flip(salt)
		}
		return f(idx, salt, data)
	})
}

func (s *tamperSource) FactEvidence(ctx context.Context, f func(int64, string, []byte, []byte) error) error {
	tamper := s.call("FactEvidence")
	return s.Source.FactEvidence(ctx, func(idx int64, evidence string, salt, personal []byte) error {
		if tamper {
			evidence += " (edited)"
		}
		return f(idx, evidence, salt, personal)
	})
}

func (s *tamperSource) RulesetSources(ctx context.Context, f func(string, int, string) error) error {
	tamper := s.call("RulesetSources")
	return s.Source.RulesetSources(ctx, func(id string, version int, src string) error {
		if tamper {
			src += "\n# edited\n"
		}
		return f(id, version, src)
	})
}

func (s *tamperSource) Rows(ctx context.Context, table string) (store.RowCursor, error) {
	c, err := s.Source.Rows(ctx, table)
	if s.call("Rows") && table == "codes" && err == nil {
		c = &tamperRows{RowCursor: c}
	}
	return c, err
}

// tamperRows changes the colour (the first column after the key) of
// every codes row.
type tamperRows struct{ store.RowCursor }

func (r *tamperRows) Next() ([]string, error) {
	v, err := r.RowCursor.Next()
	if len(v) > 1 {
		v[1] = "purple"
	}
	return v, err
}

// TestVerifyReadsOnlyThroughSource: the verifier trusts nothing of the
// writer's, and reads nothing but its Source. A clean log read through a
// counting wrapper verifies and every method of the interface is used;
// then, for each method, a wrapper that changes only what that method
// returns must make verification fail. Were the verifier to read any of
// these from the database beside the interface (or skip it), its case
// would pass unnoticed.
func TestVerifyReadsOnlyThroughSource(t *testing.T) {
	tests := []struct {
		method, want string
	}{
		{"LogKey", "latest checkpoint does not verify with the log's key"},
		{"Checkpoint", "latest checkpoint does not verify with the log's key"},
		{"Bounds", "some are missing"},
		{"Entries", "entry 10:"},
		{"Hashes", "stored hash 20 differs from the hash recomputed"},
		{"Checkpoints", "does not match the tree recomputed from the entries"},
		{"SubjectHeads", "the chain head of"},
		{"PersonalParts", "its personal part does not open the commitment in the entry"},
		{"FactEvidence", "its fact's evidence does not open the commitment in the entry"},
		{"RulesetSources", "is not the one drafted (SHA-256 differs)"},
		{"Rows", `codes r_test000001: colour is "purple"`},
	}
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", "r_test000001", "positive", w.now.Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		clean := &tamperSource{Source: w.db.VerifyView(), calls: map[string]int{}}
		rep, err := verify.Log(ctx, clean, verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.CodeChanges == 0 {
			t.Fatalf("clean log: %d code changes replayed, problems %v", rep.CodeChanges, rep.Problems)
		}
		for _, tt := range tests {
			if clean.calls[tt.method] == 0 {
				t.Errorf("the verifier never called %s", tt.method)
			}
		}
		for _, tt := range tests {
			t.Run(tt.method, func(t *testing.T) {
				src := &tamperSource{Source: w.db.VerifyView(), tamper: tt.method, calls: map[string]int{}}
				rep, err := verify.Log(ctx, src, verify.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range rep.Problems {
					if strings.Contains(p.String(), tt.want) {
						return
					}
				}
				t.Errorf("%s served tampered rows; want a problem containing %q, got %v", tt.method, tt.want, rep.Problems)
			})
		}
	})
}

// TestVerifyReadsEachEntryOnce: the checks of the entries and the
// projection work on the same reading of each entry, parsed and opened
// once. Read twice, a copy of the log served by someone else could hand
// the checks the entries its hashes commit to and the projection others,
// and the projection would rebuild a state the log does not say.
func TestVerifyReadsEachEntryOnce(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", "r_test000001", "positive", w.now.Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
		src := &tamperSource{Source: w.db.VerifyView(), calls: map[string]int{}}
		rep, err := verify.Log(context.Background(), src, verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.Projected == 0 {
			t.Fatalf("clean log: %d rows projected, problems %v", rep.Projected, rep.Problems)
		}
		if int64(len(src.entries)) != rep.Size {
			t.Errorf("Entries served %d distinct entries of %d", len(src.entries), rep.Size)
		}
		for idx, n := range src.entries {
			if n != 1 {
				t.Errorf("Entries served entry %d %d times, want once", idx, n)
			}
		}
	})
}

// personalSource serves every entry's personal part with from replaced
// by to, as an insider who edited the live rows to match would; the
// personal parts stored beside the log (PersonalParts) it serves as
// they are, or, if hide, leaves out those that contain from (as if
// erased).
type personalSource struct {
	verify.Source
	from, to []byte
	hide     bool
}

func (s *personalSource) Entries(ctx context.Context, from, to int64, f func(store.RawEntry) error) error {
	return s.Source.Entries(ctx, from, to, func(e store.RawEntry) error {
		e.Personal = bytes.ReplaceAll(e.Personal, s.from, s.to)
		return f(e)
	})
}

func (s *personalSource) PersonalParts(ctx context.Context, f func(int64, []byte, []byte) error) error {
	return s.Source.PersonalParts(ctx, func(idx int64, salt, data []byte) error {
		if s.hide && bytes.Contains(data, s.from) {
			return nil
		}
		return f(idx, salt, data)
	})
}

// TestVerifyEntriesPersonalPartsCommitted: the personal part the
// projection applies is the one the entry commits to. An insider edits a
// fact's payload (the lab that reported the result) and serves the
// entries with their personal parts edited alike: the projection would
// rebuild the edited row, and the commitments, checked against the
// personal parts read apart (PersonalParts), would open, or, with the
// stored part left out, look erased.
func TestVerifyEntriesPersonalPartsCommitted(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", "r_test000001", "negative", w.now.Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
		raw, rebind := rawDB(t, w.db, dsn)
		const lab, forged = "郑州市疾控中心", "某检测公司"
		if _, err := raw.Exec(rebind("UPDATE facts SET payload = REPLACE(payload, ?, ?) WHERE id = 'pcr-1'"), lab, forged); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			hide bool
			want string
		}{
			{"edited", false, "was read with a personal part other than the stored one"},
			{"stored part left out", true, "but none is stored beside the log"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				src := &personalSource{Source: w.db.VerifyView(), from: []byte(lab), to: []byte(forged), hide: tt.hide}
				rep, err := verify.Log(context.Background(), src, verify.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range rep.Problems {
					if strings.Contains(p.What, tt.want) {
						return
					}
				}
				t.Errorf("want a problem containing %q, got %v", tt.want, rep.Problems)
			})
		}
	})
}

// TestVerifyNamesEntryThatSetRow: a difference names the entry that last
// set the row (projection_last, which the projector writes at each
// commit), so that whoever reads the report can open it.
func TestVerifyNamesEntryThatSetRow(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.pcr("pcr-1", "r_test000001", "negative", w.now.Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
		raw, rebind := rawDB(t, w.db, dsn)
		var idx int64
		if err := raw.QueryRow("SELECT log_index FROM facts WHERE id = 'pcr-1'").Scan(&idx); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(rebind("UPDATE facts SET payload = REPLACE(payload, ?, ?) WHERE id = 'pcr-1'"), "郑州市疾控中心", "某检测公司"); err != nil {
			t.Fatal(err)
		}
		rep, err := verify.Log(context.Background(), w.db.VerifyView(), verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			if strings.Contains(p.What, "facts s_lab:pcr-1: payload") {
				if p.Index != idx || !strings.Contains(p.What, "this entry last set it") {
					t.Errorf("the difference names entry %d (%s), want the fact's entry %d", p.Index, p.What, idx)
				}
				return
			}
		}
		t.Errorf("want a difference in facts s_lab:pcr-1's payload, got %v", rep.Problems)
	})
}
