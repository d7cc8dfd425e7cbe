package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// Causes of a code change, as recorded in code.changed entries and the
// resident's history.
const (
	CauseFact       = "fact"       // a fact was recorded or approved
	CauseRetraction = "retraction" // a fact was retracted
	CauseAppeal     = "appeal"     // a granted appeal retracted facts
	CauseRuleset    = "ruleset"    // a new ruleset took effect
	CauseRiskArea   = "risk_area"  // an area's designation changed
	CauseTime       = "time"       // facts aged into or out of their windows
)

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// inChunks calls f for consecutive parts of ids of at most 500.
func inChunks(ids []string, f func(part []string, args []any) error) error {
	for start := 0; start < len(ids); start += 500 {
		part := ids[start:min(start+500, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if err := f(part, args); err != nil {
			return err
		}
	}
	return nil
}

// factColumns are the columns scanFact reads, in order.
const factColumns = "uid, id, kind, subject, observed_at, recorded_at, source, recorded_by, approved_by, evidence, payload, status, log_index"

type rowScanner interface{ Scan(dest ...any) error }

func scanFact(r rowScanner) (healthcode.Fact, error) {
	var f healthcode.Fact
	var payload, status string
	if err := r.Scan(&f.Key, &f.ID, &f.Kind, &f.Subject, timeCol(&f.ObservedAt), timeCol(&f.RecordedAt), &f.Source, &f.RecordedBy, &f.ApprovedBy,
		&f.Evidence, &payload, &status, &f.LogIndex); err != nil {
		return f, err
	}
	f.Payload = json.RawMessage(payload)
	f.Status = healthcode.FactStatus(status)
	return f, nil
}

// factRefs is the area and case id that a fact's row keeps beside its
// payload, for the queries by area and by case: an area visit's area and a
// case status's case id from the payload, a risk area's subject.
func factRefs(f *healthcode.Fact) (area, caseID string, err error) {
	switch f.Kind {
	case rules.KindAreaVisit, rules.KindCaseStatus:
		var q struct {
			Area   string `json:"area"`
			CaseID string `json:"case_id"`
		}
		if err := decodeStored("fact "+f.Key+" payload", f.Payload, &q); err != nil {
			return "", "", err
		}
		return q.Area, q.CaseID, nil
	case rules.KindRiskArea:
		return f.Subject, "", nil
	}
	return "", "", nil
}

// caseStatus is a case-status payload's case id and whether it makes the
// person a case that contacts can cite (confirmed or asymptomatic); what
// names the payload in the error.
func caseStatus(what string, payload []byte) (caseID string, isCase bool, err error) {
	var q struct {
		Status string `json:"status"`
		CaseID string `json:"case_id"`
	}
	if err := decodeStored(what, payload, &q); err != nil {
		return "", false, err
	}
	return q.CaseID, q.Status == "confirmed" || q.Status == "asymptomatic", nil
}

// addVisitedAreas adds to set the area an area-visit fact names and its
// ancestors: the risk areas that can apply to the resident.
func addVisitedAreas(set map[string]bool, f *healthcode.Fact) error {
	if f.Kind != rules.KindAreaVisit {
		return nil
	}
	area, _, err := factRefs(f)
	if err != nil {
		return err
	}
	for _, a := range healthcode.Ancestors(area) {
		set[a] = true
	}
	return nil
}

// forEval returns a copy of f identified by its platform-wide key, so that
// the evaluator's citations are keys.
func forEval(f healthcode.Fact) healthcode.Fact {
	f.ID = f.Key
	return f
}

// currentCode is the part of a stored code the evaluator compares.
type currentCode struct {
	colour  healthcode.Colour
	rule    string
	factIDs []string
	exists  bool
}

// evaluate re-evaluates residents inside the transaction at the batch's
// time and writes every changed code with its code.changed entry. cause
// says what triggered it. It returns how many codes changed.
func (t *Tx) evaluate(ids []string, cause string) (int, error) {
	return t.evaluateIDs(ids, cause, false)
}

// evaluateIDs is evaluate; contiguous says ids are every resident id
// between the first and the last (in sorted order) that the caller wants,
// so that the rows can be read by range. Rows of other residents in the
// range are read and ignored.
func (t *Tx) evaluateIDs(ids []string, cause string, contiguous bool) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ids = sortedUniq(ids)
	st, err := t.loadEval(ids, contiguous, nil, nil)
	if err != nil {
		return 0, err
	}
	// A job's chunk is many residents: the first time a code could change
	// will do. A handful, whose facts just changed or aged, get the time
	// it does change, so they are not re-evaluated for nothing.
	st.exact = !contiguous
	start := time.Now()
	results, rulesets, errs := st.run(ids, t.now, runtime.GOMAXPROCS(0))
	t.db.observer().Evaluated(len(ids), time.Since(start))
	return t.applyEval(ids, st, results, rulesets, errs, cause)
}

func sortedUniq(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// evalState is what evaluating a set of residents reads: the published
// rulesets, the residents' homes, active facts (each resident's sorted by
// key, as replay sorts them), current codes and schedule, and the risk
// areas they visited.
type evalState struct {
	list      []*rules.Ruleset
	homes     map[string]string
	facts     map[string][]healthcode.Fact
	current   map[string]currentCode
	scheduled map[string]string // resident → next_check stored
	areas     []healthcode.Fact
	held      heldSet // designations held or refused for a resident: left out of their evaluation
	exact     bool    // evaluate with rules.EvaluateExact
	// decoded are facts already decoded, for the evaluations (see
	// rules.Input.Decoded); nil if none.
	decoded map[string]*rules.Decoded
}

// loadEval reads the evaluation state of ids (sorted, unique). homes, if
// not nil, are their homes, already read; extra are facts not yet stored
// to count as active too (see factSnapshot).
func (t *Tx) loadEval(ids []string, contiguous bool, homes map[string]string, extra []healthcode.Fact) (*evalState, error) {
	list, err := t.db.published(t.ctx, t.tx)
	if err != nil {
		return nil, err
	}
	st := &evalState{
		list:      list,
		homes:     homes,
		facts:     make(map[string][]healthcode.Fact, len(ids)),
		current:   make(map[string]currentCode, len(ids)),
		scheduled: make(map[string]string, len(ids)),
		held:      heldSet{},
	}
	areaSet := make(map[string]bool)
	addFact := func(f healthcode.Fact) error {
		st.facts[f.Subject] = append(st.facts[f.Subject], forEval(f))
		return addVisitedAreas(areaSet, &f)
	}
	// Load homes, active facts and current codes: by ranges of ids when
	// the ids are a contiguous run in id order (a job's chunk), else by
	// IN lists.
	readHomes := homes == nil
	if readHomes {
		st.homes = make(map[string]string, len(ids))
	}
	load := func(where string, args []any) error {
		if readHomes {
			if err := t.eachRow("SELECT id, jurisdiction FROM residents WHERE id "+where, args, func(rows *sql.Rows) error {
				var id, j string
				if err := rows.Scan(&id, &j); err != nil {
					return err
				}
				st.homes[id] = j
				return nil
			}); err != nil {
				return err
			}
		}
		if err := t.eachRow("SELECT "+factColumns+" FROM facts WHERE subject "+where+" AND status = 'active'", args, func(rows *sql.Rows) error {
			f, err := scanFact(rows)
			if err != nil {
				return err
			}
			return addFact(f)
		}); err != nil {
			return err
		}
		if err := t.eachRow(heldQuery+where, args, func(rows *sql.Rows) error {
			var id, designation string
			if err := rows.Scan(&id, &designation); err != nil {
				return err
			}
			st.held.add(id, designation)
			return nil
		}); err != nil {
			return err
		}
		if err := t.eachRow("SELECT resident, next_check FROM code_schedule WHERE resident "+where, args, func(rows *sql.Rows) error {
			var id, next string
			if err := rows.Scan(&id, &next); err != nil {
				return err
			}
			st.scheduled[id] = next
			return nil
		}); err != nil {
			return err
		}
		return t.eachRow("SELECT resident, colour, rule, fact_ids FROM codes WHERE resident "+where, args, func(rows *sql.Rows) error {
			var id, colour string
			c := currentCode{exists: true}
			if err := rows.Scan(&id, &colour, &c.rule, jsonCol(&c.factIDs)); err != nil {
				return err
			}
			c.colour = healthcode.Colour(colour)
			st.current[id] = c
			return nil
		})
	}
	if contiguous {
		err = load("BETWEEN ? AND ?", []any{ids[0], ids[len(ids)-1]})
	} else {
		err = inChunks(ids, func(part []string, args []any) error {
			return load("IN ("+placeholders(len(part))+")", args)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("load residents for evaluation: %w", err)
	}
	for _, f := range extra {
		if err := addFact(f); err != nil {
			return nil, err
		}
	}
	for _, fs := range st.facts {
		slices.SortFunc(fs, func(a, b healthcode.Fact) int { return strings.Compare(a.Key, b.Key) })
	}
	if st.areas, err = t.riskAreas(areaSet); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := st.homes[id]; !ok {
			return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no resident %q", id)
		}
	}
	return st, nil
}

// run evaluates ids at now. Evaluation is pure and CPU-bound: it is spread
// over up to workers goroutines. It returns each resident's result and the
// ruleset that gave it (nil: none applies, green), and each resident's
// error (nil if none): one resident's failing evaluation does not stop the
// others' (applyEval records it).
func (st *evalState) run(ids []string, now time.Time, workers int) ([]rules.Result, []*rules.Ruleset, []error) {
	results := make([]rules.Result, len(ids))
	rulesets := make([]*rules.Ruleset, len(ids))
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	workers = min(workers, max(1, len(ids)/64))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ids); i += workers {
				id := ids[i]
				res := rules.Result{Colour: healthcode.Green}
				rs := applicable(st.list, st.homes[id], now)
				if rs != nil {
					in := rules.Input{Facts: st.facts[id], Areas: withoutHeld(st.areas, st.held[id]), Now: now, Decoded: st.decoded}
					evaluate := rs.Evaluate
					if st.exact {
						evaluate = rs.EvaluateExact
					}
					res, errs[i] = evaluate(in)
				}
				results[i], rulesets[i] = res, rs
			}
		}()
	}
	wg.Wait()
	return results, rulesets, errs
}

// applyEval writes the outcome of evaluating ids: a code.changed entry and
// the state rows for every changed code, and the schedule. A resident whose
// evaluation failed (errs[i], errs may be nil) keeps their code and leaves
// the schedule (a failure due again at every tick would hold up the rest):
// the failure is an evaluation.failed entry and an alert, and the others
// go on. It returns how many codes changed.
func (t *Tx) applyEval(ids []string, st *evalState, results []rules.Result, rulesets []*rules.Ruleset, errs []error, cause string) (int, error) {
	changed := 0
	var schedule [][2]string
	var unschedule []string
	for i, id := range ids {
		res, rs := results[i], rulesets[i]
		if errs != nil && errs[i] != nil {
			if _, had := st.scheduled[id]; had {
				unschedule = append(unschedule, id)
			}
			if err := t.evalFailed(id, st.homes[id], rs, errs[i], cause); err != nil {
				return 0, err
			}
			continue
		}
		if len(res.Crowded) > 0 {
			if err := t.alertCrowded(st.homes[id], res.Crowded); err != nil {
				return 0, err
			}
		}
		if res.FactIDs == nil {
			res.FactIDs = []string{}
		}
		next, had := st.scheduled[id]
		switch {
		case res.NextChange.IsZero() && had:
			unschedule = append(unschedule, id)
		case !res.NextChange.IsZero() && next != fmtTime(res.NextChange):
			schedule = append(schedule, [2]string{id, fmtTime(res.NextChange)})
		}
		cur, ok := st.current[id]
		if !ok {
			cur = currentCode{colour: healthcode.Green}
		}
		if cur.colour == res.Colour && cur.rule == res.Rule && slices.Equal(cur.factIDs, res.FactIDs) {
			continue
		}
		if err := t.writeCode(id, cur, res, rs, cause); err != nil {
			return 0, err
		}
		changed++
	}
	if err := t.schedule(schedule, unschedule); err != nil {
		return 0, err
	}
	return changed, nil
}

// riskAreas loads the active risk_area facts about the given areas.
func (t *Tx) riskAreas(areaSet map[string]bool) ([]healthcode.Fact, error) {
	if len(areaSet) == 0 {
		return nil, nil
	}
	areas := make([]string, 0, len(areaSet))
	for a := range areaSet {
		areas = append(areas, a)
	}
	slices.Sort(areas)
	var out []healthcode.Fact
	err := inChunks(areas, func(part []string, args []any) error {
		rows, err := t.query("SELECT "+factColumns+" FROM facts WHERE kind = 'risk_area' AND status = 'active' AND subject IN ("+placeholders(len(part))+")", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanFact(rows)
			if err != nil {
				return err
			}
			out = append(out, forEval(f))
		}
		return rows.Err()
	})
	return out, err
}

// writeCode records a changed code: the code.changed entry, the state row,
// the history row.
func (t *Tx) writeCode(id string, cur currentCode, res rules.Result, rs *rules.Ruleset, cause string) error {
	var rsID string
	var rsVersion int
	if rs != nil {
		rsID, rsVersion = rs.ID(), rs.Version()
	}
	ev := &evCodeChanged{
		Colour: string(res.Colour), Previous: string(cur.colour), Ruleset: rsID, RulesetVersion: rsVersion,
		Rule: res.Rule, FactIDs: res.FactIDs, Cause: cause, Omitted: res.Omitted,
	}
	var err error
	if rs != nil {
		if ev.RulesetBy, err = t.citedOfficials(fmt.Sprintf("%s@%d", rsID, rsVersion),
			"SELECT drafted_by, decided_by FROM rulesets WHERE id = ? AND version = ?", rsID, rsVersion); err != nil {
			return err
		}
	}
	if t.designation != "" {
		ev.Designation = t.designation
		if ev.DesignationBy, err = t.citedOfficials(t.designation,
			"SELECT CASE WHEN recorded_by = '' THEN source ELSE recorded_by END, approved_by FROM facts WHERE uid = ?", t.designation); err != nil {
			return err
		}
	}
	if _, err := t.record(tlog.KindCodeChanged, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "evaluator"}, id, ev, nil, nil); err != nil {
		return err
	}
	t.b.changes = append(t.b.changes, codeChange{res.Colour, cause})
	return nil
}

// citedOfficials returns the officials a code.changed entry cites for
// what (a ruleset or a designation): the non-empty of the two columns q
// reads (who drafted or recorded it, who approved it), cached in t.
func (t *Tx) citedOfficials(what, q string, args ...any) ([]string, error) {
	if by, ok := t.officials[what]; ok {
		return by, nil
	}
	var first, second string
	if err := t.queryRow(q, args...).Scan(&first, &second); err != nil {
		return nil, fmt.Errorf("read the officials behind %s: %w", what, err)
	}
	var by []string
	for _, o := range []string{first, second} {
		if o != "" {
			by = append(by, o)
		}
	}
	if t.officials == nil {
		t.officials = map[string][]string{}
	}
	t.officials[what] = by
	return by, nil
}

// schedule records when residents' codes can next change by time alone
// (resident, time) and forgets those that cannot.
func (t *Tx) schedule(set [][2]string, unset []string) error {
	err := inChunks(unset, func(part []string, args []any) error {
		_, err := t.exec("DELETE FROM code_schedule WHERE resident IN ("+placeholders(len(part))+")", args...)
		return err
	})
	if err != nil {
		return err
	}
	return upsertRows(t, "code_schedule (resident, next_check)", 2, len(set),
		" ON CONFLICT (resident) DO UPDATE SET next_check = excluded.next_check",
		func(i int) []any { return []any{set[i][0], set[i][1]} })
}

// evalFailed records that a resident's evaluation failed: the
// evaluation.failed entry (the resident is its subject; the error names
// the ruleset's file and line), and an evaluation_failed alert once per
// ruleset version and hour, naming no one.
func (t *Tx) evalFailed(id, home string, rs *rules.Ruleset, failure error, cause string) error {
	var rsID string
	var rsVersion int
	if rs != nil {
		rsID, rsVersion = rs.ID(), rs.Version()
	}
	msg := failure.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	t.db.logger.Warn("evaluation failed: the resident is skipped, their code left as it was", "resident", id, "ruleset", rsID, "version", rsVersion, "job", t.job, "err", failure)
	idx, err := t.record(tlog.KindEvalFailed, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "evaluator"}, id, &evEvalFailed{
		Ruleset: rsID, RulesetVersion: rsVersion, Error: msg, Cause: cause, Job: t.job,
	}, nil, nil)
	if err != nil {
		return err
	}
	t.evalFailures++
	// The alert is public: the error (which may cite a resident's facts)
	// stays in the evaluation.failed entry it cites, the place goes no
	// finer than the county.
	subject := fmt.Sprintf("%s@%d", rsID, rsVersion)
	return t.alertOnce("", healthcode.AlertEvalFailed, subject, healthcode.CountyOf(home), t.now.Add(-time.Hour), map[string]any{
		"ruleset": rsID, "ruleset_version": rsVersion, "entry": idx, "cause": cause, "job": t.job,
	})
}

// alertCrowded raises a facts_near_bound alert, once per origin and hour,
// for each kind of which a resident living in home has at least three
// quarters of the kind's bound within their windows: the origin is the
// source or official that filed most of them.
func (t *Tx) alertCrowded(home string, crowded []rules.Crowding) error {
	for _, c := range crowded {
		if err := t.alertOnce("", healthcode.AlertNearBound, c.Origin, healthcode.CountyOf(home), t.now.Add(-time.Hour), map[string]any{
			"kind": c.Kind, "in_window": c.InWindow, "max": c.Max, "omitted": c.Omitted, "from_origin": c.FromOrigin,
		}); err != nil {
			return err
		}
	}
	return nil
}
