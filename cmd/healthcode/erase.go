package main

import (
	"context"
	"fmt"
	"time"

	"github.com/healthcode/healthcode"
)

// runErase is 'healthcode erase resident': the command-line form of
// POST /v1/residents/{id}/erase, for an operator at the database. It acts
// as the data operator named by --operator: the first operator's call
// records the request, a second operator's call erases. Both are log
// entries naming the operator.
func runErase(ctx context.Context, e *env) error {
	return runSubcommand(ctx, e, "erase", []subcommand{{"resident", runEraseResident}})
}

func runEraseResident(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "erase resident", "erase resident --db DB --operator OFFICIAL --reason TEXT RESIDENT")
	db := dbFlag(e, fs)
	opID := fs.String("operator", "", "the data operator (official id) asking for or approving the erasure")
	reason := fs.String("reason", "", "why: public, in the log; name no one")
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("erase resident needs one resident id")
	}
	if *opID == "" {
		return usagef("--operator is required: the data operator who asks or approves")
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	o, err := st.Official(ctx, *opID)
	if err != nil {
		return err
	}
	if o.Disabled {
		return fmt.Errorf("official %s is disabled", o.ID)
	}
	actor := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: o.ID, Name: o.Name, Role: o.Role, Jurisdiction: o.Jurisdiction})
	res, err := st.EraseResident(actor, fs.Arg(0), *reason)
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
