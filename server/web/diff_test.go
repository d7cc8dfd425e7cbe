package web

import (
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	old := "a\nb\nc\nd\ne\n"
	new := "a\nb\nC\nd\ne\nf\n"
	var got []string
	for _, l := range lineDiff(old, new) {
		got = append(got, string(l.Op)+l.Text)
	}
	want := []string{" a", " b", "+C", "-c", " d", " e", "+f"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("diff %q, want %q", got, want)
	}
	// Applying the diff to old gives new: every old line is kept or
	// removed in order, every new line kept or added in order.
	for _, tc := range [][2]string{{"", "x\ny"}, {"x\ny", ""}, {"p\nq\nr", "r\nq\np"}, {strings.Repeat("l\n", 50), strings.Repeat("l\n", 49) + "m\n"}} {
		var o, n []string
		for _, l := range lineDiff(tc[0], tc[1]) {
			if l.Op != '+' {
				o = append(o, l.Text)
			}
			if l.Op != '-' {
				n = append(n, l.Text)
			}
		}
		if strings.Join(o, "\n") != strings.TrimSuffix(tc[0], "\n") || strings.Join(n, "\n") != strings.TrimSuffix(tc[1], "\n") {
			t.Errorf("diff of %q and %q does not rebuild them", tc[0], tc[1])
		}
	}
	if h := hunks(lineDiff(old, old)); h != nil {
		t.Errorf("hunks of no change: %v", h)
	}
	long := strings.Repeat("same\n", 20)
	h := hunks(lineDiff(long+"x\n"+long, long+"y\n"+long))
	if len(h) != 1+2*diffContext+2+1 || h[0].Op != 0 {
		t.Errorf("hunks: %d lines %+v", len(h), h)
	}
}
