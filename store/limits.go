package store

import (
	"runtime"
	"time"
)

// Limits are the accountability thresholds: appeal deadlines, the cooling
// period after a granted appeal, anomaly-alert thresholds and rate limits.
// A zero field takes its default (see DefaultLimits).
type Limits struct {
	AppealDeadline time.Duration // an open appeal escalates when undecided this long; default 24 h
	CoolingPeriod  time.Duration // after a granted appeal, re-raising needs the parent command; default 7 days
	MaxDesignation time.Duration // a risk-area designation's until − from at most; longer is a new designation; default 14 days
	MassChange     int           // approving a ruleset whose dry run changes more codes than this raises mass_change; default 100

	OfficialRaisesPerHour int     // hand-entered raising facts per official per hour before an alert and parent approval; default 50
	SourceSurgeFactor     float64 // a source's codes raised this hour above this many times its baseline alert; default 10
	SourceSurgeMin        int     // ... and at least this many; default 100
	PlausibleContacts     int     // residents citing one case above this alert; default 500
	ReadsPerHour          int     // personal-data reads per official per hour, then ETOOMANY; default 500
	BulkReadAlert         int     // reads per official per hour that raise an alert; default 200

	// Logins (see the throttling in sessionsec.go): free failed attempts
	// per window, after which each failure doubles a delay (ETOOMANY with
	// the time to wait) from LoginDelay up to LoginWindow.
	LoginFailuresPerAccount             int           // per account from one address; default 5
	LoginFailuresPerAddress             int           // per address, any accounts; default 20
	LoginFailuresPerAccountAllAddresses int           // per account from every address; default 100
	LoginWindow                         time.Duration // failures are forgotten after this long without an attempt; default 15 min
	LoginDelay                          time.Duration // the first delay; default 1 s
	LoginChecks                         int           // passwords checked at once (argon2, 19 MiB each); default GOMAXPROCS
	LoginQueueWait                      time.Duration // a login waits this long for a check slot, then EUNAVAIL; default 1 s
}

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	return Limits{
		AppealDeadline:                      24 * time.Hour,
		CoolingPeriod:                       7 * 24 * time.Hour,
		MaxDesignation:                      14 * 24 * time.Hour,
		MassChange:                          100,
		OfficialRaisesPerHour:               50,
		SourceSurgeFactor:                   10,
		SourceSurgeMin:                      100,
		PlausibleContacts:                   500,
		ReadsPerHour:                        500,
		BulkReadAlert:                       200,
		LoginFailuresPerAccount:             5,
		LoginFailuresPerAddress:             20,
		LoginWindow:                         15 * time.Minute,
		LoginFailuresPerAccountAllAddresses: 100,
		LoginDelay:                          time.Second,
		LoginChecks:                         runtime.GOMAXPROCS(0),
		LoginQueueWait:                      time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setD(&l.AppealDeadline, d.AppealDeadline)
	setD(&l.CoolingPeriod, d.CoolingPeriod)
	setD(&l.MaxDesignation, d.MaxDesignation)
	setD(&l.LoginWindow, d.LoginWindow)
	setD(&l.LoginDelay, d.LoginDelay)
	setD(&l.LoginQueueWait, d.LoginQueueWait)
	set(&l.LoginFailuresPerAccountAllAddresses, d.LoginFailuresPerAccountAllAddresses)
	set(&l.LoginChecks, d.LoginChecks)
	set(&l.OfficialRaisesPerHour, d.OfficialRaisesPerHour)
	set(&l.SourceSurgeMin, d.SourceSurgeMin)
	set(&l.PlausibleContacts, d.PlausibleContacts)
	set(&l.MassChange, d.MassChange)
	set(&l.ReadsPerHour, d.ReadsPerHour)
	set(&l.BulkReadAlert, d.BulkReadAlert)
	set(&l.LoginFailuresPerAccount, d.LoginFailuresPerAccount)
	set(&l.LoginFailuresPerAddress, d.LoginFailuresPerAddress)
	if l.SourceSurgeFactor <= 0 {
		l.SourceSurgeFactor = d.SourceSurgeFactor
	}
	return l
}

// Limits returns the thresholds in force.
func (db *DB) Limits() Limits { return db.limits }
