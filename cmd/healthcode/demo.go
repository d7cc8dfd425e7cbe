package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/atomicfile"
	"github.com/healthcode/healthcode/internal/demo"
	"github.com/healthcode/healthcode/store"
)

func runDemo(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "demo", "demo [--db DB] [--residents N] [--seed N]")
	db := dbFlag(e, fs)
	residents := fs.Int("residents", 10000, "residents in the demo province")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same province")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	if *residents < 1 || *residents > demo.MaxResidents {
		return usagef("--residents must be between 1 and %d", demo.MaxResidents)
	}
	st, err := store.Open(ctx, *db, store.Options{KeySecret: optionalKeySecret(e, *db)})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer closeStore(st, &err)
	creds, err := seedDemo(ctx, cliLogger(e), st, *db, *seed, *residents)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(creds)
	fmt.Fprintf(e.stdout, "demo credentials written to %s\n", abs)
	return nil
}

// credentialsPath is demo-credentials.json beside a SQLite file, or in the
// working directory for PostgreSQL.
func credentialsPath(dsn string) string {
	engine, target, err := store.ParseDSN(dsn)
	if err != nil || engine != store.SQLite {
		return "demo-credentials.json"
	}
	return filepath.Join(filepath.Dir(target), "demo-credentials.json")
}

// seedDemo seeds the demo province into st unless it is there already,
// resumes an interrupted seeding, and writes the credentials file. Progress
// goes to log.
func seedDemo(ctx context.Context, log *slog.Logger, st *store.DB, dsn string, seed int64, residents int) (string, error) {
	p, err := demo.Generate(demo.Config{Seed: seed, Residents: residents})
	if err != nil {
		return "", err
	}
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "demo-seeder", Name: "demo seeder"})
	js, err := st.Jurisdictions(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case len(js) == 0:
		log.Info("seeding demo province", "province", p.Jurisdictions[0].Name, "seed", seed, "residents", residents)
		if err := st.CreateJurisdictions(sys, p.Jurisdictions); err != nil {
			return "", fmt.Errorf("seed jurisdictions: %w", err)
		}
		for _, o := range p.Officials {
			if err := st.CreateOfficial(sys, o.Official, o.Login, o.Password); err != nil {
				return "", fmt.Errorf("seed official %s: %w", o.Login, err)
			}
		}
		for _, s := range p.Sources {
			if err := st.CreateSource(sys, s.Source, s.APIKey); err != nil {
				return "", fmt.Errorf("seed source %s: %w", s.ID, err)
			}
		}
	case js[0].Code != p.Jurisdictions[0].Code || js[0].Name != p.Jurisdictions[0].Name:
		return "", healthcode.Errorf(healthcode.ECONFLICT, "the database already holds another province (%s %s); use an empty database for the demo", js[0].Code, js[0].Name)
	}

	have, err := st.CountResidents(ctx)
	if err != nil {
		return "", err
	}
	if int(have) < residents {
		if have > 0 {
			log.Info("resuming demo seeding", "seeded", have, "residents", residents)
		}
		if err := seedResidents(sys, log, st, p, int(have), residents); err != nil {
			return "", err
		}
		for _, rl := range p.ResidentLogins {
			r, _ := p.Resident(rl.ResidentIndex, st.HashNationalID)
			if err := st.CreateResidentAccount(sys, r.ID, rl.Login, rl.Password); err != nil && healthcode.ErrorCode(err) != healthcode.ECONFLICT {
				return "", fmt.Errorf("seed resident login %s: %w", rl.Login, err)
			}
		}
	} else {
		log.Info("demo province already seeded", "residents", have)
	}
	if err := seedDemoStory(ctx, log, st, p); err != nil {
		return "", fmt.Errorf("seed demo facts: %w", err)
	}
	path := credentialsPath(dsn)
	if err := writeCredentials(path, p, st); err != nil {
		return "", err
	}
	return path, nil
}

func seedResidents(ctx context.Context, log *slog.Logger, st *store.DB, p *demo.Province, from, to int) error {
	const chunk = 2000
	start := time.Now()
	last := start
	for i := from; i < to; i += chunk {
		n := min(chunk, to-i)
		batch := make([]healthcode.Resident, n)
		for j := range batch {
			batch[j], _ = p.Resident(i+j, st.HashNationalID)
		}
		if err := st.CreateResidents(ctx, batch); err != nil {
			return fmt.Errorf("seed residents %d–%d: %w", i, i+n-1, err)
		}
		if done := i + n; time.Since(last) > time.Second || done == to {
			last = time.Now()
			rate := float64(done-from) / time.Since(start).Seconds()
			log.Info("seeding residents", "done", done, "residents", to, "per_second", math.Round(rate))
		}
	}
	return nil
}

type credentials struct {
	Note           string         `json:"note"`
	LogVerifierKey string         `json:"log_verifier_key"`
	Officials      []credOfficial `json:"officials"`
	Sources        []credSource   `json:"sources"`
	Residents      []credResident `json:"residents"`
}

type credOfficial struct {
	Login        string `json:"login"`
	Password     string `json:"password"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	Jurisdiction string `json:"jurisdiction"`
}

type credSource struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Kinds  []string `json:"kinds"`
	APIKey string   `json:"api_key"`
}

type credResident struct {
	Login        string `json:"login"`
	Password     string `json:"password"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	Jurisdiction string `json:"jurisdiction"`
}

func writeCredentials(path string, p *demo.Province, st *store.DB) error {
	c := credentials{
		Note:           "Demo credentials of a synthetic province. For demonstration only: never use them on a real deployment.",
		LogVerifierKey: st.LogVerifierKey(),
	}
	for _, o := range p.Officials {
		c.Officials = append(c.Officials, credOfficial{o.Login, o.Password, o.ID, o.Name, string(o.Role), o.Jurisdiction})
	}
	for _, s := range p.Sources {
		c.Sources = append(c.Sources, credSource{s.ID, s.Name, s.Kinds, s.APIKey})
	}
	for _, rl := range p.ResidentLogins {
		r, _ := p.Resident(rl.ResidentIndex, nil)
		c.Residents = append(c.Residents, credResident{rl.Login, rl.Password, r.ID, r.Name, r.Jurisdiction})
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write demo credentials: %w", err)
	}
	return nil
}
