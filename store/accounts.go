package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/healthcode/healthcode"
)

// Session lifetimes: a session ends after SessionIdle without use or
// SessionMax after login, whichever comes first.
const (
	SessionIdle = 30 * time.Minute
	SessionMax  = 12 * time.Hour
)

// argon2id parameters (RFC 9106's second recommended option scaled to a
// small server: 19 MiB, 2 passes, 1 lane, as OWASP recommends).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// Bounds of logins and passwords, in bytes (a login is also at most 64
// characters).
const (
	maxLoginBytes    = 256
	maxPasswordBytes = 256
)

// hashPassword checks a password's length and returns its argon2id hash in
// PHC string form.
func hashPassword(login, password string, rand io.Reader) (string, error) {
	if n := utf8.RuneCountInString(login); n < 3 || n > 64 || len(login) > maxLoginBytes || strings.ContainsAny(login, " \t\r\n") {
		return "", healthcode.FieldErrorf("login", "must be 3 to 64 characters without spaces")
	}
	if len(password) < 12 || len(password) > maxPasswordBytes {
		return "", healthcode.FieldErrorf("password", "must be 12 to 256 bytes long")
	}
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// checkPassword compares password with a PHC argon2id hash in constant time.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is compared against when a login does not exist, so that an
// unknown login costs as much time as a wrong password.
var dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + base64.RawStdEncoding.EncodeToString(make([]byte, 32))

// keyHash is the stored form of a high-entropy secret (API key, session
// token): SHA-256 is enough for random 32-byte secrets, and lookups by hash
// do not leak the secret through timing.
func keyHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func (t *Tx) insertAccount(login, kind, ref, hash string) error {
	_, err := t.exec("INSERT INTO accounts (login, kind, ref, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, 0, ?)",
		login, kind, ref, hash, fmtTime(t.now))
	return conflictOr(err, "login "+login+" is taken")
}

// CreateResidentAccount gives a resident a login. Returns EINVALID,
// ENOTFOUND, ECONFLICT, EFORBIDDEN.
func (db *DB) CreateResidentAccount(ctx context.Context, residentID, login, password string) error {
	if err := healthcode.Authorize(healthcode.ActorFrom(ctx), healthcode.OpManageAccounts, "", ""); err != nil {
		return err
	}
	hash, err := hashPassword(login, password, db.rand)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM residents WHERE id = ?", residentID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return healthcode.Errorf(healthcode.ENOTFOUND, "no resident %q", residentID)
		}
		return t.insertAccount(login, healthcode.ActorResident, residentID, hash)
	})
}

// Session is a logged-in account's bearer token.
type Session struct {
	Token     string
	Actor     healthcode.Actor
	ExpiresAt time.Time
}

// Login checks a login and password and starts a session. Returns EUNAUTH
// with one message for every kind of failure (unknown login, wrong
// password, disabled account), so logins cannot be probed.
func (db *DB) Login(ctx context.Context, login, password string) (*Session, error) {
	return db.LoginFrom(ctx, login, password, "")
}

// LoginFrom is Login from a network address. The attempt is reserved
// before the password is checked; failed attempts slow down the account
// from that address, the address, and (beyond a higher number) the
// account from every address (ETOOMANY with Error.RetryAfter; see
// sessionsec.go). Password checks run at most Limits.LoginChecks at once:
// EUNAVAIL with Error.RetryAfter when no slot frees within
// Limits.LoginQueueWait.
func (db *DB) LoginFrom(ctx context.Context, login, password, addr string) (*Session, error) {
	// No account has a longer login or password: refused before any
	// work, and before the login becomes a throttle key.
	if len(login) > maxLoginBytes {
		return nil, healthcode.FieldErrorf("login", "is longer than %d bytes", maxLoginBytes)
	}
	if len(password) > maxPasswordBytes {
		return nil, healthcode.FieldErrorf("password", "is longer than %d bytes", maxPasswordBytes)
	}
	keys := db.loginKeys(login, addr)
	if err := db.reserveLogin(ctx, keys); err != nil {
		if healthcode.ErrorCode(err) == healthcode.ETOOMANY {
			db.observer().LoginFailed(true)
		}
		return nil, err
	}
	sess, err := db.login(ctx, login, password, addr, keys)
	// The outcome is recorded even if the client has gone.
	ctx = context.WithoutCancel(ctx)
	switch {
	case healthcode.ErrorCode(err) == healthcode.EUNAUTH:
		db.observer().LoginFailed(false)
		// A failure that cannot be counted is not let through as a
		// mere wrong password.
		if ferr := db.loginFailed(ctx, keys); ferr != nil {
			return nil, ferr
		}
	case err == nil:
		// login forgot the failures with the session's write.
	default:
		if gerr := db.giveBack(ctx, keys); gerr != nil {
			db.logger.Warn("login: the attempt stays counted", "err", gerr)
		}
	}
	return sess, err
}

// login checks the password and, if it is right, stores a session. A
// successful login's writes (its login record, the session, forgetting
// the failures under keys) are one side write: one wait for the writer.
func (db *DB) login(ctx context.Context, login, password, addr string, keys []throttleKey) (*Session, error) {
	var hash, kind, ref string
	var disabled int
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT password_hash, kind, ref, disabled FROM accounts WHERE login = ?"), login).
		Scan(&hash, &kind, &ref, &disabled)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read account: %w", err)
	}
	found := err == nil
	if !found {
		hash = dummyHash
	}
	release, err := db.passwordSlot(ctx)
	if err != nil {
		return nil, err
	}
	ok := checkPassword(hash, password)
	release()
	if found && kind == healthcode.ActorOfficial {
		outcome := LoginOK
		switch {
		case !ok:
			outcome = LoginWrongPassword
		case disabled != 0:
			outcome = LoginDisabled
		}
		if outcome != LoginOK {
			if err := db.recordLogin(context.WithoutCancel(ctx), ref, addr, outcome); err != nil {
				return nil, err
			}
		}
	}
	if !ok || !found || disabled != 0 {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "wrong login or password")
	}
	official := ""
	if kind == healthcode.ActorOfficial {
		official = ref
	}
	actor, err := db.actorFor(ctx, kind, ref)
	if err != nil {
		if official != "" { // the password was right: recorded so
			err = errors.Join(err, db.recordLogin(context.WithoutCancel(ctx), official, addr, LoginOK))
		}
		return nil, err
	}
	var raw [32]byte
	if _, err := io.ReadFull(db.rand, raw[:]); err != nil {
		return nil, fmt.Errorf("session token: %w", err)
	}
	token := "hcs_" + base64.RawURLEncoding.EncodeToString(raw[:])
	now := db.nowMs()
	expires := now.Add(SessionMax)
	wctx := context.WithoutCancel(ctx) // the login record is written even if the client has gone
	err = db.sideWrite(func(q sideQ) error {
		if official != "" {
			if err := db.recordLoginOn(wctx, q, official, addr, LoginOK); err != nil {
				return err
			}
		}
		if _, err := q.ExecContext(ctx, db.dialect.rebind("INSERT INTO sessions (token_hash, login, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?)"),
			keyHash(token), login, fmtTime(now), fmtTime(now), fmtTime(expires)); err != nil {
			return fmt.Errorf("store session: %w", err)
		}
		if err := db.loginSucceededOn(wctx, q, keys); err != nil {
			db.logger.Warn("login: the account's earlier failures stay counted", "err", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, Actor: actor, ExpiresAt: expires}, nil
}

// actorFor builds the actor of an account.
func (db *DB) actorFor(ctx context.Context, kind, ref string) (healthcode.Actor, error) {
	switch kind {
	case healthcode.ActorOfficial:
		o, err := db.Official(ctx, ref)
		if err != nil {
			return healthcode.Actor{}, err
		}
		if o.Disabled {
			return healthcode.Actor{}, healthcode.Errorf(healthcode.EUNAUTH, "wrong login or password")
		}
		return healthcode.Actor{Kind: kind, ID: o.ID, Name: o.Name, Role: o.Role, Jurisdiction: o.Jurisdiction}, nil
	case healthcode.ActorResident:
		r, err := db.resident(ctx, ref)
		if err != nil {
			return healthcode.Actor{}, err
		}
		return healthcode.Actor{Kind: kind, ID: r.ID, Name: r.Name, Role: healthcode.RoleResident, Jurisdiction: r.Jurisdiction}, nil
	}
	return healthcode.Actor{}, fmt.Errorf("account of unknown kind %q", kind)
}

// Authenticate returns the actor of a session token and marks the session
// used. Returns EUNAUTH for an unknown, expired or idle session.
func (db *DB) Authenticate(ctx context.Context, token string) (healthcode.Actor, error) {
	var login, kind, ref string
	var ls, ex time.Time
	var disabled int
	h := keyHash(token)
	err := db.db.QueryRowContext(ctx, db.dialect.rebind(`SELECT s.login, s.last_seen, s.expires_at, a.kind, a.ref, a.disabled
		FROM sessions s JOIN accounts a ON a.login = s.login WHERE s.token_hash = ?`), h).
		Scan(&login, timeCol(&ls), timeCol(&ex), &kind, &ref, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return healthcode.Actor{}, healthcode.Errorf(healthcode.EUNAUTH, "session unknown or expired: log in again")
	}
	if err != nil {
		return healthcode.Actor{}, fmt.Errorf("read session: %w", err)
	}
	now := db.nowMs()
	if disabled != 0 || !now.Before(ex) || now.Sub(ls) >= SessionIdle {
		if err := db.sideWrite(func(q sideQ) error {
			_, err := q.ExecContext(ctx, db.dialect.rebind("DELETE FROM sessions WHERE token_hash = ?"), h)
			return err
		}); err != nil {
			return healthcode.Actor{}, fmt.Errorf("end an expired session: %w", err)
		}
		return healthcode.Actor{}, healthcode.Errorf(healthcode.EUNAUTH, "session unknown or expired: log in again")
	}
	if now.Sub(ls) > time.Minute { // refresh at most once a minute
		if err := db.sideWrite(func(q sideQ) error {
			_, err := q.ExecContext(ctx, db.dialect.rebind("UPDATE sessions SET last_seen = ? WHERE token_hash = ?"), fmtTime(now), h)
			return err
		}); err != nil {
			return healthcode.Actor{}, fmt.Errorf("mark a session used: %w", err)
		}
	}
	return db.actorFor(ctx, kind, ref)
}

// Logout ends a session.
func (db *DB) Logout(ctx context.Context, token string) error {
	return db.sideWrite(func(q sideQ) error {
		_, err := q.ExecContext(ctx, db.dialect.rebind("DELETE FROM sessions WHERE token_hash = ?"), keyHash(token))
		return err
	})
}

// The outcomes of an official's login attempt.
const (
	LoginOK            = "ok"
	LoginWrongPassword = "wrong_password"
	LoginDisabled      = "disabled"
)

// LoginRecord is one login attempt on an official's account.
type LoginRecord struct {
	Official string
	At       time.Time
	Address  string // the client's address, or "" when unknown
	Outcome  string // LoginOK, LoginWrongPassword, LoginDisabled
}

// recordLogin notes an attempt on an official's account whose password
// was checked.
func (db *DB) recordLogin(ctx context.Context, official, addr, outcome string) error {
	return db.sideWrite(func(q sideQ) error { return db.recordLoginOn(ctx, q, official, addr, outcome) })
}

func (db *DB) recordLoginOn(ctx context.Context, q sideQ, official, addr, outcome string) error {
	_, err := q.ExecContext(ctx, db.dialect.rebind("INSERT INTO official_logins (official, at, address, outcome) VALUES (?, ?, ?, ?)"),
		official, fmtTime(db.nowMs()), addr, outcome)
	if err != nil {
		return fmt.Errorf("record login of %s: %w", official, err)
	}
	return nil
}

// OfficialLogins lists the login attempts on officials' accounts, newest
// first, at most limit (1 to 1000), optionally of one official: to
// auditors. Returns EUNAUTH, EFORBIDDEN, EINVALID.
func (db *DB) OfficialLogins(ctx context.Context, official string, limit int) ([]LoginRecord, error) {
	if err := healthcode.Authorize(healthcode.ActorFrom(ctx), healthcode.OpReadAlerts, "", ""); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, healthcode.FieldErrorf("limit", "must be 1 to 1000, not %d", limit)
	}
	q := "SELECT official, at, address, outcome FROM official_logins"
	var args []any
	if official != "" {
		q += " WHERE official = ?"
		args = append(args, official)
	}
	q = limitClause(q+" ORDER BY at DESC, id DESC", limit)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read logins: %w", err)
	}
	defer rows.Close()
	out := []LoginRecord{}
	for rows.Next() {
		var r LoginRecord
		var at string
		if err := rows.Scan(&r.Official, &at, &r.Address, &r.Outcome); err != nil {
			return nil, fmt.Errorf("read logins: %w", err)
		}
		if r.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read logins: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
