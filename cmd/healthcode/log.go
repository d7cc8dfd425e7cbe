package main

import (
	"context"
)

func runLog(ctx context.Context, e *env) error {
	if len(e.args) == 0 {
		return usagef("log needs a subcommand: verify, monitor or prove")
	}
	return usagef("unknown log subcommand %q (want verify, monitor or prove)", e.args[0])
}
