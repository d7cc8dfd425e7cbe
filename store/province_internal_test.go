package store

import (
	"context"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// newProvince opens a store at dsn and seeds what the internal tests
// share: a province and a city, the residents named (in the city), two
// command officers o_a and o_b, and the default ruleset drafted by one and
// published by the other.
func newProvince(t *testing.T, dsn string, opts Options, residents ...string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})
	if err := db.CreateJurisdictions(sys, []healthcode.Jurisdiction{
		{Code: "410000", Name: "中原省", Level: healthcode.Province},
		{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
	}); err != nil {
		t.Fatal(err)
	}
	var rs []healthcode.Resident
	for i, id := range residents {
		h := make([]byte, 32)
		h[0], h[1] = byte(i), byte(i>>8)
		rs = append(rs, healthcode.Resident{ID: id, IDHash: h, Name: "居民", Jurisdiction: "410100"})
	}
	if err := db.CreateResidents(sys, rs); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o_a", "o_b"} {
		if err := db.CreateOfficial(sys, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-"+id, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.DraftRuleset(commandCtx(ctx, "o_a"), "default.yaml", rules.DefaultSource()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideRuleset(commandCtx(ctx, "o_b"), "henan-health-code", 1, true, ""); err != nil {
		t.Fatal(err)
	}
	return db
}

// commandCtx is ctx acting as the provincial command officer id.
func commandCtx(ctx context.Context, id string) context.Context {
	return healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"})
}
