package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestChangePassword: an official changes their own password only with
// the old one (a wrong one is a throttled failure, as a login's); the old
// password and every session stop working; the change is an entry that
// holds no hash (issue 16).
func TestChangePassword(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{LoginFailuresPerAccount: 2}, 1)
		ctx := context.Background()
		const old, next = "correct horse battery", "a new and longer secret"
		sess, err := w.db.LoginFrom(ctx, "login-"+operator.ID, old, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		me := healthcode.NewContext(ctx, sess.Actor)
		err = w.db.ChangePassword(me, "not the old one", next, "10.0.0.1")
		mustCode(t, err, healthcode.EUNAUTH, "a wrong old password")
		err = w.db.ChangePassword(me, old, "short", "10.0.0.1")
		mustCode(t, err, healthcode.EINVALID, "a short new password")
		err = w.db.ChangePassword(me, old, old, "10.0.0.1")
		mustCode(t, err, healthcode.EINVALID, "the same password")
		err = w.db.ChangePassword(self("r_test000000"), old, next, "")
		mustCode(t, err, healthcode.EFORBIDDEN, "a resident")
		// A stolen session cannot guess its way to the password: wrong old
		// passwords are login failures of the account.
		err = w.db.ChangePassword(me, "guess number two", next, "10.0.0.1")
		mustCode(t, err, healthcode.EUNAUTH, "second wrong old password")
		err = w.db.ChangePassword(me, old, next, "10.0.0.1")
		mustCode(t, err, healthcode.ETOOMANY, "after the free failures")
		if err := w.db.ChangePassword(me, old, next, "10.0.0.2"); err != nil {
			t.Fatalf("change: %v", err)
		}
		_, err = w.db.Authenticate(ctx, sess.Token)
		mustCode(t, err, healthcode.EUNAUTH, "a session from before the change")
		_, err = w.db.LoginFrom(ctx, "login-"+operator.ID, old, "10.0.0.3")
		mustCode(t, err, healthcode.EUNAUTH, "the old password")
		if _, err := w.db.LoginFrom(ctx, "login-"+operator.ID, next, "10.0.0.3"); err != nil {
			t.Fatalf("the new password: %v", err)
		}
		entries := w.entriesOfKind(t, "official.password_changed")
		if len(entries) != 1 || entries[0] != "official.password_changed "+operator.ID {
			t.Fatalf("entries %v", entries)
		}
		mustVerified(t, w.db)
	})
}

// TestResetPassword: only an admin whose post covers the official's
// resets a password, with a reason; a command officer's or an admin's
// takes two admins; nobody resets their own; every step is an entry.
func TestResetPassword(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 1)
		ctx := context.Background()
		admin1 := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_admin1", Role: healthcode.RoleAdmin, Jurisdiction: "410000"}
		admin2 := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_admin2", Role: healthcode.RoleAdmin, Jurisdiction: "410000"}
		cityAdmin := healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_admin_city", Role: healthcode.RoleAdmin, Jurisdiction: "410100"}
		for _, a := range []healthcode.Actor{admin1, admin2, cityAdmin} {
			if err := w.db.CreateOfficial(system, healthcode.Official{ID: a.ID, Name: "管理员", Role: a.Role, Jurisdiction: a.Jurisdiction}, "login-"+a.ID, "correct horse battery"); err != nil {
				t.Fatal(err)
			}
		}
		const fresh = "a reset password 123"
		_, err := w.db.ResetPassword(as(operator), worker.ID, fresh, "forgot it")
		mustCode(t, err, healthcode.EFORBIDDEN, "an operator resetting")
		_, err = w.db.ResetPassword(as(admin1), worker.ID, fresh, "")
		mustCode(t, err, healthcode.EINVALID, "no reason")
		_, err = w.db.ResetPassword(as(admin1), worker.ID, fresh, strings.Repeat("长", healthcode.MaxReasonBytes))
		mustCode(t, err, healthcode.EINVALID, "a reason over the limit")
		_, err = w.db.ResetPassword(as(admin1), admin1.ID, fresh, "forgot it")
		mustCode(t, err, healthcode.EFORBIDDEN, "one's own")
		_, err = w.db.ResetPassword(as(cityAdmin), operator.ID, fresh, "forgot it")
		mustCode(t, err, healthcode.EFORBIDDEN, "outside the admin's post")

		// A worker's: one admin.
		sess, err := w.db.Login(ctx, "login-"+worker.ID, "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if pending, err := w.db.ResetPassword(as(admin1), worker.ID, fresh, "forgot it, identity checked in person"); err != nil || pending {
			t.Fatalf("reset a worker's: pending %v, %v", pending, err)
		}
		_, err = w.db.Authenticate(ctx, sess.Token)
		mustCode(t, err, healthcode.EUNAUTH, "a session from before the reset")
		if _, err := w.db.Login(ctx, "login-"+worker.ID, fresh); err != nil {
			t.Fatalf("the reset password: %v", err)
		}

		// A command officer's: two admins; the first cannot set it.
		pending, err := w.db.ResetPassword(as(admin1), cmdCity1.ID, fresh, "lost the phone with the password manager")
		if err != nil || !pending {
			t.Fatalf("first admin: pending %v, %v", pending, err)
		}
		if _, err := w.db.Login(ctx, "login-"+cmdCity1.ID, "correct horse battery"); err != nil {
			t.Fatalf("a requested reset changes nothing yet: %v", err)
		}
		_, err = w.db.ResetPassword(as(admin1), cmdCity1.ID, fresh, "again")
		mustCode(t, err, healthcode.ECONFLICT, "the same admin twice")
		_, err = w.db.ResetPassword(as(admin2), cmdCity1.ID, "", "confirmed")
		mustCode(t, err, healthcode.EINVALID, "the second admin without a password")
		if pending, err := w.db.ResetPassword(as(admin2), cmdCity1.ID, fresh, "confirmed by phone"); err != nil || pending {
			t.Fatalf("second admin: pending %v, %v", pending, err)
		}
		_, err = w.db.Login(ctx, "login-"+cmdCity1.ID, "correct horse battery")
		mustCode(t, err, healthcode.EUNAUTH, "the old password after the reset")
		if _, err := w.db.Login(ctx, "login-"+cmdCity1.ID, fresh); err != nil {
			t.Fatalf("the reset password: %v", err)
		}
		entries := w.entriesOfKind(t, "official.password_reset_requested", "official.password_reset")
		want := []string{"official.password_reset " + admin1.ID, "official.password_reset_requested " + admin1.ID, "official.password_reset " + admin2.ID}
		if strings.Join(entries, ",") != strings.Join(want, ",") {
			t.Fatalf("entries %v, want %v", entries, want)
		}
		mustVerified(t, w.db)
	})
}
