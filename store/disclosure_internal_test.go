package store

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// The subtraction attack (issue 15 item 4): an attacker who knows every
// jurisdiction's population (the public log counts registrations) and
// reads /v1/stats solves every equation the counts obey, by Gaussian
// elimination over the rationals, and must not find any suppressed count
// between 1 and MinPublishedCount-1.

var testColours = []string{"green", "yellow", "red"}

// pathAncestors is healthcode.Ancestors for test jurisdictions written as
// paths: "p/a/x" → "p/a/x", "p/a", "p".
func pathAncestors(j string) []string {
	var out []string
	for {
		out = append(out, j)
		i := strings.LastIndexByte(j, '/')
		if i < 0 {
			return out
		}
		j = j[:i]
	}
}

// randomProvince returns residents by jurisdiction and colour, registered
// at leaves and sometimes directly at inner jurisdictions, with many small
// counts.
func randomProvince(r *rand.Rand) map[string]map[string]int64 {
	own := map[string]map[string]int64{}
	add := func(j string) {
		m := map[string]int64{}
		for _, c := range testColours {
			switch r.IntN(4) {
			case 0:
				m[c] = 0
			case 1:
				m[c] = int64(1 + r.IntN(9))
			default:
				m[c] = int64(r.IntN(60))
			}
		}
		own[j] = m
	}
	for a := range 1 + r.IntN(3) {
		for b := range 1 + r.IntN(3) {
			for c := range 1 + r.IntN(4) {
				add(fmt.Sprintf("p/%d/%d/%d", a, b, c))
			}
			if r.IntN(4) == 0 {
				add(fmt.Sprintf("p/%d/%d", a, b))
			}
		}
	}
	return own
}

// attack returns the suppressed counts below the threshold the attacker
// can work out exactly, as "jurisdiction colour = n".
func attack(own map[string]map[string]int64, pub map[string]map[string]Count) []string {
	agg := map[string]map[string]int64{}
	kids := map[string]map[string]bool{}
	for j, m := range own {
		as := pathAncestors(j)
		for i, a := range as {
			if agg[a] == nil {
				agg[a] = map[string]int64{}
			}
			for c, n := range m {
				agg[a][c] += n
			}
			if i > 0 {
				if kids[a] == nil {
					kids[a] = map[string]bool{}
				}
				kids[a][as[i-1]] = true
			}
		}
	}
	// Variables: every count; known ones are substituted.
	type term struct {
		name string
		val  int64
		coef int64
	}
	var eqs [][]term
	var names []string
	index := map[string]int{}
	varOf := func(name string) {
		if _, ok := index[name]; !ok {
			index[name] = len(names)
			names = append(names, name)
		}
	}
	known := func(name string, j, c string) bool {
		if strings.HasPrefix(name, "own ") {
			return false
		}
		return pub[j][c] != nil
	}
	for j, m := range agg {
		var row []term
		for _, c := range testColours {
			row = append(row, term{j + " " + c, m[c], 1})
		}
		eqs = append(eqs, row) // total: the population
	}
	for p, ks := range kids {
		for _, c := range testColours {
			eq := []term{{p + " " + c, agg[p][c], 1}}
			if own[p] != nil {
				eq = append(eq, term{"own " + p + " " + c, own[p][c], -1})
			}
			for k := range ks {
				eq = append(eq, term{k + " " + c, agg[k][c], -1})
			}
			eqs = append(eqs, eq)
		}
		if own[p] != nil {
			var row []term
			for _, c := range testColours {
				row = append(row, term{"own " + p + " " + c, own[p][c], 1})
			}
			eqs = append(eqs, row)
		}
	}
	type linEq struct {
		coefs map[int]int64
		rhs   int64
	}
	var sys []linEq
	vals := map[int]int64{}
	for _, eq := range eqs {
		le := linEq{coefs: map[int]int64{}}
		for _, t := range eq {
			f := strings.Fields(t.name)
			j, c := f[len(f)-2], f[len(f)-1]
			le.rhs += t.coef * t.val // the true total of the equation
			if known(t.name, j, c) {
				continue
			}
			varOf(t.name)
			le.coefs[index[t.name]] += t.coef
			vals[index[t.name]] = t.val
		}
		// Move the known terms to the right-hand side.
		for _, t := range eq {
			f := strings.Fields(t.name)
			if known(t.name, f[len(f)-2], f[len(f)-1]) {
				le.rhs -= t.coef * t.val
			}
		}
		sys = append(sys, le)
	}
	// Gaussian elimination to reduced row echelon form.
	n := len(names)
	m := make([][]*big.Rat, len(sys))
	for i, le := range sys {
		m[i] = make([]*big.Rat, n+1)
		for k := range m[i] {
			m[i][k] = new(big.Rat)
		}
		for v, c := range le.coefs {
			m[i][v].SetInt64(c)
		}
		m[i][n].SetInt64(le.rhs)
	}
	row := 0
	for col := 0; col < n && row < len(m); col++ {
		piv := -1
		for i := row; i < len(m); i++ {
			if m[i][col].Sign() != 0 {
				piv = i
				break
			}
		}
		if piv < 0 {
			continue
		}
		m[row], m[piv] = m[piv], m[row]
		inv := new(big.Rat).Inv(m[row][col])
		for k := range m[row] {
			m[row][k].Mul(m[row][k], inv)
		}
		for i := range m {
			if i == row || m[i][col].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Set(m[i][col])
			for k := range m[i] {
				m[i][k].Sub(m[i][k], new(big.Rat).Mul(f, m[row][k]))
			}
		}
		row++
	}
	var found []string
	for i := range row {
		nz := -1
		single := true
		for k := range n {
			if m[i][k].Sign() != 0 {
				if nz >= 0 {
					single = false
					break
				}
				nz = k
			}
		}
		if nz < 0 || !single {
			continue
		}
		if v := vals[nz]; v > 0 && v < MinPublishedCount && !strings.HasPrefix(names[nz], "own ") {
			found = append(found, fmt.Sprintf("%s = %d", names[nz], v))
		}
	}
	return found
}

func TestStatsSubtractionAttack(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 4))
	for i := range 300 {
		own := randomProvince(r)
		pub := protectCodes(own, testColours, pathAncestors)
		if found := attack(own, pub); len(found) > 0 {
			t.Fatalf("province %d: the subtraction attack found suppressed counts: %v", i, found)
		}
	}
}

// TestStatsSubtractionAttackFindsPlainSuppression shows the attack works:
// suppression without complements gives counts away.
func TestStatsSubtractionAttackFindsPlainSuppression(t *testing.T) {
	own := map[string]map[string]int64{"p/a": {"green": 50, "yellow": 20, "red": 3}, "p/b": {"green": 40, "yellow": 30, "red": 25}}
	plain := map[string]map[string]Count{}
	for _, j := range []string{"p", "p/a", "p/b"} {
		plain[j] = map[string]Count{}
	}
	for j, m := range own {
		for c, n := range m {
			plain[j][c] = publish(n)
			sum := own["p/a"][c] + own["p/b"][c]
			plain["p"][c] = publish(sum)
		}
	}
	if found := attack(own, plain); len(found) == 0 {
		t.Fatal("the attack found nothing in plainly suppressed counts")
	}
	if found := attack(own, protectCodes(own, testColours, pathAncestors)); len(found) > 0 {
		t.Fatalf("protected counts: the attack found %v", found)
	}
}

func TestProtectPartitions(t *testing.T) {
	// One day: by cause 40 fact, 3 ruleset; by rule 30 r1, 13 r2. The day's
	// total (43) is public, so 3 must take another cause with it.
	pub := protectPartitions(map[string]map[string]int64{"d": {"fact": 40, "ruleset": 3}}, map[string]map[string]int64{"d": {"r1": 30, "r2": 13}})
	if pub[0]["d"]["ruleset"] != nil || pub[0]["d"]["fact"] != nil {
		t.Errorf("by cause: %v %v, want both suppressed", pub[0]["d"]["fact"], pub[0]["d"]["ruleset"])
	}
	if pub[1]["d"]["r1"] == nil || *pub[1]["d"]["r1"] != 30 {
		t.Errorf("by rule: r1 %v, want 30", pub[1]["d"]["r1"])
	}
}
