package store

import (
	"maps"
	"slices"
)

// Disclosure control for the public statistics (issue 15 item 4).
//
// Suppressing a count below MinPublishedCount is not enough when the
// counts it adds up with are published: a community's population (which
// the public can count) minus its green and yellow residents is its red
// ones; a county's red count minus those of all its communities but one is
// that one's. So every count sits in one or more equations whose total
// the public is assumed to know (a jurisdiction's colours add up to its
// population; a jurisdiction's count of a colour is the sum of its
// children's and of those registered at it directly; a day's code changes
// by cause and by rule both add up to the day's changes, which the public
// log counts; appeals granted, denied and open add up to those filed), and
// complementary suppression hides further counts until no equation has a
// single hidden count or a hidden sum between 1 and MinPublishedCount-1.
// What the public can subtract is then always a sum of two or more hidden
// counts, and never a small one.

// A disclosure holds the cells of one set of statistics and the equations
// between them.
type disclosure struct {
	vals   []int64
	hidden []bool
	eqs    []equation
}

// An equation says that the sum of its cells, each times its coefficient
// (+1 or -1), is a value the public may know.
type equation struct {
	cells []int
	coefs []int64
}

// cell adds a count; hidden cells are never published (counts the public
// does not see, such as residents registered directly at a jurisdiction
// that also has children).
func (d *disclosure) cell(n int64, hidden bool) int {
	d.vals = append(d.vals, n)
	d.hidden = append(d.hidden, hidden)
	return len(d.vals) - 1
}

// sum records that the cells add up to a total the public may know.
func (d *disclosure) sum(cells ...int) {
	if len(cells) > 1 {
		coefs := make([]int64, len(cells))
		for i := range coefs {
			coefs[i] = 1
		}
		d.eqs = append(d.eqs, equation{cells, coefs})
	}
}

// parts records that total is the sum of parts.
func (d *disclosure) parts(total int, parts ...int) {
	coefs := make([]int64, len(parts)+1)
	coefs[0] = 1
	for i := range parts {
		coefs[i+1] = -1
	}
	d.eqs = append(d.eqs, equation{append([]int{total}, parts...), coefs})
}

// protect decides which cells are published: those below
// MinPublishedCount are suppressed, and then, until nothing changes, any
// equation with exactly one hidden cell, or whose hidden cells (times
// their coefficients) sum to between 1 and MinPublishedCount-1 in
// magnitude, hides its smallest published cell (the first of equals).
// Suppression only grows, so this ends after at most len(cells) rounds.
func (d *disclosure) protect() []Count {
	for i, n := range d.vals {
		if n < MinPublishedCount {
			d.hidden[i] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, eq := range d.eqs {
			hidden, sum, pick := 0, int64(0), -1
			for i, c := range eq.cells {
				switch {
				case d.hidden[c]:
					hidden++
					sum += eq.coefs[i] * d.vals[c]
				case pick < 0 || d.vals[c] < d.vals[pick]:
					pick = c
				}
			}
			if pick >= 0 && (hidden == 1 || (sum != 0 && max(sum, -sum) < MinPublishedCount)) {
				d.hidden[pick] = true
				changed = true
			}
		}
	}
	out := make([]Count, len(d.vals))
	for i, n := range d.vals {
		if !d.hidden[i] {
			out[i] = &n
		}
	}
	return out
}

// partitions protects counts keyed by group (a day) and then by a label
// (a cause, a rule): each group's counts add up to a total the public
// knows. Several partitions of the same groups (by cause and by rule) are
// protected together, so each is checked against the same total.
func protectPartitions(parts ...map[string]map[string]int64) []map[string]map[string]Count {
	d := &disclosure{}
	idx := make([]map[string]map[string]int, len(parts))
	for p, part := range parts {
		idx[p] = map[string]map[string]int{}
		for _, g := range slices.Sorted(maps.Keys(part)) {
			m := part[g]
			idx[p][g] = map[string]int{}
			var cells []int
			for _, k := range slices.Sorted(maps.Keys(m)) {
				c := d.cell(m[k], false)
				idx[p][g][k] = c
				cells = append(cells, c)
			}
			d.sum(cells...)
		}
	}
	pub := d.protect()
	out := make([]map[string]map[string]Count, len(parts))
	for p := range parts {
		out[p] = map[string]map[string]Count{}
		for g, m := range idx[p] {
			out[p][g] = map[string]Count{}
			for k, c := range m {
				out[p][g][k] = pub[c]
			}
		}
	}
	return out
}

// protectCodes protects the codes table: own maps each jurisdiction to
// the residents registered directly at it by colour, colours the colours
// to publish. It returns every jurisdiction with residents in its
// subtree, with a count per colour (nil when suppressed).
func protectCodes(own map[string]map[string]int64, colours []string, ancestors func(string) []string) map[string]map[string]Count {
	agg := map[string]map[string]int64{}
	children := map[string]map[string]bool{}
	for j, m := range own {
		as := ancestors(j)
		for i, a := range as {
			if agg[a] == nil {
				agg[a] = map[string]int64{}
			}
			for c, n := range m {
				agg[a][c] += n
			}
			if i > 0 {
				if children[a] == nil {
					children[a] = map[string]bool{}
				}
				children[a][as[i-1]] = true
			}
		}
	}
	d := &disclosure{}
	cells := map[string]map[string]int{}
	for _, j := range slices.Sorted(maps.Keys(agg)) {
		m := agg[j]
		cells[j] = map[string]int{}
		row := make([]int, len(colours))
		for i, c := range colours {
			row[i] = d.cell(m[c], false)
			cells[j][c] = row[i]
		}
		d.sum(row...)
	}
	for _, p := range slices.Sorted(maps.Keys(children)) {
		kids := slices.Sorted(maps.Keys(children[p]))
		var ownRow []int
		for _, c := range colours {
			var eq []int
			if m := own[p]; m != nil {
				o := d.cell(m[c], true)
				ownRow = append(ownRow, o)
				eq = append(eq, o)
			}
			for _, k := range kids {
				eq = append(eq, cells[k][c])
			}
			d.parts(cells[p][c], eq...)
		}
		d.sum(ownRow...)
	}
	pub := d.protect()
	out := map[string]map[string]Count{}
	for j, m := range cells {
		out[j] = map[string]Count{}
		for c, i := range m {
			out[j][c] = pub[i]
		}
	}
	return out
}
