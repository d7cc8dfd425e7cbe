package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// replayer recomputes codes from the log alone: it follows the facts and
// rulesets the entries record and, at every code.changed entry,
// re-evaluates the resident as of that entry and compares. It is what makes
// "a code is a pure function of published rules and attributable facts"
// checkable by anyone holding the log and the published ruleset texts.
type replayer struct {
	rep       *VerifyReport
	sources   map[string][]byte // "id@version" → stored ruleset text
	compiled  map[string]*rules.Ruleset
	drafted   map[string]bool // "id@version" drafted and its text matches
	published []*rules.Ruleset
	homes     map[string]string                     // resident → home jurisdiction
	facts     map[string]map[string]healthcode.Fact // subject → key → fact (person facts; area facts under their area)
	where     map[string]string                     // fact key → subject it is filed under
	Changes   int                                   // code changes replayed
}

func (db *DB) newReplayer(ctx context.Context, rep *VerifyReport) (*replayer, error) {
	r := &replayer{rep: rep, sources: map[string][]byte{}, compiled: map[string]*rules.Ruleset{}, drafted: map[string]bool{},
		homes: map[string]string{}, facts: map[string]map[string]healthcode.Fact{}, where: map[string]string{}}
	rows, err := db.db.QueryContext(ctx, "SELECT id, version, source FROM rulesets")
	if err != nil {
		return nil, fmt.Errorf("read rulesets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, src string
		var v int
		if err := rows.Scan(&id, &v, &src); err != nil {
			return nil, err
		}
		r.sources[fmt.Sprintf("%s@%d", id, v)] = []byte(src)
	}
	return r, rows.Err()
}

// entry feeds one entry, in log order. An entry whose payload does not
// decode into its kind's type is a problem of the report, never skipped.
func (r *replayer) entry(e *tlog.Entry) {
	if err := r.follow(e); err != nil {
		r.rep.add(e.Index, "%v", err)
	}
}

func (r *replayer) follow(e *tlog.Entry) error {
	switch e.Kind {
	case tlog.KindResidentRegistered:
		var v evResident
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		r.homes[v.ID] = v.Jurisdiction
	case tlog.KindRulesetDrafted:
		var v evRulesetDrafted
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		key := fmt.Sprintf("%s@%d", v.ID, v.Version)
		src, ok := r.sources[key]
		switch {
		case !ok:
			r.rep.add(e.Index, "ruleset %s was drafted but its text is not stored", key)
		case sha256Hex(src) != v.SourceSHA256:
			r.rep.add(e.Index, "the stored text of ruleset %s is not the one drafted (SHA-256 differs)", key)
		default:
			r.drafted[key] = true
		}
	case tlog.KindRulesetPublished:
		var v evRulesetDecided
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		key := fmt.Sprintf("%s@%d", v.ID, v.Version)
		if !r.drafted[key] {
			return fmt.Errorf("publishes ruleset %s, which was never drafted intact", key)
		}
		rs, err := rules.Parse(key, r.sources[key])
		if err != nil {
			return fmt.Errorf("ruleset %s does not compile: %v", key, err)
		}
		r.compiled[key] = rs
		r.published = append(r.published, rs)
		slices.SortStableFunc(r.published, rulesetOrder)
	case tlog.KindFactRecorded:
		var v factEntry
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		// The origin (source, or the recording official) counts: a kind's
		// facts beyond its bound are shared fairly among origins.
		f := healthcode.Fact{Key: v.Key, ID: v.Key, Kind: v.Kind, Subject: v.Subject, Payload: v.Payload, Status: v.Status, Source: v.Source}
		if f.Source == "" {
			f.RecordedBy = e.Actor.ID
		}
		var err error
		if f.ObservedAt, err = time.Parse(timeFormat, v.ObservedAt); err != nil {
			return fmt.Errorf("records fact %s observed at %q: %v", v.Key, v.ObservedAt, err)
		}
		if r.facts[f.Subject] == nil {
			r.facts[f.Subject] = map[string]healthcode.Fact{}
		}
		r.facts[f.Subject][f.Key] = f
		r.where[f.Key] = f.Subject
	case tlog.KindFactApproved, tlog.KindFactRejected, tlog.KindFactRetracted:
		var key string
		if e.Kind == tlog.KindFactRetracted {
			var v evFactRetracted
			if err := decodeEntry(e, &v); err != nil {
				return err
			}
			key = v.Key
		} else {
			var v evFactDecided
			if err := decodeEntry(e, &v); err != nil {
				return err
			}
			key = v.Key
		}
		subj, ok := r.where[key]
		if !ok {
			return fmt.Errorf("decides fact %s, which no earlier entry recorded", key)
		}
		f := r.facts[subj][key]
		f.Status = map[tlog.Kind]healthcode.FactStatus{
			tlog.KindFactApproved: healthcode.FactActive, tlog.KindFactRejected: healthcode.FactRejected, tlog.KindFactRetracted: healthcode.FactRetracted,
		}[e.Kind]
		r.facts[subj][key] = f
	case tlog.KindCodeChanged:
		var v evCodeChanged
		if err := decodeEntry(e, &v); err != nil {
			return err
		}
		return r.codeChanged(e, v.Colour, v.Rule, v.FactIDs)
	}
	return nil
}

func (r *replayer) codeChanged(e *tlog.Entry, colour, rule string, want []string) error {
	r.Changes++
	id := e.Subject
	home, ok := r.homes[id]
	if !ok {
		return fmt.Errorf("changes the code of %s, who was never registered", id)
	}
	got := rules.Result{Colour: healthcode.Green}
	rs := applicable(r.published, home, e.Time)
	if rs != nil {
		in := rules.Input{Now: e.Time}
		areas := map[string]bool{}
		for _, f := range r.facts[id] {
			if f.Status != healthcode.FactActive {
				continue
			}
			in.Facts = append(in.Facts, f)
			if err := addVisitedAreas(areas, &f); err != nil {
				return fmt.Errorf("replaying the code of %s: %v", id, err)
			}
		}
		for a := range areas {
			for _, f := range r.facts[a] {
				if f.Status == healthcode.FactActive && f.Kind == rules.KindRiskArea {
					in.Areas = append(in.Areas, f)
				}
			}
		}
		// Map iteration order must not matter: sort inputs by key.
		slices.SortFunc(in.Facts, func(a, b healthcode.Fact) int { return cmpString(a.Key, b.Key) })
		slices.SortFunc(in.Areas, func(a, b healthcode.Fact) int { return cmpString(a.Key, b.Key) })
		var err error
		if got, err = rs.Evaluate(in); err != nil {
			return fmt.Errorf("replaying the code of %s: %v", id, err)
		}
	}
	if got.FactIDs == nil {
		got.FactIDs = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if string(got.Colour) != colour || got.Rule != rule || !slices.Equal(got.FactIDs, want) {
		r.rep.add(e.Index, "the code of %s does not follow from the logged facts and rules: the log says %s (rule %q, facts %v), replay gives %s (rule %q, facts %v)",
			id, colour, rule, want, got.Colour, got.Rule, got.FactIDs)
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
