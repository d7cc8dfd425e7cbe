package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
)

// runErase is 'healthcode erase resident': the command-line form of
// POST /v1/residents/{id}/erase, for an operator at the database. It acts
// as the data operator who logs in (--login, and the password from
// --password-file or $HEALTHCODE_PASSWORD), checked by the store as at the
// web login (throttled, recorded in the official's login history): holding
// the database is not enough to act as two operators. The first
// operator's call records the request, a second operator's call erases.
// Both are log entries naming the operator.
func runErase(ctx context.Context, e *env) error {
	return runSubcommand(ctx, e, "erase", []subcommand{{"resident", runEraseResident}})
}

func runEraseResident(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "erase resident", "erase resident --db DB --login LOGIN [--password-file FILE] --reason TEXT RESIDENT")
	db := dbFlag(e, fs)
	login := fs.String("login", "", "the data operator's login; the password is read from --password-file or $HEALTHCODE_PASSWORD")
	pwFile := fs.String("password-file", "", "a file whose first line is the operator's password (default: $HEALTHCODE_PASSWORD)")
	opID := fs.String("operator", "", "the data operator's official id, if given checked against the login's")
	reason := fs.String("reason", "", "why: kept in the request's personal part; name no one")
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("erase resident needs one resident id")
	}
	if *login == "" {
		return usagef("--login is required: the data operator who asks or approves logs in (an official id alone proves nothing)")
	}
	password := e.getenv("HEALTHCODE_PASSWORD")
	if *pwFile != "" {
		b, rerr := os.ReadFile(*pwFile)
		if rerr != nil {
			return fmt.Errorf("--password-file: %w", rerr)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimSuffix(password, "\r")
	}
	if password == "" {
		return usagef("no password for %s: give --password-file or set $HEALTHCODE_PASSWORD", *login)
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	sess, err := st.Login(ctx, *login, password)
	if err != nil {
		return fmt.Errorf("log in as %s: %w", *login, err)
	}
	defer func() {
		if lerr := st.Logout(context.WithoutCancel(ctx), sess.Token); lerr != nil && err == nil {
			err = fmt.Errorf("end the operator's session: %w", lerr)
		}
	}()
	if *opID != "" && *opID != sess.Actor.ID {
		return fmt.Errorf("the login %s is not the official %s's", *login, *opID)
	}
	res, err := st.EraseResident(healthcode.NewContext(ctx, sess.Actor), fs.Arg(0), *reason)
	if err != nil {
		return err
	}
	if res.Status == "requested" {
		fmt.Fprintf(e.stdout, "requested erasure of %s (log entry %d): a second data operator must approve it\n", res.Resident, res.LogIndex)
		return nil
	}
	fmt.Fprintf(e.stdout, "erased %s: %d personal parts deleted (log entry %d)\n", res.Resident, res.PersonalParts, res.LogIndex)
	return nil
}

// runSunset is 'healthcode sunset': the end of the programme.
func runSunset(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "sunset", "sunset --db DB --before DATE --reason TEXT")
	db := dbFlag(e, fs)
	before := fs.String("before", "", "erase every resident registered before this date (YYYY-MM-DD, UTC) or time (RFC 3339)")
	reason := fs.String("reason", "", "why: public, in every log.erased entry")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	t, perr := time.Parse(time.DateOnly, *before)
	if perr != nil {
		if t, perr = time.Parse(time.RFC3339, *before); perr != nil {
			return usagef("--before %q: want a date (2023-01-08) or an RFC 3339 time", *before)
		}
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	n, err := st.Sunset(operatorContext(ctx), t, *reason)
	fmt.Fprintf(e.stdout, "erased the personal data of %d residents registered before %s\n", n, t.UTC().Format(time.RFC3339))
	return err
}
