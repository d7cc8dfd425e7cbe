package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/tlog"
)

// MaxFactBatch is the most facts one RecordFacts call takes.
const MaxFactBatch = healthcode.MaxFactBatch

// FactOutcome is what became of one submitted fact.
type FactOutcome struct {
	Line   int
	Key    string
	Status string // active, pending (awaiting approval), or duplicate (already stored, identical)
}

// RecordResult is the outcome of a RecordFacts batch.
type RecordResult struct {
	Facts   []FactOutcome
	Changed int
}

// RecordFacts stores a batch of facts from the actor in the context: a
// registered source (only the kinds it is registered for, about residents
// and areas inside the jurisdiction it is registered for), or an official
// entering facts by hand (only the kinds their role may enter, about
// residents and areas inside their jurisdiction). The batch is accepted or
// rejected whole; a rejected batch's error (EINVALID) lists every error
// with its line (the fact's position, from 1) and field. A fact whose id the
// submitter used before is skipped if identical and an error if not, so a
// retried batch is idempotent. A hand-entered fact that would raise a code
// is stored pending until a second official approves it. Codes of the
// residents concerned are re-evaluated in the same transaction.
func (db *DB) RecordFacts(ctx context.Context, in []healthcode.Fact) (*RecordResult, error) {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.CheckFactBatch(actor, len(in)); err != nil {
		return nil, err
	}
	var src *healthcode.Source
	if actor.Kind == healthcode.ActorSource {
		var err error
		if src, err = db.source(ctx, actor.ID); err != nil {
			return nil, err
		}
		actor.Jurisdiction = src.Jurisdiction // its scope, as registered
	}
	release, err := db.cpuSlot(ctx)
	if err != nil {
		return nil, err
	}
	prep, facts, decoded, err := db.checkFacts(in, actor, src)
	release()
	if err != nil {
		db.observeFacts(actor, len(in), nil, err)
		return nil, err
	}
	local := localFacts(actor, facts)
	var snap *factSnapshot
	if local {
		if snap, err = db.snapshotFacts(ctx, facts, decoded); err != nil {
			return nil, err
		}
		if err := withRaises(prep, facts, snap.raising.raises); err != nil {
			return nil, err
		}
		if testHookAfterSnapshot != nil {
			testHookAfterSnapshot()
		}
	}
	var res *RecordResult
	err = db.write(ctx, func(t *Tx) error {
		var err error
		res, err = t.recordFacts(actor, facts, prep, snap)
		t.local = local
		return err
	})
	db.observeFacts(actor, len(in), res, err)
	return res, err
}

// checkFacts validates a batch (every error, with its line) and prepares
// each fact (see preparedFact): the part of RecordFacts that needs no
// database. decoded are the facts as validation decoded them, by key, for
// the batch's evaluations (rules.Input.Decoded).
func (db *DB) checkFacts(in []healthcode.Fact, actor healthcode.Actor, src *healthcode.Source) (prep []preparedFact, facts []healthcode.Fact, decoded map[string]*rules.Decoded, err error) {
	now := db.nowMs()
	facts = make([]healthcode.Fact, len(in))
	decoded = make(map[string]*rules.Decoded, len(in))
	var errs []*healthcode.Error
	fail := func(line int, err error) { errs = append(errs, lineError(line, err)) }
	var last *rules.Decoded
	schema := healthcode.FactSchema{Validate: func(f *healthcode.Fact, now time.Time) error {
		var err error
		last, err = rules.ValidateFactDecoded(f, now)
		return err
	}, MayHandEnter: rules.MayHandEnter}
	for i := range in {
		last = nil
		f, err := healthcode.PrepareFact(actor, src, in[i], now, schema)
		if err != nil {
			fail(i+1, err)
			continue
		}
		facts[i] = f
		if last != nil {
			decoded[f.Key] = last
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, batchError(errs)
	}
	if prep, err = db.prepareFacts(facts); err != nil {
		return nil, nil, nil, err
	}
	return prep, facts, decoded, nil
}

// testHookAfterSnapshot, if set, runs between a batch's snapshot and its
// write, for tests that change the database in between.
var testHookAfterSnapshot func()

// localFacts reports whether recording the facts is a local write (see
// Tx.local): a source's facts about persons, none of them a case status
// (which other residents' contacts cite).
func localFacts(actor healthcode.Actor, facts []healthcode.Fact) bool {
	if actor.Kind != healthcode.ActorSource {
		return false
	}
	for i := range facts {
		if rules.IsAreaKind(facts[i].Kind) || facts[i].Kind == rules.KindCaseStatus {
			return false
		}
	}
	return true
}

// factSnapshot is what recording a source's batch reads and computes,
// done before the batch reaches the single committer, on a consistent
// snapshot of the database at log size size, so that concurrent batches
// read and evaluate in parallel rather than in turn: the residents' homes,
// the cited cases' statuses, and each resident's chain head and evaluation
// (stored facts plus the batch's new ones, at time at). The committer uses
// it only if it is still current: no write other than local ones since
// (Tx.snapshotCurrent), and, resident by resident, the same chain head (a
// resident's facts, code and schedule change only with entries on their
// chain) and an evaluation that still holds at the commit's time.
// Otherwise it reads and evaluates afresh, so a stale snapshot costs time,
// never correctness.
type factSnapshot struct {
	size     int64
	at       time.Time
	homes    map[string]string
	cases    map[string]bool
	ids      []string               // residents evaluated, sorted
	heads    map[string]subjectHead // their chain heads (index -1: none)
	eval     *evalState
	results  []rules.Result
	rulesets []*rules.Ruleset
	errs     []error           // evaluations that failed: done again in the transaction, which records them
	raising  raisingAnswers    // whether each new fact raises (sourceRaising)
	stored   map[string]stored // the batch's facts already stored, by key (existingFacts)
}

func (db *DB) snapshotFacts(ctx context.Context, facts []healthcode.Fact, decoded map[string]*rules.Decoded) (*factSnapshot, error) {
	tx, err := db.db.BeginTx(ctx, db.dialect.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer tx.Rollback()
	t := &Tx{db: db, tx: tx, ctx: ctx, now: db.nowMs(), b: &batch{subjects: map[string]subjectHead{}}}
	snap := &factSnapshot{at: t.now}
	if err := t.queryRow("SELECT size FROM log_head WHERE id = 1").Scan(&snap.size); err != nil {
		return nil, fmt.Errorf("read log size: %w", err)
	}
	refs := refsOf(facts)
	stored, err := t.storedFacts(refs.keys)
	if err != nil {
		return nil, err
	}
	snap.stored = stored
	if snap.homes, err = t.lookup("SELECT id, jurisdiction FROM residents WHERE id IN (%s)", refs.persons); err != nil {
		return nil, err
	}
	if snap.cases, err = t.caseStatuses(refs.cases); err != nil {
		return nil, err
	}
	var extra []healthcode.Fact
	var ids []string
	seen := make(map[string]bool, len(facts))
	for _, f := range facts {
		if _, dup := stored[f.Key]; dup || seen[f.Key] || snap.homes[f.Subject] == "" {
			continue
		}
		seen[f.Key] = true
		f.Status = healthcode.FactActive
		extra = append(extra, f)
		ids = append(ids, f.Subject)
	}
	snap.ids = sortedUniq(ids)
	if len(snap.ids) == 0 {
		return snap, nil
	}
	if err := t.prefetchHeads(snap.ids); err != nil {
		return nil, err
	}
	snap.heads = make(map[string]subjectHead, len(snap.ids))
	for _, id := range snap.ids {
		snap.heads[id] = t.b.heads[id]
	}
	if snap.eval, err = t.loadEval(snap.ids, false, snap.homes, extra); err != nil {
		return nil, err
	}
	snap.eval.exact, snap.eval.decoded = true, decoded
	release, err := db.cpuSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	// One worker: concurrent batches already use the slots.
	start := time.Now()
	snap.results, snap.rulesets, snap.errs = snap.eval.run(snap.ids, snap.at, 1)
	snap.raising = snap.eval.raising(extra, snap.at, &batchEvals{ids: snap.ids, results: snap.results, errs: snap.errs})
	db.observer().Evaluated(len(snap.ids), time.Since(start))
	return snap, nil
}

// evaluateSnapshot is evaluate(ids, CauseFact) using the snapshot's
// evaluations of the residents in current (whose chains have not moved
// since the snapshot) where they still hold at the transaction's time.
func (t *Tx) evaluateSnapshot(snap *factSnapshot, ids []string, current map[string]bool) (int, error) {
	var use, rest []string
	var results []rules.Result
	var rulesets []*rules.Ruleset
	for _, id := range sortedUniq(ids) {
		i, ok := slices.BinarySearch(snap.ids, id)
		if ok && current[id] && snap.errs[i] == nil && snap.holdsAt(i, t.now) {
			use = append(use, id)
			results = append(results, snap.results[i])
			rulesets = append(rulesets, snap.rulesets[i])
		} else {
			rest = append(rest, id)
		}
	}
	n, err := t.applyEval(use, snap.eval, results, rulesets, nil, CauseFact)
	if err != nil {
		return 0, err
	}
	m, err := t.evaluate(rest, CauseFact)
	return n + m, err
}

// holdsAt reports whether the snapshot's evaluation of its i'th resident
// is still the evaluation at now: no fact has aged into or out of its
// window since, and the same ruleset applies.
func (snap *factSnapshot) holdsAt(i int, now time.Time) bool {
	r, rs := snap.results[i], snap.rulesets[i]
	if now.Before(snap.at) || !r.NextChange.IsZero() && !now.Before(r.NextChange) {
		return false
	}
	cur := applicable(snap.eval.list, snap.eval.homes[snap.ids[i]], now)
	return cur == rs || cur != nil && rs != nil && cur.ID() == rs.ID() && cur.Version() == rs.Version()
}

// preparedFact is the part of recording a fact that no database read
// changes: its content hash and its sealed evidence, and, for a source's
// batch with a snapshot, the public part of its fact.recorded entry as it
// reads when the fact goes in active with the raises the snapshot answered
// (withRaises; the committer encodes the others, and those whose answer
// changed). RecordFacts computes it before the batch joins the single
// committer, so concurrent batches do this work in parallel rather than
// in turn.
type preparedFact struct {
	hash     []byte
	entry    tlog.Payload // nil bytes: not encoded yet
	view     tlog.Payload // entry's public view (checkedView), encoded with it by withRaises; nil bytes: not encoded
	raises   *bool        // the raises entry says: set from a source batch's snapshot (withRaises)
	personal personalPart // salted; its data the evidence reference, if any

	// Column values of the fact's row.
	observed     string
	area, caseID string // from an area visit's or risk area's, a case status's payload
}

// withRaises encodes, outside the committer, the entries of the facts
// whose raises a source batch's snapshot answered (by key), so that the
// committer encodes only the others and those whose answer changed since.
func withRaises(prep []preparedFact, facts []healthcode.Fact, raises map[string]bool) error {
	for i := range facts {
		r, ok := raises[facts[i].Key]
		if !ok {
			continue
		}
		p := &prep[i]
		ev := factEntryOf(&facts[i], healthcode.FactActive, "", p.observed)
		ev.Raises = &r
		var err error
		if p.entry, err = encodeFactEntry(facts[i].Key, &ev); err != nil {
			return err
		}
		if p.view, err = checkedView(tlog.KindFactRecorded, &ev); err != nil {
			return err
		}
		p.raises = &r
	}
	return nil
}

// salt is the evidence_salt column: empty since v2 leaves, whose
// personal part (the fact with its evidence, in log_personal) has the
// salt; set only by facts recorded between migrations 0005 and 0013.
func (p *preparedFact) salt() []byte { return []byte{} }

// prepareFacts compacts the facts' payloads (so that the stored fact, its
// entry and its content hash agree byte for byte) and prepares each fact.
func (db *DB) prepareFacts(facts []healthcode.Fact) ([]preparedFact, error) {
	out := make([]preparedFact, len(facts))
	personal := make([][]byte, len(facts))
	var buf bytes.Buffer
	for i := range facts {
		f := &facts[i]
		buf.Reset()
		if err := json.Compact(&buf, f.Payload); err != nil {
			return nil, healthcode.FieldErrorf("payload", "line %d: %v", i+1, err)
		}
		f.Payload = bytes.Clone(buf.Bytes())
		p := &out[i]
		p.hash = contentHash(f)
		var err error
		p.observed = fmtTime(f.ObservedAt)
		if f.Evidence != "" {
			personal[i] = factPersonalData(f.Evidence)
		}
		if p.area, p.caseID, err = factRefs(f); err != nil {
			return nil, healthcode.FieldErrorf("payload", "line %d: %v", i+1, err)
		}
	}
	parts, err := db.sealPersonalData(personal, true)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].personal = parts[i]
	}
	return out, nil
}

// batchError is the error of a rejected batch: EINVALID with every error
// as a detail.
func batchError(errs []*healthcode.Error) error {
	first := errs[0]
	return &healthcode.Error{Code: healthcode.EINVALID, Line: first.Line, Field: first.Field,
		Message: fmt.Sprintf("%s (batch rejected: %d error(s), nothing stored)", first.Message, len(errs)), Details: errs}
}

// lineError is err as the error of a batch's line (from 1): a copy of
// its *healthcode.Error, or EINVALID with its text.
func lineError(line int, err error) *healthcode.Error {
	var he *healthcode.Error
	if !errors.As(err, &he) {
		he = &healthcode.Error{Code: healthcode.EINVALID, Message: err.Error()}
	}
	c := *he
	c.Line = line
	return &c
}

// contentHash identifies a fact's content, to tell a retry from a conflict:
// SHA-256 over its kind, subject, observed time, evidence and (compact)
// payload, each preceded by its length.
func contentHash(f *healthcode.Fact) []byte {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{f.Kind, f.Subject, fmtTime(f.ObservedAt), f.Evidence, string(f.Payload)} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// batchRefs are what a batch's facts refer to: their keys, the residents
// and the areas they are about, and the cases they cite.
type batchRefs struct {
	keys, persons, areas, cases []string
}

func refsOf(facts []healthcode.Fact) batchRefs {
	r := batchRefs{keys: make([]string, len(facts))}
	caseSet := map[string]bool{}
	for i := range facts {
		f := &facts[i]
		r.keys[i] = f.Key
		if rules.IsAreaKind(f.Kind) {
			r.areas = append(r.areas, f.Subject)
		} else {
			r.persons = append(r.persons, f.Subject)
		}
		if cites(f.Kind) {
			cases, _ := rules.CitedCases(f)
			for _, c := range cases {
				caseSet[c] = true
			}
		}
	}
	r.cases = keysOf(caseSet)
	return r
}

// stored is what the database already knows about a submitted fact.
type stored struct {
	hash   []byte
	status string
}

// recordFacts records a validated, prepared batch; snap, if not nil, is a
// snapshot read for it outside the committer (see factSnapshot).
func (t *Tx) recordFacts(actor healthcode.Actor, facts []healthcode.Fact, prep []preparedFact, snap *factSnapshot) (*RecordResult, error) {
	var errs []*healthcode.Error
	fail := func(line int, field, format string, args ...any) {
		errs = append(errs, &healthcode.Error{Code: healthcode.EINVALID, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	failErr := func(line int, err error) { errs = append(errs, lineError(line, err)) }
	refs := refsOf(facts)
	useSnap := snap != nil && len(refs.areas) == 0 && t.snapshotCurrent(snap.size)
	existing, err := t.existingFacts(facts, refs, snap, useSnap)
	if err != nil {
		return nil, err
	}
	var homes, areaCodes map[string]string
	var cases map[string]bool
	if useSnap {
		homes, areaCodes, cases = snap.homes, map[string]string{}, maps.Clone(snap.cases)
	} else {
		if homes, err = t.lookup("SELECT id, jurisdiction FROM residents WHERE id IN (%s)", refs.persons); err != nil {
			return nil, err
		}
		if areaCodes, err = t.lookup("SELECT code, code FROM jurisdictions WHERE code IN (%s)", refs.areas); err != nil {
			return nil, err
		}
		if cases, err = t.caseStatuses(refs.cases); err != nil {
			return nil, err
		}
	}

	res := &RecordResult{}
	var fresh []int // indexes of facts to store
	seen := map[string]int{}
	var designations []*healthcode.Fact // earlier in the batch
	for i := range facts {
		f := &facts[i]
		line := i + 1
		h := prep[i].hash
		if s, ok := existing[f.Key]; ok {
			if string(s.hash) != string(h) {
				fail(line, "id", "id %q was already used for a different fact: ids must not be reused", f.ID)
				continue
			}
			res.Facts = append(res.Facts, FactOutcome{Line: line, Key: f.Key, Status: "duplicate"})
			continue
		}
		if j, ok := seen[f.Key]; ok {
			if string(prep[j].hash) != string(h) {
				fail(line, "id", "id %q is used twice in this batch for different facts", f.ID)
			} else {
				res.Facts = append(res.Facts, FactOutcome{Line: line, Key: f.Key, Status: "duplicate"})
			}
			continue
		}
		seen[f.Key] = i
		area := rules.IsAreaKind(f.Kind)
		target := homes[f.Subject]
		if area {
			target = areaCodes[f.Subject]
		}
		if err := healthcode.CheckFactSubject(actor, f, area, target); err != nil {
			failErr(line, err)
			continue
		}
		if f.Kind == rules.KindRiskArea {
			if err := healthcode.CheckDesignationLength(f, t.db.limits.MaxDesignation); err != nil {
				failErr(line, err)
				continue
			}
			refused, err := t.checkDesignationCap(f, designations)
			if err != nil {
				return nil, err
			}
			if refused != nil {
				failErr(line, refused)
				continue
			}
			designations = append(designations, f)
		}
		var cited []string
		if cites(f.Kind) {
			cited, _ = rules.CitedCases(f)
		}
		for _, c := range cited {
			if !cases[c] {
				fail(line, "payload.case_id", "cites case %q, which is not an active confirmed or asymptomatic case", c)
			}
		}
		// A case status recorded earlier in the batch can be cited later.
		if f.Kind == rules.KindCaseStatus {
			id, isCase, err := caseStatus("payload", f.Payload)
			if err != nil {
				fail(line, "payload", "%v", err)
				continue
			}
			cases[id] = isCase
		}
		fresh = append(fresh, i)
	}
	if len(errs) > 0 {
		return nil, batchError(errs)
	}

	// Status: hand-entered facts that would raise a code wait for approval.
	// Whether each raises, as the rules in force decide it, is in its
	// fact.recorded entry's public view.
	status := make(map[int]healthcode.FactStatus, len(fresh))
	raising := make(map[int]bool, len(fresh))
	for _, i := range fresh {
		if actor.Kind == healthcode.ActorOfficial {
			raises, err := t.raises(&facts[i])
			if err != nil {
				return nil, err
			}
			raising[i] = raises
		}
		status[i] = healthcode.RecordedStatus(actor, raising[i])
	}

	// Accountability: the re-raise guard and hourly volume (holds, alerts).
	holds, heldFor, err := t.guardRaising(actor, facts, fresh, status)
	if err != nil {
		return nil, err
	}
	from := t.b.size + int64(len(t.b.entries))

	var reeval []string
	var areaJobs []string
	areaKeys := map[string][]string{} // area → the keys of its facts now active
	subjects := make([]string, 0, len(fresh))
	for _, i := range fresh {
		if s := personSubject(&facts[i]); s != "" {
			subjects = append(subjects, s)
		}
	}
	var current map[string]bool // residents whose chains have not moved since the snapshot
	if useSnap {
		// Their heads are the snapshot's: no need to read them.
		current = make(map[string]bool, len(snap.heads))
		if t.b.heads == nil {
			t.b.heads = make(map[string]subjectHead)
		}
		for r, h := range snap.heads {
			if !t.movedSince(snap.size, r) {
				current[r] = true
				t.b.heads[r] = h
			}
		}
	}
	if err := t.prefetchHeads(subjects); err != nil {
		return nil, err
	}
	if actor.Kind == healthcode.ActorSource {
		// Whether a source's fact raises is public too (raising.go).
		var sr map[string]bool
		if sr, err = t.sourceRaising(facts, fresh, snap, current); err != nil {
			return nil, err
		}
		for _, i := range fresh {
			if r, ok := sr[facts[i].Key]; ok {
				raising[i] = r
			}
		}
	}
	pr := t.projector(nil)
	for _, i := range fresh {
		f := &facts[i]
		f.Status = status[i]
		pf := &prep[i]
		entry, view := pf.entry, pf.view
		h, held := holds[i]
		ev := factEntryOf(f, f.Status, h.Scope, pf.observed)
		ev.derived, ev.area, ev.caseID = true, pf.area, pf.caseID
		if r, decided := raising[i]; decided {
			ev.Raises = &r
		}
		if entry.Bytes() == nil || held || f.Status != healthcode.FactActive || !sameRaises(ev.Raises, pf.raises) {
			if entry, err = encodeFactEntry(f.Key, &ev); err != nil {
				return nil, err
			}
			view = tlog.Payload{}
		}
		e, err := t.appendEntryView(tlog.KindFactRecorded, actor, personSubject(f), entry, view, &ev, pf.personal, false)
		if err != nil {
			return nil, err
		}
		f.LogIndex = e.Index
		// recorded_at is the fact.recorded entry's time: the row is its
		// projection.
		f.RecordedAt = t.now
		pr.fill = func(table string, cols []string, vals []any) {
			switch table {
			case "facts":
				setCol(cols, vals, "evidence", f.Evidence)
				setCol(cols, vals, "evidence_salt", pf.salt())
				setCol(cols, vals, "content_hash", pf.hash)
			case "fact_holds":
				setCol(cols, vals, "why", h.Why)
			}
		}
		if err := pr.applyEvent(e, &ev, nil); err != nil {
			return nil, err
		}
		if err := pr.holdFor(actor, f, e.Index, parentScope(actor.Jurisdiction), heldFor[i]); err != nil {
			return nil, err
		}
		res.Facts = append(res.Facts, FactOutcome{Line: i + 1, Key: f.Key, Status: string(f.Status)})
		if f.Status == healthcode.FactActive {
			if rules.IsAreaKind(f.Kind) {
				areaJobs = append(areaJobs, f.Subject)
				areaKeys[f.Subject] = append(areaKeys[f.Subject], f.Key)
			} else {
				reeval = append(reeval, f.Subject)
			}
		}
	}
	// The batch's rows are still waiting in pr (fact.recorded only
	// inserts), so these are the counts from before the batch.
	citedBefore, err := t.citationCounts(actor, facts, fresh)
	if err != nil {
		return nil, err
	}
	if err := conflictOr(pr.flush(), "a fact with this id is already stored"); err != nil {
		return nil, err
	}
	slices.SortFunc(res.Facts, func(a, b FactOutcome) int { return a.Line - b.Line })
	if useSnap {
		res.Changed, err = t.evaluateSnapshot(snap, reeval, current)
	} else {
		res.Changed, err = t.evaluate(reeval, CauseFact)
	}
	if err != nil {
		return nil, err
	}
	if err := t.afterRecord(actor, citedBefore, from); err != nil {
		return nil, err
	}
	for _, a := range uniq(areaJobs) {
		params := map[string]string{"scope": a, "cause": CauseRiskArea}
		if keys := areaKeys[a]; len(keys) == 1 {
			params["designation"] = keys[0] // the changes it causes cite it
		}
		if _, err := t.enqueueJob(healthcode.JobReevaluate, params, t.now); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sameRaises reports whether two answers of raises are the same (nil:
// none).
func sameRaises(a, b *bool) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// cites reports whether facts of a kind cite cases.
func cites(kind string) bool { return kind == rules.KindContact || kind == rules.KindRiskArea }

// personSubject is the entry subject of a fact: the resident for person
// facts, none for area facts (an area is not a person's chain).
func personSubject(f *healthcode.Fact) string {
	if rules.IsAreaKind(f.Kind) {
		return ""
	}
	return f.Subject
}

// factEntry is the public part of a fact.recorded entry: everything but
// the evidence reference. Fields are in name order, as a map's would be.
type factEntry struct {
	ApprovalScope string          `json:"approval_scope,omitempty"` // the command that must approve, if held
	ID            string          `json:"id"`
	Key           string          `json:"key"`
	Kind          string          `json:"kind"`
	ObservedAt    string          `json:"observed_at"`
	Payload       json.RawMessage `json:"payload"`
	// Raises: whether the fact makes a code more severe under the rules
	// in force when it was recorded: for a hand-entered fact the decision
	// that holds it for approval; for a source's (never held) the same
	// test, for the public count (raising.go). nil where the rules could
	// not tell (the resident's evaluation failed).
	Raises  *bool                 `json:"raises,omitempty"`
	Source  string                `json:"source,omitempty"`
	Status  healthcode.FactStatus `json:"status"`
	Subject string                `json:"subject"`

	// The row's lookup columns, when the writer derived them already
	// (factRefs); never encoded.
	derived      bool
	area, caseID string
}

// factEntryOf is f's fact.recorded public part with a status and, if
// held, the scope that must approve it; observed is f.ObservedAt
// formatted.
func factEntryOf(f *healthcode.Fact, status healthcode.FactStatus, approvalScope, observed string) factEntry {
	return factEntry{ApprovalScope: approvalScope, ID: f.ID, Key: f.Key, Kind: f.Kind, ObservedAt: observed,
		Payload: f.Payload, Source: f.Source, Status: status, Subject: f.Subject}
}

func encodeFactEntry(key string, ev *factEntry) (tlog.Payload, error) {
	p, err := tlog.MarshalPayload(ev)
	if err != nil {
		return tlog.Payload{}, fmt.Errorf("encode fact %s: %w", key, err)
	}
	return p, nil
}

// factPersonalData is the erasable part of a fact.recorded entry: the
// evidence reference, as JSON. It is not stored as such: the fact's row
// keeps the evidence and the salt, and verification encodes it again.
func factPersonalData(evidence string) []byte {
	b, _ := json.Marshal(struct {
		Evidence string `json:"evidence"`
	}{evidence})
	return b
}

// existingFacts is storedFacts of the batch's keys. With a current
// snapshot (useSnap), only the keys of facts whose residents' chains moved
// since it are read again: a fact stored since about a resident moved
// their chain in its commit, which the snapshot's currency tracks
// (movedSince). A key stored since about another resident than the batch's
// fact with it (the same source giving one id to two residents at once)
// is refused by the facts table's key instead, as a conflict ("a fact
// with this id is already stored") rather than as the batch's line error.
func (t *Tx) existingFacts(facts []healthcode.Fact, refs batchRefs, snap *factSnapshot, useSnap bool) (map[string]stored, error) {
	if !useSnap {
		return t.storedFacts(refs.keys)
	}
	var again []string
	for i := range facts {
		if t.movedSince(snap.size, facts[i].Subject) {
			again = append(again, facts[i].Key)
		}
	}
	if len(again) == 0 {
		return snap.stored, nil
	}
	now, err := t.storedFacts(again)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(snap.stored)
	for _, k := range again {
		delete(out, k)
	}
	maps.Copy(out, now)
	return out, nil
}

func (t *Tx) storedFacts(keys []string) (map[string]stored, error) {
	out := map[string]stored{}
	err := inChunks(uniq(keys), func(part []string, args []any) error {
		rows, err := t.query("SELECT uid, content_hash, status FROM facts WHERE uid IN ("+placeholders(len(part))+")", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var s stored
			if err := rows.Scan(&k, &s.hash, &s.status); err != nil {
				return err
			}
			out[k] = s
		}
		return rows.Err()
	})
	return out, err
}

// lookup runs a two-column key→value query over an IN list (%s).
func (t *Tx) lookup(query string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	err := inChunks(uniq(keys), func(part []string, args []any) error {
		rows, err := t.query(fmt.Sprintf(query, placeholders(len(part))), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			out[k] = v
		}
		return rows.Err()
	})
	return out, err
}

// caseStatuses reports for each case id whether it is currently an active
// confirmed or asymptomatic case (its latest active status).
func (t *Tx) caseStatuses(ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	latest := map[string]string{}
	err := inChunks(ids, func(part []string, args []any) error {
		rows, err := t.query("SELECT case_id, observed_at, payload FROM facts WHERE kind = 'case_status' AND status = 'active' AND case_id <> '' AND case_id IN ("+placeholders(len(part))+")", args...)
		return scanRows(rows, err, func(rows *sql.Rows) error {
			var id, observed, payload string
			if err := rows.Scan(&id, &observed, &payload); err != nil {
				return err
			}
			if observed < latest[id] {
				return nil
			}
			latest[id] = observed
			_, isCase, err := caseStatus("case "+id+" status", []byte(payload))
			out[id] = isCase
			return err
		})
	})
	return out, err
}

// raises reports whether a hand-entered fact would make a code more
// severe under the ruleset in force: for a person fact, that resident's;
// for a designation, any resident's or a visitor's (raisesArea).
func (t *Tx) raises(f *healthcode.Fact) (bool, error) {
	if f.Kind == rules.KindRiskArea {
		return t.raisesArea(f)
	}
	list, err := t.db.published(t.ctx, t.tx)
	if err != nil {
		return false, err
	}
	var home string
	if err := t.queryRow("SELECT jurisdiction FROM residents WHERE id = ?", f.Subject).Scan(&home); err != nil {
		return false, err
	}
	rs := applicable(list, home, t.now)
	if rs == nil {
		return false, nil
	}
	in, err := t.input(f.Subject)
	if err != nil {
		return false, err
	}
	return rules.Raises(rs, in, forEval(*f))
}

// input loads one resident's evaluation input.
func (t *Tx) input(id string) (rules.Input, error) {
	in := rules.Input{Now: t.now}
	rows, err := t.query("SELECT "+factColumns+" FROM facts WHERE subject = ? AND status = 'active'", id)
	areaSet := map[string]bool{}
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		f, err := scanFact(rows)
		if err != nil {
			return err
		}
		in.Facts = append(in.Facts, forEval(f))
		return addVisitedAreas(areaSet, &f)
	}); err != nil {
		return in, fmt.Errorf("read facts of %s: %w", id, err)
	}
	if in.Areas, err = t.riskAreas(areaSet); err != nil || len(in.Areas) == 0 {
		return in, err
	}
	held, err := t.heldFor(id)
	in.Areas = withoutHeld(in.Areas, held)
	return in, err
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func uniq(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// source reads a registered source by id.
func (db *DB) source(ctx context.Context, id string) (*healthcode.Source, error) {
	var s healthcode.Source
	var kinds string
	var disabled int
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id, name, kinds, jurisdiction, disabled FROM sources WHERE id = ?"), id).
		Scan(&s.ID, &s.Name, &kinds, &s.Jurisdiction, &disabled)
	if errors.Is(err, sql.ErrNoRows) || err == nil && disabled != 0 {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "unknown or disabled source")
	}
	if err != nil {
		return nil, err
	}
	s.Kinds = splitKinds(kinds)
	return &s, nil
}
