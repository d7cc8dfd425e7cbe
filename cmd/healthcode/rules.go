package main

import (
	"context"
	"fmt"
	"os"

	"github.com/healthcode/healthcode/rules"
)

func runRules(ctx context.Context, e *env) error {
	if len(e.args) == 0 || e.args[0] != "check" {
		return usagef("usage: healthcode rules check FILE...")
	}
	fs := newFlags(e, "rules check", "rules check FILE...")
	if err := parseFlags(e, fs, e.args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("rules check needs at least one ruleset file")
	}
	failed := 0
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
			failed++
			continue
		}
		errs := rules.Check(name, data)
		for _, err := range errs {
			fmt.Fprintln(e.stderr, err)
		}
		if len(errs) > 0 {
			failed++
			continue
		}
		rs, err := rules.Parse(name, data)
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "%s: ok: %s version %d, %d rules, scope %s\n", name, rs.ID(), rs.Version(), len(rs.Rules()), rs.Scope())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d file(s) failed", failed, fs.NArg())
	}
	return nil
}
