package store

import (
	"context"
	"encoding/json"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// An Event is a log entry that records something happening rather than a
// change of stored state: a background job starting, progressing or
// finishing, an anomaly alert.
type Event struct {
	Kind    tlog.Kind
	Subject string // resident id, if the event is about one
	Payload any    // public; marshalled as JSON
}

// eventKinds are the kinds AppendEvents accepts; every other kind is
// written by the store method that makes the state change it records.
// Only job.progressed qualifies: it projects to no state row, so its
// payload is progress detail. Every kind that the projection applies
// (job.started, job.finished, alert.raised, ...) is written by the store
// method that makes its state change, through its own type.
var eventKinds = map[tlog.Kind]bool{
	tlog.KindJobProgressed: true,
}

// AppendEvents appends events to the log in one transaction, for the
// platform itself (the system actor). It returns the index of the first.
// Returns EINVALID for a kind that records a state change, EFORBIDDEN for
// any actor but the system.
func (db *DB) AppendEvents(ctx context.Context, events []Event) (int64, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind != healthcode.ActorSystem {
		return 0, healthcode.Errorf(healthcode.EFORBIDDEN, "only the platform appends events")
	}
	for i, e := range events {
		if !eventKinds[e.Kind] {
			return 0, healthcode.Errorf(healthcode.EINVALID, "event %d: kind %q records a state change and is written with it", i, e.Kind)
		}
	}
	// Encode outside the batch, so the committer spends its time on the
	// database.
	payloads := make([]json.RawMessage, len(events))
	for i, e := range events {
		b, err := json.Marshal(e.Payload)
		if err != nil {
			return 0, healthcode.Errorf(healthcode.EINVALID, "event %d: payload: %v", i, err)
		}
		payloads[i] = b
	}
	var first int64
	err := db.write(ctx, func(t *Tx) error {
		for i, e := range events {
			idx, err := t.record(e.Kind, actor, e.Subject, payloads[i], nil, nil) // a kind that projects to no row
			if err != nil {
				return err
			}
			if i == 0 {
				first = idx
			}
		}
		return nil
	})
	return first, err
}
