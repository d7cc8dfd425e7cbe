package store

import (
	"context"
	"fmt"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// WithdrawActor is who withdraws the rulesets published below a province
// before 一省一码: the start-up migration, a system actor. The migration
// decides nothing: the rule (a ruleset is scoped to a province) is in the
// released code, and the withdrawal entry names the ruleset, its scope and
// its publication entry, whose two officials stay on record.
var WithdrawActor = healthcode.Actor{Kind: healthcode.ActorSystem, ID: "one-province-migration"}

// withdrawSubProvince is the 一省一码 start-up migration: every published
// ruleset whose scope is below a province (published before drafts so
// scoped were refused) stops applying. Each gets a ruleset.withdrawn entry,
// applied through the normal path (the projection and the replayer of
// `log verify` both drop it), and a re-evaluation job of its scope, as an
// approval schedules. It runs at every Open and does nothing when there is
// no such ruleset (a restored backup is caught too) or when the store
// cannot sign (opened without its key secret, for reading); several processes
// starting at once withdraw each ruleset once, as the status is read again
// inside the write.
func (db *DB) withdrawSubProvince(ctx context.Context) error {
	rows, err := db.db.QueryContext(ctx, "SELECT id, version, scope FROM rulesets WHERE status = 'published'")
	if err != nil {
		return fmt.Errorf("read rulesets: %w", err)
	}
	type key struct {
		id      string
		version int
	}
	var below []key
	for rows.Next() {
		var k key
		var scope string
		if err := rows.Scan(&k.id, &k.version, &scope); err != nil {
			rows.Close()
			return err
		}
		if l, _ := healthcode.LevelOf(scope); l != healthcode.Province {
			below = append(below, k)
		}
	}
	if err := endRows(rows); err != nil {
		return err
	}
	if len(below) == 0 {
		return nil
	}
	if err := db.CanSign(); err != nil {
		// A store opened for reading only cannot log the withdrawal: the
		// next start that can write does it.
		db.logger.Warn("rulesets scoped below a province are still published; they are withdrawn at the next start with the key secret", "rulesets", len(below), "err", err)
		return nil
	}
	ctx = healthcode.NewContext(ctx, WithdrawActor)
	err = db.write(ctx, func(t *Tx) error {
		for _, k := range below {
			info, err := db.ruleset(t.ctx, t.tx, k.id, k.version)
			if err != nil {
				return err
			}
			if info.Status != healthcode.RulesetPublished {
				continue
			}
			l, _ := healthcode.LevelOf(info.Scope)
			reason := fmt.Sprintf("一省一码: a ruleset is scoped to a province; %s@%d is scoped to %s (a %s), was published before the rule and no longer applies", k.id, k.version, info.Scope, l)
			if _, err := t.record(tlog.KindRulesetWithdrawn, WithdrawActor, "", &evRulesetWithdrawn{
				ID: k.id, Version: k.version, Scope: info.Scope, Reason: reason, PublishedEntry: info.DecidedLog,
			}, nil, nil); err != nil {
				return err
			}
			if _, err := t.enqueueJob(healthcode.JobReevaluate, map[string]string{"scope": info.Scope, "cause": CauseRuleset, "ruleset": fmt.Sprintf("%s@%d", k.id, k.version)}, t.now); err != nil {
				return err
			}
			db.logger.Warn("withdrew a ruleset scoped below a province (一省一码); its residents are re-evaluated", "ruleset", k.id, "version", k.version, "scope", info.Scope)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("withdraw the rulesets scoped below a province: %w", err)
	}
	db.rulesets.invalidate()
	return nil
}
