package store

import (
	"context"
	"encoding/json"
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

// entry feeds one entry, in log order.
func (r *replayer) entry(e *tlog.Entry) {
	var p map[string]json.RawMessage
	if json.Unmarshal(e.Payload, &p) != nil {
		return
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(p[k], &s)
		return s
	}
	num := func(k string) int {
		var n int
		json.Unmarshal(p[k], &n)
		return n
	}
	switch e.Kind {
	case tlog.KindResidentRegistered:
		r.homes[str("id")] = str("jurisdiction")
	case tlog.KindRulesetDrafted:
		key := fmt.Sprintf("%s@%d", str("id"), num("version"))
		src, ok := r.sources[key]
		switch {
		case !ok:
			r.rep.add(e.Index, "ruleset %s was drafted but its text is not stored", key)
		case sha256Hex(src) != str("source_sha256"):
			r.rep.add(e.Index, "the stored text of ruleset %s is not the one drafted (SHA-256 differs)", key)
		default:
			r.drafted[key] = true
		}
	case tlog.KindRulesetPublished:
		key := fmt.Sprintf("%s@%d", str("id"), num("version"))
		if !r.drafted[key] {
			r.rep.add(e.Index, "publishes ruleset %s, which was never drafted intact", key)
			return
		}
		rs, err := rules.Parse(key, r.sources[key])
		if err != nil {
			r.rep.add(e.Index, "ruleset %s does not compile: %v", key, err)
			return
		}
		r.compiled[key] = rs
		r.published = append(r.published, rs)
		slices.SortStableFunc(r.published, rulesetOrder)
	case tlog.KindFactRecorded:
		f := healthcode.Fact{Key: str("key"), ID: str("key"), Kind: str("kind"), Subject: str("subject"), Payload: p["payload"],
			Status: healthcode.FactStatus(str("status"))}
		f.ObservedAt, _ = time.Parse(timeFormat, str("observed_at"))
		if r.facts[f.Subject] == nil {
			r.facts[f.Subject] = map[string]healthcode.Fact{}
		}
		r.facts[f.Subject][f.Key] = f
		r.where[f.Key] = f.Subject
	case tlog.KindFactApproved, tlog.KindFactRejected, tlog.KindFactRetracted:
		key := str("key")
		subj, ok := r.where[key]
		if !ok {
			r.rep.add(e.Index, "decides fact %s, which no earlier entry recorded", key)
			return
		}
		f := r.facts[subj][key]
		f.Status = map[tlog.Kind]healthcode.FactStatus{
			tlog.KindFactApproved: healthcode.FactActive, tlog.KindFactRejected: healthcode.FactRejected, tlog.KindFactRetracted: healthcode.FactRetracted,
		}[e.Kind]
		r.facts[subj][key] = f
	case tlog.KindCodeChanged:
		r.codeChanged(e, str("colour"), str("rule"), p["fact_ids"])
	}
}

func (r *replayer) codeChanged(e *tlog.Entry, colour, rule string, fidsJSON json.RawMessage) {
	r.Changes++
	id := e.Subject
	home, ok := r.homes[id]
	if !ok {
		r.rep.add(e.Index, "changes the code of %s, who was never registered", id)
		return
	}
	var want []string
	json.Unmarshal(fidsJSON, &want)
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
			if f.Kind == rules.KindAreaVisit {
				var v struct{ Area string }
				json.Unmarshal(f.Payload, &v)
				for _, a := range healthcode.Ancestors(v.Area) {
					areas[a] = true
				}
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
			r.rep.add(e.Index, "replaying the code of %s: %v", id, err)
			return
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
