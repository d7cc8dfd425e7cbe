package web

import "strings"

// diffLine is one line of a line diff: Op is ' ' (in both), '-' (only in
// the old text) or '+' (only in the new); Old and New are line numbers
// (0: none).
type diffLine struct {
	Op       byte
	Old, New int
	Text     string
}

// maxDiffCells bounds the longest-common-subsequence table lineDiff
// builds (the lines that differ, old × new); past it, the differing lines
// are shown as all removed and all added. A ruleset is at most 256 KiB,
// and a new version usually changes a few lines.
const maxDiffCells = 4 << 20

// lineDiff is the line diff of old and new: common lines at both ends
// trimmed, then a longest common subsequence of the rest.
func lineDiff(old, new string) []diffLine {
	a, b := splitLines(old), splitLines(new)
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []diffLine
	for i := 0; i < pre; i++ {
		out = append(out, diffLine{Op: ' ', Old: i + 1, New: i + 1, Text: a[i]})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	if n*m > maxDiffCells {
		for i, l := range ma {
			out = append(out, diffLine{Op: '-', Old: pre + i + 1, Text: l})
		}
		for j, l := range mb {
			out = append(out, diffLine{Op: '+', New: pre + j + 1, Text: l})
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:], in one slice.
		lcs := make([]int32, (n+1)*(m+1))
		at := func(i, j int) int32 { return lcs[i*(m+1)+j] }
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				v := max(at(i+1, j), at(i, j+1))
				if ma[i] == mb[j] {
					v = at(i+1, j+1) + 1
				}
				lcs[i*(m+1)+j] = v
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				out = append(out, diffLine{Op: ' ', Old: pre + i + 1, New: pre + j + 1, Text: ma[i]})
				i, j = i+1, j+1
			case j < m && (i == n || at(i, j+1) >= at(i+1, j)):
				out = append(out, diffLine{Op: '+', New: pre + j + 1, Text: mb[j]})
				j++
			default:
				out = append(out, diffLine{Op: '-', Old: pre + i + 1, Text: ma[i]})
				i++
			}
		}
	}
	for k := 0; k < suf; k++ {
		out = append(out, diffLine{Op: ' ', Old: len(a) - suf + k + 1, New: len(b) - suf + k + 1, Text: a[len(a)-suf+k]})
	}
	return out
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// diffContext is how many unchanged lines a hunk shows around a change.
const diffContext = 3

// hunks keeps the changed lines of d and diffContext lines around each,
// with a nil-text gap marker (Op 0) where lines are left out. It returns
// nil if nothing changed.
func hunks(d []diffLine) []diffLine {
	keep := make([]bool, len(d))
	changed := false
	for i, l := range d {
		if l.Op != ' ' {
			changed = true
			for k := max(0, i-diffContext); k <= min(len(d)-1, i+diffContext); k++ {
				keep[k] = true
			}
		}
	}
	if !changed {
		return nil
	}
	var out []diffLine
	for i, l := range d {
		if keep[i] {
			out = append(out, l)
		} else if len(out) == 0 || out[len(out)-1].Op != 0 {
			out = append(out, diffLine{})
		}
	}
	return out
}
