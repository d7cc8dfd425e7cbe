package demo

import (
	"crypto/sha256"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
)

func mustGenerate(t testing.TB, cfg Config) *Province {
	t.Helper()
	p, err := Generate(cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return p
}

func fakeHash(nationalID string) []byte {
	h := sha256.Sum256([]byte(nationalID))
	return h[:]
}

func TestGenerateConfig(t *testing.T) {
	tests := []struct {
		residents int
		want      int // 0: an EINVALID error
	}{
		{0, DefaultResidents},
		{1, 1},
		{MaxResidents, MaxResidents},
		{-1, 0},
		{MaxResidents + 1, 0},
	}
	for _, tt := range tests {
		p, err := Generate(Config{Seed: 1, Residents: tt.residents})
		if tt.want == 0 {
			if got := healthcode.ErrorCode(err); got != healthcode.EINVALID {
				t.Errorf("Generate(Residents: %d): error code %q, want %q", tt.residents, got, healthcode.EINVALID)
			}
			continue
		}
		if err != nil {
			t.Errorf("Generate(Residents: %d): %v", tt.residents, err)
			continue
		}
		if got := p.Residents(); got != tt.want {
			t.Errorf("Generate(Residents: %d).Residents() = %d, want %d", tt.residents, got, tt.want)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a := mustGenerate(t, Config{Seed: 42})
	b := mustGenerate(t, Config{Seed: 42})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two provinces from seed 42 differ")
	}
	for i := range 1000 {
		ra, na := a.Resident(i, fakeHash)
		rb, nb := b.Resident(i, fakeHash)
		if !reflect.DeepEqual(ra, rb) || na != nb {
			t.Fatalf("resident %d differs between two provinces from seed 42", i)
		}
	}

	c := mustGenerate(t, Config{Seed: 43})
	if reflect.DeepEqual(a.Officials, c.Officials) || reflect.DeepEqual(a.Sources, c.Sources) {
		t.Error("seeds 42 and 43 give the same officials or sources")
	}
	ra, _ := a.Resident(0, fakeHash)
	rc, _ := c.Resident(0, fakeHash)
	if ra.ID == rc.ID {
		t.Errorf("seeds 42 and 43 give resident 0 the same id %s", ra.ID)
	}
}

func TestJurisdictions(t *testing.T) {
	for seed := range int64(20) {
		p := mustGenerate(t, Config{Seed: seed})
		seen := map[string]healthcode.Jurisdiction{}
		names := map[string]bool{} // parent + name
		children := map[string]int{}
		for _, j := range p.Jurisdictions {
			if strings.HasSuffix(j.Name, "县县") {
				t.Errorf("seed %d: name %s", seed, j.Name)
			}
			if err := j.Validate(); err != nil {
				t.Errorf("seed %d: %+v: %v", seed, j, err)
			}
			if _, dup := seen[j.Code]; dup {
				t.Errorf("seed %d: duplicate code %s", seed, j.Code)
			}
			if j.Level != healthcode.Province {
				if _, ok := seen[j.Parent]; !ok {
					t.Errorf("seed %d: %s %s comes before its parent %s", seed, j.Code, j.Name, j.Parent)
				}
				if got := healthcode.ParentCode(j.Code); got != j.Parent {
					t.Errorf("seed %d: %s has parent %s, its code implies %s", seed, j.Code, j.Parent, got)
				}
			}
			if names[j.Parent+"/"+j.Name] {
				t.Errorf("seed %d: name %s is not unique under %s", seed, j.Name, j.Parent)
			}
			names[j.Parent+"/"+j.Name] = true
			if j.Level == healthcode.Community {
				// Communities are unique within their county too.
				if names[j.Code[:6]+"/"+j.Name] {
					t.Errorf("seed %d: community %s is not unique in county %s", seed, j.Name, j.Code[:6])
				}
				names[j.Code[:6]+"/"+j.Name] = true
			}
			seen[j.Code] = j
			children[j.Parent]++
		}
		// The shape: one province, three cities, 2–3 counties per city, 2–3
		// streets per county, 2–4 communities per street.
		want := map[healthcode.Level][2]int{
			healthcode.Province:  {3, 3},
			healthcode.City:      {2, 3},
			healthcode.County:    {2, 3},
			healthcode.Street:    {2, 4},
			healthcode.Community: {0, 0},
		}
		if p.Jurisdictions[0].Level != healthcode.Province || children[""] != 1 {
			t.Errorf("seed %d: want exactly one province, first", seed)
		}
		for _, j := range p.Jurisdictions {
			n, r := children[j.Code], want[j.Level]
			if n < r[0] || n > r[1] {
				t.Errorf("seed %d: %s %s (%s) has %d children, want %d to %d", seed, j.Code, j.Name, j.Level, n, r[0], r[1])
			}
		}
	}
}

var (
	loginRE    = regexp.MustCompile(`^(worker|trace|cmd|op|audit|admin)-[0-9]{6,12}-[0-9]+$`)
	idRE       = regexp.MustCompile(`^[ors]_[a-z2-7]{16}$`)
	apiKeyRE   = regexp.MustCompile(`^hck_[a-z0-9]{32}$`)
	resLoginRE = regexp.MustCompile(`^res-[0-9]{12}-1$`)
)

func TestOfficials(t *testing.T) {
	p := mustGenerate(t, Config{Seed: 7})
	codes := map[string]healthcode.Jurisdiction{}
	for _, j := range p.Jurisdictions {
		codes[j.Code] = j
	}
	roles := map[healthcode.Role]int{}
	commands := map[string]int{} // jurisdiction → command officers
	logins := map[string]bool{}
	ids := map[string]bool{}
	for _, o := range p.Officials {
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", o.Login, err)
		}
		if _, ok := codes[o.Jurisdiction]; !ok {
			t.Errorf("%s: post %s is not in the tree", o.Login, o.Jurisdiction)
		}
		if !loginRE.MatchString(o.Login) || !strings.HasPrefix(o.Login, loginPrefix[o.Role]+"-"+o.Jurisdiction+"-") {
			t.Errorf("login %q does not say role %s at %s", o.Login, o.Role, o.Jurisdiction)
		}
		if !idRE.MatchString(o.ID) || !strings.HasPrefix(o.ID, "o_") {
			t.Errorf("%s: id %q", o.Login, o.ID)
		}
		if len(o.Password) < 16 {
			t.Errorf("%s: password %q is shorter than 16", o.Login, o.Password)
		}
		if logins[o.Login] || ids[o.ID] {
			t.Errorf("%s: duplicate login or id", o.Login)
		}
		logins[o.Login], ids[o.ID] = true, true
		roles[o.Role]++
		if o.Role == healthcode.RoleCommand {
			commands[o.Jurisdiction]++
		}
	}
	for _, r := range healthcode.Roles {
		if r != healthcode.RoleResident && roles[r] == 0 {
			t.Errorf("no official has role %s", r)
		}
	}
	counties := 0
	for _, j := range p.Jurisdictions {
		switch j.Level {
		case healthcode.Province, healthcode.City:
			if commands[j.Code] < 2 {
				t.Errorf("%s %s has %d command officers, want at least 2", j.Code, j.Name, commands[j.Code])
			}
		case healthcode.County:
			if commands[j.Code] >= 2 {
				counties++
			}
		}
	}
	if counties < 2 {
		t.Errorf("%d counties have two command officers, want at least 2", counties)
	}
}

func TestSources(t *testing.T) {
	p := mustGenerate(t, Config{Seed: 7})
	kinds := map[string]int{}
	ids := map[string]bool{}
	labs := 0
	for _, s := range p.Sources {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		if !idRE.MatchString(s.ID) || !strings.HasPrefix(s.ID, "s_") || ids[s.ID] {
			t.Errorf("%s: bad or duplicate id %q", s.Name, s.ID)
		}
		ids[s.ID] = true
		if !apiKeyRE.MatchString(s.APIKey) {
			t.Errorf("%s: API key %q", s.Name, s.APIKey)
		}
		for _, k := range s.Kinds {
			kinds[k]++
		}
		if strings.Contains(s.Name, "核酸") {
			labs++
		}
	}
	if labs != numCities {
		t.Errorf("%d PCR labs, want one per city (%d)", labs, numCities)
	}
	if kinds["test_result"] < numCities+1 || kinds["vaccination"] != 1 || kinds["area_visit"] != 1 {
		t.Errorf("source kinds %v", kinds)
	}
}

func TestResidentLogins(t *testing.T) {
	p := mustGenerate(t, Config{Seed: 3})
	if len(p.ResidentLogins) != loginsWanted {
		t.Fatalf("%d resident logins, want %d", len(p.ResidentLogins), loginsWanted)
	}
	workers := map[string]bool{}
	for _, o := range p.Officials {
		if o.Role == healthcode.RoleWorker {
			workers[o.Jurisdiction] = true
		}
	}
	homes := map[string]bool{}
	for _, l := range p.ResidentLogins {
		r, _ := p.Resident(l.ResidentIndex, fakeHash)
		if !resLoginRE.MatchString(l.Login) || !strings.Contains(l.Login, r.Jurisdiction) {
			t.Errorf("login %q for resident %d at %s", l.Login, l.ResidentIndex, r.Jurisdiction)
		}
		if len(l.Password) < 16 {
			t.Errorf("%s: password %q is shorter than 16", l.Login, l.Password)
		}
		if !workers[r.Jurisdiction] {
			t.Errorf("%s: no community worker at %s", l.Login, r.Jurisdiction)
		}
		if homes[r.Jurisdiction] {
			t.Errorf("%s: two logins in community %s", l.Login, r.Jurisdiction)
		}
		homes[r.Jurisdiction] = true
	}

	small := mustGenerate(t, Config{Seed: 3, Residents: 2})
	if len(small.ResidentLogins) != 2 {
		t.Errorf("2 residents: %d logins, want 2", len(small.ResidentLogins))
	}
}
