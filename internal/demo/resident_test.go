package demo

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
)

var (
	residentIDRE = regexp.MustCompile(`^r_[a-z2-7]{16}$`)
	phoneRE      = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	nationalIDRE = regexp.MustCompile(`^[0-9]{17}[0-9X]$`)
)

func TestCheckDigit(t *testing.T) {
	// Examples from GB 11643-1999 and its common illustrations.
	for _, id := range []string{"11010519491231002X", "440524188001010014", "110101199003070134"} {
		if got := checkDigit([]byte(id[:17])); got != id[17] {
			t.Errorf("checkDigit(%s) = %c, want %c", id[:17], got, id[17])
		}
	}
}

// checkResident checks one resident and its national id number.
func checkResident(t *testing.T, p *Province, communities map[string]string, i int, r healthcode.Resident, nid string) {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatalf("resident %d %+v: %v", i, r, err)
	}
	if !residentIDRE.MatchString(r.ID) {
		t.Fatalf("resident %d: id %q", i, r.ID)
	}
	if !phoneRE.MatchString(r.Phone) {
		t.Fatalf("resident %d: phone %q", i, r.Phone)
	}
	if n := utf8.RuneCountInString(r.Name); n < 2 || n > 4 {
		t.Fatalf("resident %d: name %q", i, r.Name)
	}
	county, ok := communities[r.Jurisdiction]
	if !ok {
		t.Fatalf("resident %d: home %s is not a community", i, r.Jurisdiction)
	}
	if !nationalIDRE.MatchString(nid) || checkDigit([]byte(nid[:17])) != nid[17] {
		t.Fatalf("resident %d: national id %q has a bad check digit", i, nid)
	}
	if nid[:6] != county {
		t.Fatalf("resident %d: national id %s is not from county %s", i, nid, county)
	}
	birth, err := time.Parse("20060102", nid[6:14])
	if err != nil || birth.Year() < 1940 || birth.Year() > 2019 {
		t.Fatalf("resident %d: national id %s has birth date %s", i, nid, nid[6:14])
	}
	if !bytes.Equal(r.IDHash, fakeHash(nid)) {
		t.Fatalf("resident %d: IDHash is not idHash(national id)", i)
	}
	if r.CreatedAt.Before(baseTime) || r.CreatedAt.Location() != time.UTC {
		t.Fatalf("resident %d: CreatedAt %v", i, r.CreatedAt)
	}
}

// communityCounties maps each community code to its county code.
func communityCounties(p *Province) map[string]string {
	m := map[string]string{}
	for _, j := range p.Jurisdictions {
		if j.Level == healthcode.Community {
			m[j.Code] = j.Code[:6]
		}
	}
	return m
}

func TestResidents(t *testing.T) {
	const n = 100_000
	p := mustGenerate(t, Config{Seed: 11, Residents: n})
	communities := communityCounties(p)
	ids := make(map[string]bool, n)
	nids := make(map[string]bool, n)
	phones := make(map[string]bool, n)
	homes := map[string]int{}
	for i := range n {
		r, nid := p.Resident(i, fakeHash)
		checkResident(t, p, communities, i, r, nid)
		if ids[r.ID] || nids[nid] || phones[r.Phone] {
			t.Fatalf("resident %d: id %s, national id %s or phone %s repeats", i, r.ID, nid, r.Phone)
		}
		ids[r.ID], nids[nid], phones[r.Phone] = true, true, true
		homes[r.Jurisdiction]++
	}
	if len(homes) != len(communities) {
		t.Errorf("residents live in %d of %d communities", len(homes), len(communities))
	}
	// Evenly over counties, then over a county's communities: no community
	// holds more than n/6/2 + 1 (at least six counties, two communities each).
	for c, k := range homes {
		if k > n/6/2+1 {
			t.Errorf("community %s holds %d residents", c, k)
		}
	}
}

func TestResidentsAtTheTop(t *testing.T) {
	p := mustGenerate(t, Config{Seed: 5, Residents: MaxResidents})
	communities := communityCounties(p)
	nids := map[string]bool{}
	for i := MaxResidents - 10_000; i < MaxResidents; i++ {
		r, nid := p.Resident(i, fakeHash)
		checkResident(t, p, communities, i, r, nid)
		if nids[nid] {
			t.Fatalf("resident %d: national id %s repeats", i, nid)
		}
		nids[nid] = true
	}
	for _, i := range []int{-1, MaxResidents} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Resident(%d) did not panic", i)
				}
			}()
			p.Resident(i, fakeHash)
		}()
	}
}

func TestResidentIndependentOfOrder(t *testing.T) {
	const n = 2000
	p := mustGenerate(t, Config{Seed: 9, Residents: n})
	forward := make([]healthcode.Resident, n)
	for i := range n {
		forward[i], _ = p.Resident(i, fakeHash)
	}
	q := mustGenerate(t, Config{Seed: 9, Residents: n})
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		r, _ := q.Resident(i, fakeHash)
		if !reflect.DeepEqual(r, forward[i]) {
			t.Fatalf("resident %d differs when computed out of order:\n%+v\n%+v", i, r, forward[i])
		}
	}
	// The population size does not change who resident i is.
	big := mustGenerate(t, Config{Seed: 9, Residents: 10 * n})
	for i := range n {
		if r, _ := big.Resident(i, fakeHash); !reflect.DeepEqual(r, forward[i]) {
			t.Fatalf("resident %d differs in a larger province", i)
		}
	}
}

func TestResidentNilHash(t *testing.T) {
	p := mustGenerate(t, Config{Seed: 1})
	r, nid := p.Resident(0, nil)
	if r.IDHash != nil || nid == "" || strings.TrimSpace(r.Name) == "" {
		t.Errorf("Resident(0, nil) = %+v, %q", r, nid)
	}
}

func BenchmarkResident(b *testing.B) {
	p := mustGenerate(b, Config{Seed: 1, Residents: MaxResidents})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Resident(i, fakeHash)
		i++
	}
}
