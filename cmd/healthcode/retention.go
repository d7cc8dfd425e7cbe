package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// retentionFlags adds serve's retention settings (store.Retention) and
// returns their parser.
func retentionFlags(e *env, fs *flag.FlagSet) func() (store.Retention, error) {
	d := store.DefaultRetention
	visits := fs.String("retain-visits", e.envOr("HEALTHCODE_RETAIN_VISITS", d.Visits.String()), "erase the personal parts of itinerary visits this long after departure; 0 keeps them (env HEALTHCODE_RETAIN_VISITS)")
	results := fs.String("retain-results", e.envOr("HEALTHCODE_RETAIN_RESULTS", d.Results.String()), "erase the personal parts of test results this long after sampling; 0 keeps them (env HEALTHCODE_RETAIN_RESULTS)")
	contacts := fs.String("retain-contacts", e.envOr("HEALTHCODE_RETAIN_CONTACTS", d.Contacts.String()), "erase the personal parts of contacts this long after exposure; 0 keeps them (env HEALTHCODE_RETAIN_CONTACTS)")
	return func() (store.Retention, error) {
		var r store.Retention
		for _, f := range []struct {
			name, v string
			dst     *time.Duration
		}{{"retain-visits", *visits, &r.Visits}, {"retain-results", *results, &r.Results}, {"retain-contacts", *contacts, &r.Contacts}} {
			v, err := time.ParseDuration(f.v)
			if err != nil || v < 0 {
				return r, usagef("--%s: want a duration such as 336h (0: keep), not %q", f.name, f.v)
			}
			*f.dst = v
		}
		return r, nil
	}
}

// retentionEvery is how often the server applies retention.
const retentionEvery = time.Hour

// startRetention applies retention now and then every hour until ctx
// ends; each erasure is a log.erased entry and a log record.
func startRetention(ctx context.Context, logger *slog.Logger, st *store.DB, r store.Retention) {
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "retention", Name: "retention"})
	run := func() {
		n, err := st.Retain(sys, r)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("retention failed", "err", err)
		case n > 0:
			logger.Info("retention erased personal parts", "parts", n)
		}
	}
	go func() {
		run()
		t := time.NewTicker(retentionEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				run()
			}
		}
	}()
}
