package tlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// A Witness is a party that cosigns the log's checkpoints after checking
// they are consistent with every one it cosigned before (C2SP
// tlog-witness), with timestamped cosignatures (C2SP tlog-cosignature).
type Witness struct {
	Name     string        // the name of its key, as in its cosignature lines
	VKey     string        // its verifier key, as configured
	Verifier note.Verifier // checks its cosignature/v1 signatures
	URL      string        // its tlog-witness prefix (POST URL/add-checkpoint); "" for a verifier
}

// ParseWitness parses a witness's verifier key, in the note vkey format
// (name+hash+base64 of a cosignature/v1 Ed25519 or ML-DSA-44 key), with an
// optional "NAME=" before it that must repeat the key's name.
func ParseWitness(s string) (Witness, error) {
	vkey := s
	if i, j := strings.IndexByte(s, '='), strings.IndexByte(s, '+'); i >= 0 && (j < 0 || i < j) {
		name := s[:i]
		vkey = s[i+1:]
		if kname, _, _ := strings.Cut(vkey, "+"); kname != name {
			return Witness{}, fmt.Errorf("witness %q: the key is named %q", name, kname)
		}
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return Witness{}, fmt.Errorf("witness key %q: %v", vkey, err)
	}
	return Witness{Name: v.Name(), VKey: vkey, Verifier: v}, nil
}

// A Policy is what a checkpoint needs to be believed: cosignatures of at
// least Quorum of its Witnesses and, if MaxAge is set, a quorum of them no
// older than MaxAge by Now (time.Now if nil): the witnesses' timestamps say
// the log was live then, so a log that stopped growing, or a server that
// keeps serving an old checkpoint to hide newer entries, is refused.
type Policy struct {
	Witnesses []Witness
	Quorum    int
	MaxAge    time.Duration
	Now       func() time.Time
}

// NewPolicy returns the policy "quorum of witnesses", checking that the
// witnesses have distinct names and that 1 <= quorum <= len(witnesses).
func NewPolicy(witnesses []Witness, quorum int) (*Policy, error) {
	if len(witnesses) == 0 {
		return nil, errors.New("a witness policy needs at least one witness")
	}
	if quorum < 1 || quorum > len(witnesses) {
		return nil, fmt.Errorf("quorum %d of %d witnesses: must be between 1 and %d", quorum, len(witnesses), len(witnesses))
	}
	seen := map[string]bool{}
	for _, w := range witnesses {
		if seen[w.Name] {
			return nil, fmt.Errorf("witness %q is named twice", w.Name)
		}
		seen[w.Name] = true
	}
	return &Policy{Witnesses: slices.Clone(witnesses), Quorum: quorum}, nil
}

// ParsePolicy parses a witness policy file: one line per witness,
//
//	witness NAME VKEY [URL]
//
// and one quorum line, "quorum K" (a number) or "quorum all". Blank lines
// and text after '#' are ignored. The server needs each witness's URL, a
// verifier does not. Errors name the line.
func ParsePolicy(text []byte) (*Policy, error) {
	var ws []Witness
	quorum := -1
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "witness" && (len(f) == 3 || len(f) == 4):
			w, err := ParseWitness(f[2])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			if w.Name != f[1] {
				return nil, fmt.Errorf("line %d: witness %q: the key is named %q", n, f[1], w.Name)
			}
			if len(f) == 4 {
				u, err := url.Parse(f[3])
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return nil, fmt.Errorf("line %d: witness %q: URL %q is not an http(s) URL", n, f[1], f[3])
				}
				w.URL = strings.TrimSuffix(f[3], "/")
			}
			ws = append(ws, w)
		case f[0] == "quorum" && len(f) == 2 && quorum < 0:
			if f[1] == "all" {
				quorum = 0 // resolved below
				continue
			}
			k, err := strconv.Atoi(f[1])
			if err != nil || k < 1 {
				return nil, fmt.Errorf("line %d: quorum %q: want a positive number or \"all\"", n, f[1])
			}
			quorum = k
		default:
			return nil, fmt.Errorf("line %d: want \"witness NAME VKEY [URL]\" or one \"quorum K|all\", not %q", n, strings.TrimSpace(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch quorum {
	case -1:
		return nil, errors.New("the policy has no quorum line")
	case 0:
		quorum = len(ws)
	}
	return NewPolicy(ws, quorum)
}

// String describes the policy, e.g. "2 of w1, w2".
func (p *Policy) String() string {
	names := make([]string, len(p.Witnesses))
	for i, w := range p.Witnesses {
		names[i] = w.Name
	}
	return fmt.Sprintf("%d of %s", p.Quorum, strings.Join(names, ", "))
}

// A Cosignature is one witness's verified cosignature on a checkpoint.
type Cosignature struct {
	Witness string    // the witness's name
	Time    time.Time // when it cosigned (its timestamp)
	Line    string    // the signature line, "— name base64\n"
}

// ErrNoQuorum is wrapped by the error of a checkpoint that lacks the
// cosignatures its policy requires; ErrStale by that of one whose quorum of
// cosignatures is older than the policy's MaxAge.
var (
	ErrNoQuorum = errors.New("tlog: checkpoint not cosigned by a quorum of witnesses")
	ErrStale    = errors.New("tlog: checkpoint's cosignatures are too old")
)

// Cosignatures returns the policy's witnesses' valid cosignatures on the
// signed checkpoint msg, in policy order. Signatures by other keys are
// ignored; a cosignature line that names a policy witness's key but does
// not verify is an error.
func (p *Policy) Cosignatures(msg []byte) ([]Cosignature, error) {
	vs := make([]note.Verifier, len(p.Witnesses))
	for i, w := range p.Witnesses {
		vs[i] = w.Verifier
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	var out []Cosignature
	for _, w := range p.Witnesses {
		for _, s := range n.Sigs {
			if s.Name != w.Name || s.Hash != w.Verifier.KeyHash() {
				continue
			}
			t, err := fnote.CoSigV1Timestamp(s)
			if err != nil {
				return nil, fmt.Errorf("%w: cosignature of %s: %v", ErrBadCheckpoint, w.Name, err)
			}
			out = append(out, Cosignature{Witness: w.Name, Time: t.UTC(), Line: sigLine(s)})
			break
		}
	}
	return out, nil
}

// Check returns the cosignatures on msg if they meet the policy, and
// otherwise an error wrapping ErrNoQuorum that says which are missing.
// msg's log signature is the caller's to check (OpenCheckpoint).
func (p *Policy) Check(msg []byte) ([]Cosignature, error) {
	cs, err := p.Cosignatures(msg)
	if err != nil {
		return nil, err
	}
	if len(cs) >= p.Quorum {
		if p.MaxAge > 0 {
			now := time.Now
			if p.Now != nil {
				now = p.Now
			}
			if at := p.QuorumTime(cs); now().Sub(at) > p.MaxAge {
				return cs, fmt.Errorf("%w: the quorum of %s cosigned at %s, %s ago, more than %s",
					ErrStale, p, at.Format(time.RFC3339), now().Sub(at).Round(time.Second), p.MaxAge)
			}
		}
		return cs, nil
	}
	var missing []string
	for _, w := range p.Witnesses {
		if !slices.ContainsFunc(cs, func(c Cosignature) bool { return c.Witness == w.Name }) {
			missing = append(missing, w.Name)
		}
	}
	return cs, fmt.Errorf("%w: %d of the %d cosignatures required (policy %s); none from %s",
		ErrNoQuorum, len(cs), p.Quorum, p, strings.Join(missing, ", "))
}

// QuorumTime is when the policy was met by cs: the Quorum-th newest
// cosignature time. Zero if cs does not meet the policy.
func (p *Policy) QuorumTime(cs []Cosignature) time.Time {
	if len(cs) < p.Quorum {
		return time.Time{}
	}
	ts := make([]time.Time, len(cs))
	for i, c := range cs {
		ts[i] = c.Time
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return b.Compare(a) })
	return ts[p.Quorum-1]
}

// sigLine formats a note signature line.
func sigLine(s note.Signature) string { return "— " + s.Name + " " + s.Base64 + "\n" }

// WithCosignatures returns the signed checkpoint msg with the cosignature
// lines cs added after its own signatures.
func WithCosignatures(msg []byte, cs []Cosignature) []byte {
	out := slices.Clip(msg)
	for _, c := range cs {
		out = append(out, c.Line...)
	}
	return out
}
