package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/healthcode/healthcode"
)

// loginPrefix names each role in demo logins: <prefix>-<jurisdiction>-<n>,
// e.g. cmd-410100-1 is the first command officer of city 410100.
var loginPrefix = map[healthcode.Role]string{
	healthcode.RoleWorker:   "worker",
	healthcode.RoleTracer:   "trace",
	healthcode.RoleCommand:  "cmd",
	healthcode.RoleOperator: "op",
	healthcode.RoleAuditor:  "audit",
	healthcode.RoleAdmin:    "admin",
}

const (
	passwordChars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	passwordLen   = 20
	apiKeyChars   = "abcdefghijklmnopqrstuvwxyz0123456789"
	apiKeyLen     = 32
	loginsWanted  = 5 // residents with a login
)

// addOfficials adds, in this order: the province's admin, data operator,
// auditor and two command officers; two command officers per city; a
// flow tracer per county, and two command officers in the first county of
// the first two cities; a community worker in the first community of every
// county (where the residents with logins live).
func (p *Province) addOfficials(rng *rand.Rand) {
	add := func(role healthcode.Role, jurisdiction string, n int) {
		for k := 1; k <= n; k++ {
			p.Officials = append(p.Officials, Official{
				Official: healthcode.Official{
					ID:           "o_" + encode80(rng.Uint64(), rng.Uint64()),
					Name:         personName(rng.Uint64(), rng.Uint64(), rng.IntN(2) == 0),
					Role:         role,
					Jurisdiction: jurisdiction,
					CreatedAt:    baseTime.Add(time.Duration(len(p.Officials)) * time.Minute),
				},
				Login:    fmt.Sprintf("%s-%s-%d", loginPrefix[role], jurisdiction, k),
				Password: randomString(rng, passwordChars, passwordLen),
			})
		}
	}
	add(healthcode.RoleAdmin, provinceCode, 1)
	add(healthcode.RoleOperator, provinceCode, 1)
	add(healthcode.RoleAuditor, provinceCode, 1)
	add(healthcode.RoleCommand, provinceCode, 2)
	for _, j := range p.Jurisdictions {
		if j.Level == healthcode.City {
			add(healthcode.RoleCommand, j.Code, 2)
		}
	}
	for _, c := range p.counties {
		add(healthcode.RoleTracer, c.code, 1)
	}
	for _, c := range p.counties {
		if c.first && c.city < 2 {
			add(healthcode.RoleCommand, c.code, 2)
		}
	}
	for _, c := range p.counties {
		add(healthcode.RoleWorker, c.communities[0], 1)
	}
}

// addSources adds a PCR laboratory per city and the province-wide antigen
// reporting platform, vaccination registry and itinerary feed.
func (p *Province) addSources(rng *rand.Rand) {
	add := func(name, jurisdiction string, kinds ...string) {
		p.Sources = append(p.Sources, Source{
			Source: healthcode.Source{
				ID:           "s_" + encode80(rng.Uint64(), rng.Uint64()),
				Name:         name,
				Kinds:        kinds,
				Jurisdiction: jurisdiction,
				CreatedAt:    baseTime.Add(time.Duration(len(p.Sources)) * time.Minute),
			},
			APIKey: "hck_" + randomString(rng, apiKeyChars, apiKeyLen),
		})
	}
	for _, j := range p.Jurisdictions {
		if j.Level == healthcode.City {
			add(j.Name+"疾控中心核酸检测实验室", j.Code, "test_result")
		}
	}
	add(provinceName+"抗原检测结果上报平台", provinceCode, "test_result")
	add(provinceName+"免疫规划信息系统", provinceCode, "vaccination")
	add(provinceName+"行程数据平台", provinceCode, "area_visit")
}

// addResidentLogins gives a login to the first resident of each of the
// first few counties; each lives in the first community of the county,
// where a community worker is posted. Login: res-<community>-1.
func (p *Province) addResidentLogins(rng *rand.Rand) {
	for i := 0; i < loginsWanted && i < len(p.counties) && i < p.residents; i++ {
		// Resident i < len(p.counties) is the first of county i, in its
		// first community (see Resident).
		p.ResidentLogins = append(p.ResidentLogins, ResidentLogin{
			ResidentIndex: i,
			Login:         fmt.Sprintf("res-%s-1", p.counties[i].communities[0]),
			Password:      randomString(rng, passwordChars, passwordLen),
		})
	}
}

// randomString returns n characters drawn uniformly from alphabet.
func randomString(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for k := range b {
		b[k] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
