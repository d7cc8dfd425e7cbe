package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// Login throttling. Every attempt is reserved before its password is
// checked, in one statement per key (an upsert that admits or refuses),
// so that parallel guesses cannot all pass a check made before any of
// them failed, on one replica or several. The keys are the account from
// the client's address, the address, and the account from every address;
// each has a number of free attempts per window (Limits), after which each
// further failure doubles a delay, starting at Limits.LoginDelay and
// capped at Limits.LoginWindow, before the next attempt is admitted.
// While the last attempt beyond the free ones is checked, the key is held
// (no other attempt is admitted). A failure keeps its reservation; a
// success gives back those of the address and of the account from every
// address, and forgets the account's failures from that address. So an
// abuser failing from one address slows down that address and the
// account from it, not the owner logging in from another.

// loginHold is how long a key stays held if its attempt's outcome is
// never recorded (a crash): longer than any password check.
const loginHold = time.Minute

// throttleKey is one key an attempt is reserved under.
type throttleKey struct {
	key  string
	free int
	mine int // this attempt's number, once reserved
}

// loginKeys are the keys of an attempt on login from addr.
func (db *DB) loginKeys(login, addr string) []throttleKey {
	lim := db.limits
	keys := []throttleKey{
		{key: "account:" + login + "@" + addr, free: lim.LoginFailuresPerAccount},
		{key: "account:" + login, free: lim.LoginFailuresPerAccountAllAddresses},
	}
	if addr != "" {
		keys = append(keys, throttleKey{key: "address:" + addr, free: lim.LoginFailuresPerAddress})
	}
	return keys
}

// loginDelay is the delay before the attempt after the n-th failure of a
// key with free attempts.
func (db *DB) loginDelay(n, free int) time.Duration {
	if n < free {
		return 0
	}
	d := db.limits.LoginDelay
	for i := free; i < n && d < db.limits.LoginWindow; i++ {
		d *= 2
	}
	return min(d, db.limits.LoginWindow)
}

// reserveLogin reserves an attempt under every key, or none: ETOOMANY
// with the time to wait when a key admits no attempt yet.
func (db *DB) reserveLogin(ctx context.Context, keys []throttleKey) error {
	return db.sideWrite(func(q sideQ) error {
		now := db.nowMs()
		nowS, cutoff, hold := fmtTime(now), fmtTime(now.Add(-db.limits.LoginWindow)), fmtTime(now.Add(loginHold))
		for i := range keys {
			k := &keys[i]
			first := nowS
			if k.free <= 1 {
				first = hold
			}
			err := q.QueryRowContext(ctx, db.dialect.rebind(`INSERT INTO login_throttle (key, failures, at, until) VALUES (?, 1, ?, ?)
ON CONFLICT (key) DO UPDATE SET
	failures = CASE WHEN login_throttle.at <= ? THEN 1 ELSE login_throttle.failures + 1 END,
	until = CASE WHEN login_throttle.at > ? AND login_throttle.failures + 1 >= ? THEN ? ELSE login_throttle.until END,
	at = ?
WHERE login_throttle.until <= ?
RETURNING failures`), k.key, nowS, first, cutoff, cutoff, k.free, hold, nowS, nowS).Scan(&k.mine)
			if errors.Is(err, sql.ErrNoRows) {
				if err := db.giveBackOn(ctx, q, keys[:i]); err != nil {
					return err
				}
				var until time.Time
				if err := q.QueryRowContext(ctx, db.dialect.rebind("SELECT until FROM login_throttle WHERE key = ?"), k.key).Scan(timeCol(&until)); err != nil {
					return fmt.Errorf("read a login delay: %w", err)
				}
				wait := time.Second
				if until.Sub(now) > wait {
					wait = until.Sub(now).Round(time.Second)
				}
				return &healthcode.Error{Code: healthcode.ETOOMANY, RetryAfter: wait,
					Message: fmt.Sprintf("too many failed logins for this account or from your address: try again in %v", wait)}
			}
			if err != nil {
				return errors.Join(fmt.Errorf("reserve a login attempt: %w", err), db.giveBackOn(ctx, q, keys[:i]))
			}
		}
		return nil
	})
}

// loginFailed keeps the attempt's reservations as failures and starts the
// delay of each key whose last attempt it was.
func (db *DB) loginFailed(ctx context.Context, keys []throttleKey) error {
	return db.sideWrite(func(q sideQ) error {
		now := db.nowMs()
		for _, k := range keys {
			if k.mine < k.free {
				continue
			}
			if _, err := q.ExecContext(ctx, db.dialect.rebind("UPDATE login_throttle SET until = ? WHERE key = ? AND failures = ?"),
				fmtTime(now.Add(db.loginDelay(k.mine, k.free))), k.key, k.mine); err != nil {
				return fmt.Errorf("start a login delay: %w", err)
			}
		}
		return nil
	})
}

// loginSucceeded forgets the account's failures from the address and gives
// back the attempt's other reservations.
func (db *DB) loginSucceeded(ctx context.Context, keys []throttleKey) error {
	return db.sideWrite(func(q sideQ) error { return db.loginSucceededOn(ctx, q, keys) })
}

func (db *DB) loginSucceededOn(ctx context.Context, q sideQ, keys []throttleKey) error {
	if _, err := q.ExecContext(ctx, db.dialect.rebind("DELETE FROM login_throttle WHERE key = ?"), keys[0].key); err != nil {
		return fmt.Errorf("forget failed logins: %w", err)
	}
	return db.giveBackOn(ctx, q, keys[1:])
}

// giveBack undoes reservations: the attempt does not count, and a key it
// held is free again. A reservation not given back still counts: the
// error errs on the side of the limit.
func (db *DB) giveBack(ctx context.Context, keys []throttleKey) error {
	return db.sideWrite(func(q sideQ) error { return db.giveBackOn(ctx, q, keys) })
}

func (db *DB) giveBackOn(ctx context.Context, q sideQ, keys []throttleKey) error {
	now := fmtTime(db.nowMs())
	for _, k := range keys {
		if _, err := q.ExecContext(ctx, db.dialect.rebind(`UPDATE login_throttle SET
	failures = login_throttle.failures - 1,
	until = CASE WHEN login_throttle.failures = ? AND login_throttle.until > ? THEN ? ELSE login_throttle.until END
WHERE key = ?`), k.mine, now, now, k.key); err != nil {
			return fmt.Errorf("give back a login attempt: %w", err)
		}
	}
	return nil
}

// passwordSlot waits (at most Limits.LoginQueueWait) for one of the
// Limits.LoginChecks slots a password check runs in, each taking argon2's
// 19 MiB: EUNAVAIL, to be tried again shortly, when none frees in time.
func (db *DB) passwordSlot(ctx context.Context) (release func(), err error) {
	select {
	case db.loginSlots <- struct{}{}:
		return func() { <-db.loginSlots }, nil
	default:
	}
	t := time.NewTimer(db.limits.LoginQueueWait)
	defer t.Stop()
	select {
	case db.loginSlots <- struct{}{}:
		return func() { <-db.loginSlots }, nil
	case <-t.C:
		return nil, &healthcode.Error{Code: healthcode.EUNAVAIL, RetryAfter: time.Second,
			Message: "too many logins at once: try again in a second"}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DisableOfficial disables an official's account and ends every session
// of it, with an official.disabled entry. The operator's post must cover
// the official's; nobody disables their own account or the last enabled
// admin. A command officer's or an admin's account takes two operators:
// the first call records an official.disable_requested entry and returns
// pending; a second, different operator's call disables it. Returns
// EUNAUTH, EFORBIDDEN, ENOTFOUND, ECONFLICT (already disabled, the last
// admin, requested twice by one operator), EINVALID (no reason). It
// honours an Idempotency-Key (WithClaim): the answer is pending.
func (db *DB) DisableOfficial(ctx context.Context, id, reason string) (pending bool, err error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, "", ""); err != nil {
		return false, err
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		return false, healthcode.FieldErrorf("reason", "disabling an account needs a written reason")
	}
	if err := healthcode.CheckText("reason", reason, healthcode.MaxReasonBytes); err != nil {
		return false, err
	}
	err = db.writeKeyed(ctx, func(t *Tx) (any, string, error) {
		o, err := t.accountOf(actor, id)
		if err != nil {
			return nil, "", err
		}
		if id == actor.ID {
			return nil, "", healthcode.Errorf(healthcode.EFORBIDDEN, "you cannot disable your own account: another operator must")
		}
		if o.disabled {
			return nil, "", healthcode.Errorf(healthcode.ECONFLICT, "official %s is already disabled", id)
		}
		if o.role == healthcode.RoleAdmin {
			var others int
			if err := t.queryRow("SELECT COUNT(*) FROM officials WHERE role = ? AND disabled = 0 AND id <> ?", string(healthcode.RoleAdmin), id).Scan(&others); err != nil {
				return nil, "", err
			}
			if others == 0 {
				return nil, "", healthcode.Errorf(healthcode.ECONFLICT, "official %s is the last enabled admin and cannot be disabled", id)
			}
		}
		ev := &evOfficialDisabled{ID: id, Jurisdiction: o.post, Reason: reason}
		if o.role == healthcode.RoleAdmin || o.role == healthcode.RoleCommand {
			switch o.requestedBy {
			case "":
				pending = true
				_, err := t.record(tlog.KindOfficialDisableReq, actor, "", &evOfficialAccount{ID: id, Jurisdiction: o.post, Reason: reason}, nil, nil)
				return true, "", err
			case actor.ID:
				return nil, "", healthcode.Errorf(healthcode.ECONFLICT, "you asked already to disable official %s: a second operator must confirm it", id)
			}
			ev.RequestedBy, ev.RequestedEntry = o.requestedBy, o.requestedLog
		}
		if _, err := t.record(tlog.KindOfficialDisabled, actor, "", ev, nil, nil); err != nil {
			return nil, "", err
		}
		if _, err := t.exec("UPDATE accounts SET disabled = 1 WHERE kind = ? AND ref = ?", healthcode.ActorOfficial, id); err != nil {
			return nil, "", err
		}
		_, err = t.exec("DELETE FROM sessions WHERE login IN (SELECT login FROM accounts WHERE kind = ? AND ref = ?)", healthcode.ActorOfficial, id)
		return false, "", err
	})
	return pending, err
}

// EnableOfficial is the way back: it re-enables a disabled official's
// account, or withdraws a pending request to disable it, with a reason and
// an official.enabled entry. The operator's post must cover the
// official's. Returns EUNAUTH, EFORBIDDEN, ENOTFOUND, ECONFLICT (neither
// disabled nor requested), EINVALID (no reason). It honours an
// Idempotency-Key (WithClaim), with a nil answer.
func (db *DB) EnableOfficial(ctx context.Context, id, reason string) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, "", ""); err != nil {
		return err
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		return healthcode.FieldErrorf("reason", "re-enabling an account needs a written reason")
	}
	if err := healthcode.CheckText("reason", reason, healthcode.MaxReasonBytes); err != nil {
		return err
	}
	return db.writeKeyed(ctx, func(t *Tx) (any, string, error) {
		o, err := t.accountOf(actor, id)
		if err != nil {
			return nil, "", err
		}
		if !o.disabled && o.requestedBy == "" {
			return nil, "", healthcode.Errorf(healthcode.ECONFLICT, "official %s is enabled and no one asked to disable it", id)
		}
		if _, err := t.record(tlog.KindOfficialEnabled, actor, "", &evOfficialAccount{ID: id, Jurisdiction: o.post, Reason: reason}, nil, nil); err != nil {
			return nil, "", err
		}
		_, err = t.exec("UPDATE accounts SET disabled = 0 WHERE kind = ? AND ref = ?", healthcode.ActorOfficial, id)
		return nil, "", err
	})
}

// officialAccount is what managing an official's account needs to know.
type officialAccount struct {
	post, requestedBy string
	role              healthcode.Role
	disabled          bool
	requestedLog      int64
}

// accountOf reads official id for actor to manage: an official actor's
// post must cover the official's.
func (t *Tx) accountOf(actor healthcode.Actor, id string) (*officialAccount, error) {
	var o officialAccount
	var role string
	var disabled int
	err := t.queryRow("SELECT jurisdiction, role, disabled, disable_requested_by, disable_requested_log FROM officials WHERE id = ?", id).
		Scan(&o.post, &role, &disabled, &o.requestedBy, &o.requestedLog)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no official %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read official %s: %w", id, err)
	}
	o.role, o.disabled = healthcode.Role(role), disabled != 0
	if actor.Kind == healthcode.ActorOfficial && !healthcode.Covers(actor.Jurisdiction, o.post) {
		return nil, healthcode.Errorf(healthcode.EFORBIDDEN, "official %s serves %s, outside your post %s", id, o.post, actor.Jurisdiction)
	}
	return &o, nil
}

// sideQ is what a side write runs its statements on.
type sideQ interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sideWrite runs fn, a login's few small writes outside the log (its
// throttle rows, the official's login record, the session), so that a
// login does not queue behind fact batches. On PostgreSQL they run on
// the pool beside the committer (they lock no row a batch does). On
// SQLite, where one connection at a time holds the database's write lock
// and a batch holds it for its whole transaction, a write from another
// connection polls for the lock (busy_timeout) and, with batches back to
// back, rarely finds it free: it failed with SQLITE_BUSY after 10 s. So
// fn runs on the write connection with the gate held exclusively, which
// waits for the batch in commit and keeps the next one from starting
// until fn is done (the gate is writer-preferring): a login waits at
// most one batch per call.
func (db *DB) sideWrite(fn func(q sideQ) error) error {
	if db.wdb == db.db {
		return fn(db.db)
	}
	db.sideGate.Lock()
	defer db.sideGate.Unlock()
	return fn(db.wdb)
}
