package store

import (
	"context"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// loginAllowed refuses a login attempt when the account or the address has
// failed too often within the window.
func (db *DB) loginAllowed(ctx context.Context, login, addr string) error {
	lim := db.limits
	since := fmtTime(db.nowMs().Add(-lim.LoginWindow))
	count := func(key string) int {
		var n int
		db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?"), key, since).Scan(&n)
		return n
	}
	if count("login:"+login) >= lim.LoginFailuresPerAccount {
		return healthcode.Errorf(healthcode.ETOOMANY, "too many failed logins for this account: try again in %v", lim.LoginWindow)
	}
	if addr != "" && count("addr:"+addr) >= lim.LoginFailuresPerAddress {
		return healthcode.Errorf(healthcode.ETOOMANY, "too many failed logins from your address: try again in %v", lim.LoginWindow)
	}
	return nil
}

// loginFailed counts a failed login (and forgets failures older than the
// window).
func (db *DB) loginFailed(ctx context.Context, login, addr string) {
	now := db.nowMs()
	db.db.ExecContext(ctx, db.dialect.rebind("DELETE FROM login_failures WHERE at <= ?"), fmtTime(now.Add(-db.limits.LoginWindow)))
	db.db.ExecContext(ctx, db.dialect.rebind("INSERT INTO login_failures (key, at) VALUES (?, ?)"), "login:"+login, fmtTime(now))
	if addr != "" {
		db.db.ExecContext(ctx, db.dialect.rebind("INSERT INTO login_failures (key, at) VALUES (?, ?)"), "addr:"+addr, fmtTime(now))
	}
}

// DisableOfficial disables an official's account and ends every session
// of it, with an official.disabled entry. Returns EUNAUTH, EFORBIDDEN,
// ENOTFOUND, EINVALID (no reason).
func (db *DB) DisableOfficial(ctx context.Context, id, reason string) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, "", ""); err != nil {
		return err
	}
	if len(reason) < 4 {
		return healthcode.FieldErrorf("reason", "disabling an account needs a written reason")
	}
	return db.write(ctx, func(t *Tx) error {
		var post string
		if err := t.queryRow("SELECT jurisdiction FROM officials WHERE id = ?", id).Scan(&post); err != nil {
			return healthcode.Errorf(healthcode.ENOTFOUND, "no official %q", id)
		}
		if _, err := t.Append(tlog.KindOfficialDisabled, actor, "", map[string]any{"id": id, "jurisdiction": post, "reason": reason}, nil); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE officials SET disabled = 1 WHERE id = ?", id); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE accounts SET disabled = 1 WHERE kind = ? AND ref = ?", healthcode.ActorOfficial, id); err != nil {
			return err
		}
		_, err := t.exec("DELETE FROM sessions WHERE login IN (SELECT login FROM accounts WHERE kind = ? AND ref = ?)", healthcode.ActorOfficial, id)
		return err
	})
}
