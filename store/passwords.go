package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// ChangePassword changes the password of the acting official's own
// account: the old password must be given, and is checked as a login's
// (the attempt reserved first under the same throttle keys, from addr).
// Every session of the account ends (the caller logs in again). The
// change is an official.password_changed entry, which holds no hash.
// Returns EUNAUTH (not logged in, or the old password is wrong),
// EFORBIDDEN (not an official), ETOOMANY, EUNAVAIL, EINVALID (the new
// password's length, or the same as the old).
func (db *DB) ChangePassword(ctx context.Context, oldPassword, newPassword, addr string) error {
	actor := healthcode.ActorFrom(ctx)
	switch {
	case actor.Kind == "":
		return healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	case actor.Kind != healthcode.ActorOfficial:
		return healthcode.Errorf(healthcode.EFORBIDDEN, "only an official's password is changed here")
	case len(oldPassword) > maxPasswordBytes:
		return healthcode.FieldErrorf("old_password", "is longer than %d bytes", maxPasswordBytes)
	case oldPassword == newPassword:
		return healthcode.FieldErrorf("new_password", "must differ from the old password")
	}
	var login, hash string
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT login, password_hash FROM accounts WHERE kind = ? AND ref = ?"), healthcode.ActorOfficial, actor.ID).
		Scan(&login, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return healthcode.Errorf(healthcode.EUNAUTH, "session unknown or expired: log in again")
	}
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	newHash, err := hashPassword(login, newPassword, db.rand)
	if err != nil {
		if healthcode.ErrorCode(err) == healthcode.EINVALID {
			return healthcode.FieldErrorf("new_password", "must be 12 to 256 bytes long")
		}
		return err
	}
	keys := db.loginKeys(login, addr)
	if err := db.reserveLogin(ctx, keys); err != nil {
		return err
	}
	release, err := db.passwordSlot(ctx)
	if err != nil {
		return errors.Join(err, db.giveBack(context.WithoutCancel(ctx), keys))
	}
	ok := checkPassword(hash, oldPassword)
	release()
	if !ok {
		if ferr := db.loginFailed(context.WithoutCancel(ctx), keys); ferr != nil {
			return ferr
		}
		return &healthcode.Error{Code: healthcode.EUNAUTH, Field: "old_password", Message: "the old password is wrong"}
	}
	if err := db.loginSucceeded(context.WithoutCancel(ctx), keys); err != nil {
		db.logger.Warn("password change: the account's earlier failures stay counted", "err", err)
	}
	return db.write(ctx, func(t *Tx) error {
		var post string
		if err := t.queryRow("SELECT jurisdiction FROM officials WHERE id = ?", actor.ID).Scan(&post); err != nil {
			return fmt.Errorf("read official %s: %w", actor.ID, err)
		}
		if _, err := t.record(tlog.KindPasswordChanged, actor, "", &evPasswordChanged{ID: actor.ID, Jurisdiction: post}, nil, nil); err != nil {
			return err
		}
		// Compare and set: a reset in between wins over this change.
		res, err := t.exec("UPDATE accounts SET password_hash = ? WHERE login = ? AND password_hash = ?", newHash, login, hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, healthcode.Errorf(healthcode.ECONFLICT, "the password was changed meanwhile: log in again"))
		}
		_, err = t.exec("DELETE FROM sessions WHERE login = ?", login)
		return err
	})
}

// ResetPassword sets a new password on an official's account, for an
// admin whose post covers the official's, with a written reason; every
// session of the account ends. Nobody resets their own (they change it).
// A command officer's or an admin's takes two admins: the first call
// records an official.password_reset_requested entry and returns pending
// (password may be empty then, and is not used); a second, different
// admin's call with the new password resets it (official.password_reset,
// naming the first). Returns EUNAUTH, EFORBIDDEN, ENOTFOUND, ECONFLICT
// (requested twice by one admin), EINVALID (no reason, the password's
// length).
func (db *DB) ResetPassword(ctx context.Context, id, password, reason string) (pending bool, err error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, "", ""); err != nil {
		return false, err
	}
	if actor.Kind == healthcode.ActorOfficial && actor.Role != healthcode.RoleAdmin {
		return false, healthcode.Errorf(healthcode.EFORBIDDEN, "only an admin resets a password")
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		return false, healthcode.FieldErrorf("reason", "resetting a password needs a written reason")
	}
	if err := healthcode.CheckText("reason", reason, healthcode.MaxReasonBytes); err != nil {
		return false, err
	}
	var login string
	err = db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT login FROM accounts WHERE kind = ? AND ref = ?"), healthcode.ActorOfficial, id).Scan(&login)
	if errors.Is(err, sql.ErrNoRows) {
		return false, healthcode.Errorf(healthcode.ENOTFOUND, "no official %q", id)
	}
	if err != nil {
		return false, fmt.Errorf("read account: %w", err)
	}
	var hash string
	if password != "" {
		if hash, err = hashPassword(login, password, db.rand); err != nil {
			return false, err
		}
	}
	err = db.write(ctx, func(t *Tx) error {
		o, err := t.accountOf(actor, id)
		if err != nil {
			return err
		}
		if id == actor.ID {
			return healthcode.Errorf(healthcode.EFORBIDDEN, "you cannot reset your own password: change it, with the old one")
		}
		var requestedBy string
		var requestedLog int64
		if err := t.queryRow("SELECT reset_requested_by, reset_requested_log FROM officials WHERE id = ?", id).Scan(&requestedBy, &requestedLog); err != nil {
			return fmt.Errorf("read official %s: %w", id, err)
		}
		ev := &evOfficialDisabled{ID: id, Jurisdiction: o.post, Reason: reason}
		if o.role == healthcode.RoleAdmin || o.role == healthcode.RoleCommand {
			switch requestedBy {
			case "":
				pending = true
				_, err := t.record(tlog.KindPasswordResetReq, actor, "", &evOfficialAccount{ID: id, Jurisdiction: o.post, Reason: reason}, nil, nil)
				return err
			case actor.ID:
				return healthcode.Errorf(healthcode.ECONFLICT, "you asked already to reset the password of official %s: a second admin must set it", id)
			}
			ev.RequestedBy, ev.RequestedEntry = requestedBy, requestedLog
		}
		if hash == "" {
			return healthcode.FieldErrorf("password", "the new password is required")
		}
		if _, err := t.record(tlog.KindPasswordReset, actor, "", ev, nil, nil); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE accounts SET password_hash = ? WHERE login = ?", hash, login); err != nil {
			return err
		}
		_, err = t.exec("DELETE FROM sessions WHERE login = ?", login)
		return err
	})
	return pending, err
}
