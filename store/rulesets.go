package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// DraftRuleset stores a ruleset draft by a command officer whose post
// covers its scope. The YAML must compile and its examples pass (rules.Check);
// the version must be above every stored version of the same id. It
// honours an Idempotency-Key (WithClaim): the answer is the draft. Returns
// EINVALID (with every error of the file as details), EFORBIDDEN, ECONFLICT,
// or *Replayed / *KeyReused.
func (db *DB) DraftRuleset(ctx context.Context, name string, source []byte) (*healthcode.RulesetInfo, error) {
	actor := healthcode.ActorFrom(ctx)
	// Authorise before the check, which can cost seconds of CPU.
	if err := healthcode.CheckRulesetDraft(actor, name, len(source)); err != nil {
		return nil, err
	}
	if errs := rules.Check(name, source); len(errs) > 0 {
		e := healthcode.Errorf(healthcode.EINVALID, "ruleset %s has %d error(s): %v", name, len(errs), errs[0])
		for _, err := range errs {
			e.Details = append(e.Details, &healthcode.Error{Code: healthcode.EINVALID, Message: err.Error()})
		}
		return nil, e
	}
	rs, err := rules.Parse(name, source)
	if err != nil {
		return nil, healthcode.Errorf(healthcode.EINVALID, "%v", err)
	}
	if err := healthcode.DecideRulesetScope(actor, rs.Scope(), db.oldScopes); err != nil {
		return nil, err
	}
	info := &healthcode.RulesetInfo{
		ID: rs.ID(), Version: rs.Version(), Scope: rs.Scope(), Status: healthcode.RulesetDraft, Source: string(source),
		LegalNumber: rs.LegalBasis().Number, LegalTitle: rs.LegalBasis().Title, EffectiveAt: rs.EffectiveAt().UTC(),
		DraftedBy: actor.ID, DecidedLog: -1,
	}
	err = db.writeKeyed(ctx, func(t *Tx) (any, string, error) {
		var maxVersion sql.NullInt64
		if err := t.queryRow("SELECT MAX(version) FROM rulesets WHERE id = ?", info.ID).Scan(&maxVersion); err != nil {
			return nil, "", err
		}
		if err := healthcode.DecideRulesetVersion(info.ID, info.Version, maxVersion.Int64, maxVersion.Valid); err != nil {
			return nil, "", err
		}
		info.DraftedAt = t.now
		idx, err := t.record(tlog.KindRulesetDrafted, actor, "", &evRulesetDrafted{
			ID: info.ID, Version: info.Version, Scope: info.Scope, SourceSHA256: sha256Hex(source),
			LegalBasis: info.LegalNumber, EffectiveAt: fmtTime(info.EffectiveAt),
		}, nil, func(table string, cols []string, vals []any) {
			setCol(cols, vals, "source", info.Source)
			setCol(cols, vals, "legal_title", info.LegalTitle)
		})
		info.LogIndex = idx
		return info, "", conflictOr(err, fmt.Sprintf("ruleset %s version %d", info.ID, info.Version))
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// DecideRuleset approves (publishes) or refuses a draft. The decider is a
// command officer of the scope or a parent jurisdiction, and not the
// drafter. Publishing schedules the re-evaluation of every resident in the
// scope for when the ruleset takes effect. Returns ENOTFOUND, EFORBIDDEN,
// ECONFLICT (not a draft), EINVALID (refusal without a reason).
func (db *DB) DecideRuleset(ctx context.Context, id string, version int, approve bool, reason string) (*healthcode.RulesetInfo, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.CheckRulesetDecision(approve, reason); err != nil {
		return nil, err
	}
	// An approval is dry-run first (outside the write: it reads every
	// resident of the scope), once the approver is known to be allowed:
	// above Limits.MassChange changed codes it raises mass_change.
	var impact *healthcode.Impact
	if approve {
		if err := healthcode.MayAttempt(actor, healthcode.OpApproveRuleset); err != nil {
			return nil, err
		}
		draft, err := db.Ruleset(ctx, id, version)
		if err != nil {
			return nil, err
		}
		if d, err := healthcode.DecideRuleset(actor, draft, true, reason); d != nil && err == nil {
			// A dry run that fails (a row that does not decode, say)
			// does not stop the approval: the job will meet the same
			// rows and record them.
			if impact, err = db.rulesetImpact(ctx, draft); err != nil {
				db.logger.Error("the dry run of an approved ruleset failed; it is published without the mass-change check", "ruleset", id, "version", version, "err", err)
				impact = nil
			}
		}
	}
	var info *healthcode.RulesetInfo
	err := db.write(ctx, func(t *Tx) error {
		var err error
		if info, err = db.ruleset(t.ctx, t.tx, id, version); err != nil {
			return err
		}
		d, err := healthcode.DecideRuleset(actor, info, approve, reason)
		if err != nil || d == nil {
			return err // a refusal, or a retry of this very decision (its answer lost after the commit): the same answer, nothing recorded
		}
		kind := tlog.KindRulesetPublished
		if !approve {
			kind = tlog.KindRulesetRefused
		}
		status := d.Status
		idx, err := t.record(kind, actor, "", &evRulesetDecided{
			ID: id, Version: version, Decision: status, DraftedBy: info.DraftedBy, DraftedEntry: info.LogIndex, Reason: reason,
		}, nil, nil)
		if err != nil {
			return err
		}
		info.Status, info.DecidedBy, info.DecidedAt, info.Reason, info.DecidedLog = status, actor.ID, t.now, reason, idx
		info.Impact = impact
		if approve {
			if err := t.alertMassChange(impact, fmt.Sprintf("%s@%d", id, version), info.Scope, "drafted_by", info.DraftedBy, actor.ID); err != nil {
				return err
			}
		}
		if approve {
			runAt := healthcode.RulesetRunAt(info.EffectiveAt, t.now)
			if _, err := t.enqueueJob(healthcode.JobReevaluate, map[string]string{"scope": info.Scope, "cause": "ruleset", "ruleset": fmt.Sprintf("%s@%d", id, version)}, runAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	db.rulesets.invalidate()
	return info, nil
}

// Ruleset returns one stored ruleset (any status; rulesets are public).
// Returns ENOTFOUND.
func (db *DB) Ruleset(ctx context.Context, id string, version int) (*healthcode.RulesetInfo, error) {
	return db.ruleset(ctx, db.db, id, version)
}

func (db *DB) ruleset(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string, version int) (*healthcode.RulesetInfo, error) {
	rows := []*healthcode.RulesetInfo{{}}
	r := rows[0]
	var eff, drafted, decided string
	err := q.QueryRowContext(ctx, db.dialect.rebind(`SELECT id, version, scope, status, source, legal_number, legal_title, effective_at,
		drafted_by, drafted_at, decided_by, decided_at, reason, log_index, decided_log FROM rulesets WHERE id = ? AND version = ?`), id, version).
		Scan(&r.ID, &r.Version, &r.Scope, &r.Status, &r.Source, &r.LegalNumber, &r.LegalTitle, &eff,
			&r.DraftedBy, &drafted, &r.DecidedBy, &decided, &r.Reason, &r.LogIndex, &r.DecidedLog)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no ruleset %s version %d", id, version)
	}
	if err != nil {
		return nil, fmt.Errorf("read ruleset: %w", err)
	}
	r.EffectiveAt, _ = parseTime(eff)
	r.DraftedAt, _ = parseTime(drafted)
	r.DecidedAt, _ = parseTime(decided)
	return r, nil
}

// Rulesets lists every stored ruleset, newest first, without their text.
func (db *DB) Rulesets(ctx context.Context) ([]*healthcode.RulesetInfo, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, version, scope, status, legal_number, legal_title, effective_at,
		drafted_by, drafted_at, decided_by, decided_at, reason, log_index, decided_log FROM rulesets ORDER BY drafted_at DESC, id, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("list rulesets: %w", err)
	}
	defer rows.Close()
	var out []*healthcode.RulesetInfo
	for rows.Next() {
		r := &healthcode.RulesetInfo{}
		var eff, drafted, decided string
		if err := rows.Scan(&r.ID, &r.Version, &r.Scope, &r.Status, &r.LegalNumber, &r.LegalTitle, &eff,
			&r.DraftedBy, &drafted, &r.DecidedBy, &decided, &r.Reason, &r.LogIndex, &r.DecidedLog); err != nil {
			return nil, err
		}
		r.EffectiveAt, _ = parseTime(eff)
		r.DraftedAt, _ = parseTime(drafted)
		r.DecidedAt, _ = parseTime(decided)
		out = append(out, r)
	}
	return out, rows.Err()
}

// rulesetCache holds the compiled published rulesets. It is reloaded when
// the set of published rulesets changes (checked once per evaluation batch,
// so several processes sharing a database see each other's publications).
type rulesetCache struct {
	mu    sync.Mutex
	mark  string // COUNT and MAX(decided_log) of the published rulesets loaded
	list  []*rules.Ruleset
	stale bool
}

func (c *rulesetCache) invalidate() {
	c.mu.Lock()
	c.stale = true
	c.mu.Unlock()
}

// published returns the compiled published rulesets in rulesetOrder.
func (db *DB) published(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]*rules.Ruleset, error) {
	var n, maxLog int64
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(decided_log), -1) FROM rulesets WHERE status = 'published'").Scan(&n, &maxLog); err != nil {
		return nil, fmt.Errorf("read rulesets: %w", err)
	}
	mark := fmt.Sprint(n, "/", maxLog)
	c := &db.rulesets
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stale && c.mark == mark {
		return c.list, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT id, version, source FROM rulesets WHERE status = 'published'")
	if err != nil {
		return nil, fmt.Errorf("read rulesets: %w", err)
	}
	defer rows.Close()
	var list []*rules.Ruleset
	for rows.Next() {
		var id, source string
		var version int
		if err := rows.Scan(&id, &version, &source); err != nil {
			return nil, err
		}
		rs, err := rules.Parse(fmt.Sprintf("%s@%d", id, version), []byte(source))
		if err != nil {
			return nil, fmt.Errorf("published ruleset %s version %d no longer compiles: %w", id, version, err)
		}
		list = append(list, rs)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(list, rulesetOrder)
	c.list, c.mark, c.stale = list, mark, false
	return list, nil
}

// rulesetOrder orders published rulesets as applicable looks for the one
// in force: latest effective first, then highest version, then id. There
// is no precedence by scope: a ruleset is scoped to a province (drafts
// below one are refused), so the one in force for a resident is the
// latest effective of their province.
func rulesetOrder(a, b *rules.Ruleset) int {
	if c := b.EffectiveAt().Compare(a.EffectiveAt()); c != 0 {
		return c
	}
	if c := b.Version() - a.Version(); c != 0 {
		return c
	}
	return strings.Compare(a.ID(), b.ID())
}

// applicable returns the ruleset in force at now for a resident living in
// home: the first in rulesetOrder whose scope covers home and that is
// effective at now. nil if none.
func applicable(list []*rules.Ruleset, home string, now time.Time) *rules.Ruleset {
	for _, rs := range list {
		if healthcode.Covers(rs.Scope(), home) && !rs.EffectiveAt().After(now) {
			return rs
		}
	}
	return nil
}
