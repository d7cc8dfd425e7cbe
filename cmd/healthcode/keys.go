package main

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

func runKeys(ctx context.Context, e *env) error {
	return runSubcommand(ctx, e, "keys", []subcommand{{"init", runKeysInit}, {"list", runKeysList}, {"rotate", runKeysRotate}, {"revoke", runKeysRevoke}})
}

// operatorContext is the actor of the key commands: the platform itself,
// run by whoever holds the database and the key secret.
func operatorContext(ctx context.Context) context.Context {
	return healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "cli", Name: "healthcode command line"})
}

func runKeysInit(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "keys init", "keys init --db DB [--issuer NAME]")
	db := dbFlag(e, fs)
	issuer := fs.String("issuer", e.envOr("HEALTHCODE_ISSUER", store.DefaultIssuer), "issuer name in the trust list, e.g. cn-41 (env HEALTHCODE_ISSUER)")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	secret, err := mustKeySecret(e, *db)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *db, store.Options{Logger: quietLogger(), KeySecret: optionalKeySecret(e, *db)})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer closeStore(st, &err)
	if err := st.EnsureKeys(operatorContext(ctx), secret, *issuer); err != nil {
		return err
	}
	return printKeys(ctx, e, st)
}

func runKeysList(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "keys list", "keys list --db DB")
	db := dbFlag(e, fs)
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	return printKeys(ctx, e, st)
}

// printKeys prints the trust-list key (to pin in verifiers) and every key
// with its window and status.
func printKeys(ctx context.Context, e *env, st *store.DB) error {
	m, err := st.Trust(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "issuer %s, trust list version %d\n", m.Issuer, m.Version)
	fmt.Fprintf(e.stdout, "trust-list key: %s\n", hex.EncodeToString(m.TrustKey))
	keys, err := st.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		na := "-"
		if !k.NotAfter.IsZero() {
			na = k.NotAfter.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(e.stdout, "%s %-5s %-7s from %s until %s\n", k.ID, k.Purpose, k.Status, k.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), na)
	}
	return nil
}

func runKeysRotate(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "keys rotate", "keys rotate --db DB")
	db := dbFlag(e, fs)
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	secret, err := mustKeySecret(e, *db)
	if err != nil {
		return err
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	k, err := st.RotateKey(operatorContext(ctx), secret)
	if err != nil {
		return err
	}
	m, err := st.Trust(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new active key %s; trust list version %d\n", k.ID, m.Version)
	fmt.Fprintf(e.stderr, "healthcode: hint: running servers switch to it within seconds; the old key's tokens verify until they expire\n")
	return nil
}

func runKeysRevoke(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "keys revoke", "keys revoke --db DB ID")
	db := dbFlag(e, fs)
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("keys revoke takes one key id")
	}
	secret, err := mustKeySecret(e, *db)
	if err != nil {
		return err
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	if err := st.RevokeKey(operatorContext(ctx), secret, fs.Arg(0)); err != nil {
		return err
	}
	m, err := st.Trust(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked key %s; trust list version %d\n", fs.Arg(0), m.Version)
	return nil
}
