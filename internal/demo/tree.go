package demo

import (
	"fmt"
	"math/rand/v2"

	"github.com/healthcode/healthcode"
)

// numCities is the number of cities. The rest of the tree's shape is drawn
// from the seed: two or three counties per city, two or three streets or
// townships per county, two to four communities each.
const numCities = 3

// buildTree fills p.Jurisdictions (depth first, so parents precede
// children) and p.counties.
//
// Codes follow GB/T 2260 and its street/community extension: districts are
// numbered from 02 and rural counties from 21 within a city; sub-districts
// (街道) from 001, towns (镇) from 101 and townships (乡) from 201 within a
// county; urban communities (社区) from 001 and villages (村) from 201 within
// a street or township.
func (p *Province) buildTree(rng *rand.Rand) {
	var add adder = func(code, name string, l healthcode.Level, parent string) {
		p.Jurisdictions = append(p.Jurisdictions, healthcode.Jurisdiction{Code: code, Name: name, Level: l, Parent: parent})
	}
	add(provinceCode, provinceName, healthcode.Province, "")

	cities := sample(rng, cityStems, numCities)
	districts := rng.Perm(len(districtStems)) // unique over the province
	rural := rng.Perm(len(countyStems))
	for ci, cityStem := range cities {
		cityCode := fmt.Sprintf("%s%02d00", provinceCode[:2], ci+1)
		add(cityCode, cityStem+"市", healthcode.City, provinceCode)
		nCounties := 2 + rng.IntN(2)
		nDistrict, nRural := 0, 0
		for k := range nCounties {
			isDistrict := k == 0 || rng.IntN(2) == 0
			var code, name string
			if isDistrict {
				code = fmt.Sprintf("%s%02d", cityCode[:4], 2+nDistrict)
				name = districtStems[districts[0]] + "区"
				districts = districts[1:]
				nDistrict++
			} else {
				code = fmt.Sprintf("%s%02d", cityCode[:4], 21+nRural)
				name = countyStems[rural[0]] + "县"
				rural = rural[1:]
				nRural++
			}
			add(code, name, healthcode.County, cityCode)
			c := county{code: code, city: ci, first: k == 0}
			n := names{stems: rng.Perm(len(communityStems)), villages: map[string]bool{}}
			p.addStreets(rng, add, &c, &n, isDistrict)
			p.counties = append(p.counties, c)
		}
	}
}

// addStreets adds the streets (or towns and townships) of county c and
// their communities, and records the communities in c.
func (p *Province) addStreets(rng *rand.Rand, add adder, c *county, n *names, urban bool) {
	nStreets := 2 + rng.IntN(2)
	if urban {
		for k, stem := range sample(rng, streetStems, nStreets) {
			code := fmt.Sprintf("%s%03d", c.code, 1+k)
			add(code, stem+"街道", healthcode.Street, c.code)
			p.addCommunities(rng, add, c, n, code, 2+rng.IntN(3), 0)
		}
		return
	}
	nTown, nTownship := 0, 0
	for k, stem := range sample(rng, townStems, nStreets) {
		if k == 0 || rng.IntN(3) > 0 {
			code := fmt.Sprintf("%s%03d", c.code, 101+nTown)
			nTown++
			add(code, stem+"镇", healthcode.Street, c.code)
			m := 2 + rng.IntN(3)
			p.addCommunities(rng, add, c, n, code, 1, m-1) // the town seat is a community
		} else {
			code := fmt.Sprintf("%s%03d", c.code, 201+nTownship)
			nTownship++
			add(code, stem+"乡", healthcode.Street, c.code)
			p.addCommunities(rng, add, c, n, code, 0, 2+rng.IntN(3))
		}
	}
}

// adder adds a jurisdiction to the tree.
type adder func(code, name string, l healthcode.Level, parent string)

// names tracks the community and village names a county has used, so that
// they are unique within the county, not only within their street.
type names struct {
	stems    []int // unused indexes of communityStems, in random order
	villages map[string]bool
}

// addCommunities adds nUrban communities (社区) and nVillage villages (村)
// under street.
func (p *Province) addCommunities(rng *rand.Rand, add adder, c *county, n *names, street string, nUrban, nVillage int) {
	for k := range nUrban {
		code := fmt.Sprintf("%s%03d", street, 1+k)
		add(code, communityStems[n.stems[0]]+"社区", healthcode.Community, street)
		n.stems = n.stems[1:]
		c.communities = append(c.communities, code)
	}
	for k := range nVillage {
		var name string
		for name == "" || n.villages[name] {
			name = surnames[rng.IntN(30)].s + villageSuffixes[rng.IntN(len(villageSuffixes))] + "村"
		}
		n.villages[name] = true
		code := fmt.Sprintf("%s%03d", street, 201+k)
		add(code, name, healthcode.Community, street)
		c.communities = append(c.communities, code)
	}
}

// sample returns n distinct elements of list in random order.
func sample(rng *rand.Rand, list []string, n int) []string {
	out := make([]string, n)
	for k, i := range rng.Perm(len(list))[:n] {
		out[k] = list[i]
	}
	return out
}
