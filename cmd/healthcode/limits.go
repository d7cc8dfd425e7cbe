package main

import (
	"flag"
	"strconv"
	"time"

	"github.com/healthcode/healthcode/store"
)

// limitFlags registers serve's accountability thresholds (store.Limits),
// each a flag with an environment variable; the returned function parses
// them once the flags are parsed.
func limitFlags(e *env, fs *flag.FlagSet) func() (store.Limits, error) {
	d := store.DefaultLimits()
	deadline := fs.String("appeal-deadline", e.envOr("HEALTHCODE_APPEAL_DEADLINE", d.AppealDeadline.String()),
		"an appeal undecided this long escalates to the parent jurisdiction's command (env HEALTHCODE_APPEAL_DEADLINE)")
	cooling := fs.String("cooling-period", e.envOr("HEALTHCODE_COOLING_PERIOD", d.CoolingPeriod.String()),
		"after a granted appeal, raising the code again needs new evidence and the parent command for this long (env HEALTHCODE_COOLING_PERIOD)")
	designation := fs.String("max-designation", e.envOr("HEALTHCODE_MAX_DESIGNATION", d.MaxDesignation.String()),
		"the longest a risk-area designation may last (until - from); extending one is a new designation (env HEALTHCODE_MAX_DESIGNATION)")
	raises := fs.String("raises-per-hour", e.envOr("HEALTHCODE_RAISES_PER_HOUR", strconv.Itoa(d.OfficialRaisesPerHour)),
		"hand-entered raising facts per official per hour before an alert and the parent command's approval (env HEALTHCODE_RAISES_PER_HOUR)")
	contacts := fs.String("plausible-contacts", e.envOr("HEALTHCODE_PLAUSIBLE_CONTACTS", strconv.Itoa(d.PlausibleContacts)),
		"residents citing one case above which an alert is raised (env HEALTHCODE_PLAUSIBLE_CONTACTS)")
	reads := fs.String("reads-per-hour", e.envOr("HEALTHCODE_READS_PER_HOUR", strconv.Itoa(d.ReadsPerHour)),
		"reads of residents' data per official per hour (env HEALTHCODE_READS_PER_HOUR)")
	return func() (store.Limits, error) {
		var l store.Limits
		var err error
		dur := func(name, s string, v *time.Duration) {
			if err == nil {
				if *v, err = time.ParseDuration(s); err != nil || *v <= 0 {
					err = usagef("--%s: want a positive duration such as 24h, not %q", name, s)
				}
			}
		}
		num := func(name, s string, v *int) {
			if err == nil {
				if *v, err = strconv.Atoi(s); err != nil || *v <= 0 {
					err = usagef("--%s: want a positive number, not %q", name, s)
				}
			}
		}
		dur("appeal-deadline", *deadline, &l.AppealDeadline)
		dur("cooling-period", *cooling, &l.CoolingPeriod)
		dur("max-designation", *designation, &l.MaxDesignation)
		num("raises-per-hour", *raises, &l.OfficialRaisesPerHour)
		num("plausible-contacts", *contacts, &l.PlausibleContacts)
		num("reads-per-hour", *reads, &l.ReadsPerHour)
		return l, err
	}
}
