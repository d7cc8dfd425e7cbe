package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
)

// erasureRecord opens the entries about resident id (their personal
// parts, before the erasure deletes them) and works out from them the
// record the log.erased entry keeps in its personal part
// (evLogErasedPersonal): what they added to the statistics that their
// public parts cannot say. It returns the opened entries too, whose
// public parts the log.erased entry's apply function counts. A resident
// with a v1 entry, or without a v2 registration (registered before
// migration 0013), and any resident while the store writes v1 leaves, has
// no record (nil, nil): their rows are counted (tallyRows).
func (t *Tx) erasureRecord(id string) (*evLogErasedPersonal, []*openedEntry, error) {
	if t.db.leafV1 {
		return nil, nil, nil
	}
	rows, err := t.query(`SELECT e.data, p.data FROM log_personal p JOIN log_entries e ON e.idx = p.idx
		WHERE p.subject = ? ORDER BY p.idx`, id)
	var entries []*openedEntry
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var data, stored []byte
		if err := rows.Scan(&data, &stored); err != nil {
			return err
		}
		o, err := openEntry(data, stored)
		if err != nil {
			return err
		}
		entries = append(entries, o)
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("the entries of %s: %w", id, err)
	}
	rec, err := recordOf(id, entries)
	if err != nil || rec == nil {
		return nil, nil, err
	}
	return rec, entries, nil
}

// recordOf works out the erasure record of resident id from their opened
// entries, in log order, as the projection would count them in Stats:
// their jurisdiction and the colour of their last code change (green if
// none), per UTC day the code changes citing a fact of theirs that an
// official entered by hand (a fact id the change's list contains, as
// Stats matches them), and the appeals of theirs escalated at least once.
// nil if an entry is v1 or none is their v2 registration.
func recordOf(id string, entries []*openedEntry) (*evLogErasedPersonal, error) {
	rec := &evLogErasedPersonal{Colour: string(healthcode.Green)}
	registered := false
	var handKeys []string
	type change struct{ day, facts string }
	var changes []change
	escalated := map[string]bool{}
	for _, o := range entries {
		if !o.V2() || o.erased || o.Subject != id {
			return nil, nil
		}
		pub, _, err := decodeEvent(o.Entry, o.personal)
		if err != nil {
			return nil, err
		}
		switch ev := pub.(type) {
		case *evResident:
			rec.Jurisdiction, registered = ev.Jurisdiction, true
		case *evCodeChanged:
			rec.Colour = ev.Colour
			fids, err := json.Marshal(ev.FactIDs)
			if err != nil {
				return nil, err
			}
			changes = append(changes, change{o.Time.UTC().Format(time.DateOnly), string(fids)})
		case *factEntry:
			if ev.Source == "" {
				handKeys = append(handKeys, ev.Key)
			}
		case *evAppealEscalated:
			escalated[ev.Appeal] = true
		}
	}
	if !registered {
		return nil, nil
	}
	for _, c := range changes {
		for _, k := range handKeys {
			if strings.Contains(c.facts, k) {
				if rec.HandEntered == nil {
					rec.HandEntered = map[string]int64{}
				}
				rec.HandEntered[c.day]++
				break
			}
		}
	}
	rec.Overdue = int64(len(escalated))
	return rec, nil
}
