package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// replayer recomputes codes from the log alone: it follows the rulesets
// the entries record and, at every code.changed entry, re-evaluates the
// resident from the facts projected from the entries before it (the
// projector's state as of that entry) and compares. It is what makes "a
// code is a pure function of published rules and attributable facts"
// checkable by anyone holding the log and the published ruleset texts. It
// holds only the rulesets in memory.
type replayer struct {
	rep       *Report
	state     *store.Projector
	sources   map[string][]byte // "id@version" → stored ruleset text
	drafted   map[string]bool   // "id@version" drafted and its text matches
	published []*rules.Ruleset
	by        map[string][]string // "id@version" → its drafter and (once published) its approver, from the entries
	Changes   int                 // code changes replayed
}

func newReplayer(ctx context.Context, src Source, state *store.Projector, rep *Report) (*replayer, error) {
	r := &replayer{rep: rep, state: state, sources: map[string][]byte{}, drafted: map[string]bool{}, by: map[string][]string{}}
	err := src.RulesetSources(ctx, func(id string, v int, src string) error {
		r.sources[fmt.Sprintf("%s@%d", id, v)] = []byte(src)
		return nil
	})
	return r, err
}

// entry feeds one entry, in log order, before it is projected. An entry
// whose payload does not decode into its kind's type is a problem of the
// report, never skipped; a failure to read the projection stops the
// replay.
func (r *replayer) entry(e *tlog.Entry) error {
	err := r.follow(e)
	var qe *store.QueryError
	if errors.As(err, &qe) {
		return qe.Err
	}
	if err != nil {
		r.rep.add(e.Index, "%v", err)
	}
	return nil
}

func (r *replayer) follow(e *tlog.Entry) error {
	switch e.Kind {
	case tlog.KindRulesetDrafted:
		var v store.EventRulesetDrafted
		if err := store.DecodeEntry(e, &v); err != nil {
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
			r.by[key] = []string{e.Actor.ID}
		}
	case tlog.KindRulesetPublished:
		var v store.EventRulesetDecided
		if err := store.DecodeEntry(e, &v); err != nil {
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
		r.published = append(r.published, rs)
		slices.SortStableFunc(r.published, store.RulesetOrder)
		r.by[key] = append(slices.Clip(r.by[key]), e.Actor.ID)
	case tlog.KindRulesetWithdrawn:
		var v store.EventRulesetWithdrawn
		if err := store.DecodeEntry(e, &v); err != nil {
			return err
		}
		key := fmt.Sprintf("%s@%d", v.ID, v.Version)
		i := slices.IndexFunc(r.published, func(rs *rules.Ruleset) bool { return rs.ID() == v.ID && rs.Version() == v.Version })
		if i < 0 {
			return fmt.Errorf("withdraws ruleset %s, which is not published", key)
		}
		r.published = slices.Delete(r.published, i, i+1)
	case tlog.KindCodeChanged:
		var v store.EventCodeChanged
		if err := store.DecodeEntry(e, &v); err != nil {
			return err
		}
		return r.codeChanged(e, &v)
	}
	return nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (r *replayer) codeChanged(e *tlog.Entry, v *store.EventCodeChanged) error {
	colour, rule, want := v.Colour, v.Rule, v.FactIDs
	r.Changes++
	id := e.Subject
	home, found, err := r.state.Resident(id)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("changes the code of %s, who was never registered", id)
	}
	got := rules.Result{Colour: healthcode.Green}
	rs := store.Applicable(r.published, home, e.Time)
	if rs != nil {
		in := rules.Input{Now: e.Time}
		if in.Facts, err = r.state.ActiveFacts(id, ""); err != nil {
			return err
		}
		areas := map[string]bool{}
		for i := range in.Facts {
			if err := store.AddVisitedAreas(areas, &in.Facts[i]); err != nil {
				return fmt.Errorf("replaying the code of %s: %v", id, err)
			}
		}
		for _, a := range slices.Sorted(maps.Keys(areas)) {
			fs, err := r.state.ActiveFacts(a, rules.KindRiskArea)
			if err != nil {
				return err
			}
			in.Areas = append(in.Areas, fs...)
		}
		slices.SortFunc(in.Areas, func(a, b healthcode.Fact) int { return strings.Compare(a.Key, b.Key) })
		// A designation held or refused for the resident does not count
		// for them (fact.held_for, fact.refused_for).
		if in.Areas, err = r.state.WithoutHeld(id, in.Areas); err != nil {
			return err
		}
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
	return r.citedOfficials(e, id, rs, v)
}

// citedOfficials checks the officials a code.changed entry names (changes
// logged before they were cited name none): the ruleset's drafter and
// approver as its entries say, and the designation's recorder and approver
// as the projection of the entries before holds them.
func (r *replayer) citedOfficials(e *tlog.Entry, id string, rs *rules.Ruleset, v *store.EventCodeChanged) error {
	if len(v.RulesetBy) > 0 {
		var by []string
		if rs != nil {
			by = r.by[fmt.Sprintf("%s@%d", rs.ID(), rs.Version())]
		}
		if !slices.Equal(by, v.RulesetBy) {
			r.rep.add(e.Index, "the code change of %s names %v as the officials of its ruleset; the log's ruleset entries name %v", id, v.RulesetBy, by)
		}
	}
	if v.Designation == "" {
		return nil
	}
	f, found, err := r.state.Fact(v.Designation)
	if err != nil {
		return err
	}
	var by []string
	recorder := f.RecordedBy
	if recorder == "" {
		recorder = f.Source
	}
	for _, o := range []string{recorder, f.ApprovedBy} {
		if o != "" {
			by = append(by, o)
		}
	}
	if !found || !rules.IsAreaKind(f.Kind) || !slices.Equal(by, v.DesignationBy) {
		r.rep.add(e.Index, "the code change of %s cites designation %q by %v; the log's entries give %v", id, v.Designation, v.DesignationBy, by)
	}
	return nil
}
