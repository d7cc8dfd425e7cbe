// Package demo generates a deterministic synthetic province for demos, load
// tests and development: a jurisdiction tree modelled on a Chinese province
// (invented names, GB/T 2260-style codes), officials of every role with demo
// credentials, registered data sources with API keys, and any number of
// residents, each computed on its own from (seed, index) so that a seeder
// can stream millions and resume anywhere.
//
// The same Config always yields byte-identical output. Nothing here reads
// the clock or a global random source.
//
// This package imports only the standard library and the root package.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/healthcode/healthcode"
)

// Limits and defaults of Config.Residents.
const (
	DefaultResidents = 10_000
	MaxResidents     = 100_000_000
)

// baseTime is the fixed time demo records are created at, plus
// deterministic offsets: officials and sources on this day, residents over
// the following months.
var baseTime = time.Date(2022, time.January, 1, 0, 0, 0, 0, time.UTC)

// Config selects a province. The zero Config is valid: seed 0 with
// DefaultResidents residents.
type Config struct {
	Seed      int64
	Residents int // 0 means DefaultResidents; at most MaxResidents
}

// An Official is a demo official with a login and a plaintext password; the
// store hashes the password when it seeds the account.
type Official struct {
	healthcode.Official
	Login, Password string
}

// A Source is a demo data source with its plaintext API key.
type Source struct {
	healthcode.Source
	APIKey string
}

// A ResidentLogin gives the resident Resident(ResidentIndex) a login, so a
// demo can sign in as a resident.
type ResidentLogin struct {
	ResidentIndex   int
	Login, Password string
}

// A Province is a generated demo province. Its residents are not held in
// memory: call Resident for each index.
type Province struct {
	Jurisdictions  []healthcode.Jurisdiction // parents before children
	Officials      []Official
	Sources        []Source
	ResidentLogins []ResidentLogin // a few residents, in distinct counties

	seed      int64
	residents int
	counties  []county // residents are spread over counties, then communities

	idKey  [2]uint64 // keys of the resident id permutation
	pcgKey uint64    // first PCG seed word of per-resident randomness
	birthA uint64    // national id (birth day, sequence) permutation: u → (A·u + B) mod birthSpace
	birthB uint64
	phoneA uint64 // phone permutation: i → (A·i + B) mod phoneSpace
	phoneB uint64
}

// county is a county-level jurisdiction and the communities under it.
type county struct {
	code        string
	city        int    // index of its city
	first       bool   // the first county of its city
	birthOffset uint64 // added to the (birth day, sequence) permutation, so counties differ
	communities []string
}

// Generate validates cfg and builds the province it describes.
func Generate(cfg Config) (*Province, error) {
	if cfg.Residents == 0 {
		cfg.Residents = DefaultResidents
	}
	if cfg.Residents < 1 || cfg.Residents > MaxResidents {
		return nil, healthcode.FieldErrorf("residents", "must be 1 to %d, not %d", MaxResidents, cfg.Residents)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6865616c7468636f)) // "healthco"
	p := &Province{seed: cfg.Seed, residents: cfg.Residents}
	p.buildTree(rng)
	p.idKey = [2]uint64{rng.Uint64(), rng.Uint64()}
	p.pcgKey = rng.Uint64()
	p.birthA = coprime(rng, birthSpace)
	p.birthB = rng.Uint64N(birthSpace)
	for k := range p.counties {
		p.counties[k].birthOffset = rng.Uint64N(birthSpace)
	}
	p.phoneA = coprime(rng, phoneSpace())
	p.phoneB = rng.Uint64N(phoneSpace())
	p.addOfficials(rng)
	p.addSources(rng)
	p.addResidentLogins(rng)
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("generate demo province: %w", err)
	}
	return p, nil
}

// Residents returns the number of residents: Resident accepts 0 <= i < Residents().
func (p *Province) Residents() int { return p.residents }

// Seed returns the seed the province was generated from.
func (p *Province) Seed() int64 { return p.seed }

// validate checks every generated record against the domain rules, and
// that ids and logins are unique.
func (p *Province) validate() error {
	seen := map[string]bool{}
	unique := func(kind, s string) error {
		if seen[kind+"\x00"+s] {
			return fmt.Errorf("duplicate %s %q", kind, s)
		}
		seen[kind+"\x00"+s] = true
		return nil
	}
	for i := range p.Jurisdictions {
		j := &p.Jurisdictions[i]
		if err := j.Validate(); err != nil {
			return fmt.Errorf("jurisdiction %s: %w", j.Code, err)
		}
		if err := unique("jurisdiction", j.Code); err != nil {
			return err
		}
	}
	for i := range p.Officials {
		o := &p.Officials[i]
		if err := o.Validate(); err != nil {
			return fmt.Errorf("official %s: %w", o.Login, err)
		}
		if err := unique("id", o.ID); err != nil {
			return err
		}
		if err := unique("login", o.Login); err != nil {
			return err
		}
	}
	for i := range p.Sources {
		s := &p.Sources[i]
		if err := s.Validate(); err != nil {
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
		if err := unique("id", s.ID); err != nil {
			return err
		}
	}
	for _, l := range p.ResidentLogins {
		if err := unique("login", l.Login); err != nil {
			return err
		}
	}
	return nil
}

// coprime returns a random multiplier in [n/4, n) coprime with n, for an
// affine permutation of [0, n).
func coprime(rng *rand.Rand, n uint64) uint64 {
	for {
		a := n/4 + rng.Uint64N(n-n/4)
		if gcd(a, n) == 1 {
			return a
		}
	}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
