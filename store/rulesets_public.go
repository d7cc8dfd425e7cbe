package store

import (
	"context"
	"github.com/healthcode/healthcode"
)

// RulesetInForce returns the published ruleset in force now for a
// resident living in home (a jurisdiction code; a province's code gives
// the province's ruleset), with its text, or nil if none is. Rulesets are
// public: anyone may read them.
func (db *DB) RulesetInForce(ctx context.Context, home string) (*healthcode.RulesetInfo, error) {
	list, err := db.published(ctx, db.db)
	if err != nil {
		return nil, err
	}
	rs := applicable(list, home, db.now())
	if rs == nil {
		return nil, nil
	}
	return db.Ruleset(ctx, rs.ID(), rs.Version())
}
