package store_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/verify"
)

var (
	replaySeed = flag.Int64("replay.seed", -1, "TestReplayProperty: run only the world of this seed (on each engine)")
	replayLong = flag.Bool("replay.long", false, "TestReplayProperty: a long run, many more worlds and sequences")
)

// TestReplayProperty drives random sequences of operations through the
// store's public API, as sources, officials, residents and the system
// would, and after each sequence checks that log verify finds nothing: the
// projection rebuilt from the log alone equals the live state, every row
// and column, and every other check of VerifyLog passes. A world (one
// database, one seed) runs several sequences one after the other, so that
// later sequences meet the state earlier ones left. A failure names the
// seed and the operations; -replay.seed=N runs that world alone, and
// -replay.long runs many more. Every operation either succeeds or fails
// with a user error (never an internal one), and a failed write leaves the
// log as it was.
func TestReplayProperty(t *testing.T) {
	type plan struct{ worlds, sequences, ops int }
	plans := map[string]plan{store.SQLite: {8, 18, 8}, store.Postgres: {4, 12, 8}}
	if *replayLong {
		plans = map[string]plan{store.SQLite: {60, 80, 12}, store.Postgres: {20, 80, 12}}
	}
	trust := mustForeignTrustLists(t)
	testdb.Engines(t, func(t *testing.T, dsn string) {
		engine, _, _ := store.ParseDSN(dsn)
		p := plans[engine]
		seeds := make([]int64, p.worlds)
		for i := range seeds {
			seeds[i] = int64(i + 1)
		}
		if *replaySeed >= 0 {
			seeds = []int64{*replaySeed}
		}
		// Every world starts from a copy of one database (officials'
		// password hashes and sealed keys are slow to make).
		template := mustReplayTemplate(t, dsn)
		stats := map[string]int{} // outcomes by operation, shown with -v
		for _, seed := range seeds {
			w := openReplayWorld(t, cloneDB(t, template), seed, trust)
			w.stats = stats
			for s := 1; s <= p.sequences; s++ {
				w.sequence(s, p.ops)
			}
			w.db.Close()
		}
		if testing.Verbose() {
			for _, k := range slices.Sorted(maps.Keys(stats)) {
				t.Logf("%5d %s", stats[k], k)
			}
		}
	})
}

// replayWorld is a world the property test drives, with what it has
// recorded so far, so that operations can name existing facts, appeals,
// drafts and keys.
type replayWorld struct {
	*world
	t         *testing.T
	seed      int64
	rng       *rand.Rand
	trust     foreignTrust
	residents []string
	facts     []replayFact
	pending   []string // keys of facts held for approval
	cases     []string // case ids the lab confirmed
	appeals   []replayAppeal
	drafts    []draftRef
	version   int // the province ruleset's highest version
	county    int // the county ruleset's highest version
	nextID    int
	ops       []string // the current sequence's operations, for the report
	stats     map[string]int
	// keyOps is how many more key operations the world may do: each
	// unseals a key under the key secret (argon2, a quarter second).
	keyOps int
}

type replayFact struct {
	key     string
	by      healthcode.Actor
	subject string
	fact    healthcode.Fact
}

type replayAppeal struct{ id, resident string }

type draftRef struct {
	id      string
	version int
}

// foreignTrust is another issuer's trust key and its lists, oldest first.
type foreignTrust struct {
	key   []byte
	lists [][]byte
}

// mustForeignTrustLists makes another issuer (cn-42) with three versions
// of its trust list, for the imports.
func mustForeignTrustLists(t *testing.T) foreignTrust {
	t.Helper()
	theirs := mustKeyedDB(t, testdb.SQLite(t), "cn-42")
	var ft foreignTrust
	for i := 0; i < 3; i++ {
		if i > 0 {
			if _, err := theirs.RotateKey(keysSystem, keySecret); err != nil {
				t.Fatal(err)
			}
		}
		m, err := theirs.Trust(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ft.key, ft.lists = m.TrustKey, append(ft.lists, m.List)
	}
	return ft
}

// replayLimits are low, so that holds, alerts, rate limits and escalations
// happen within a few operations.
var replayLimits = store.Limits{AppealDeadline: 2 * time.Hour, CoolingPeriod: 48 * time.Hour,
	OfficialRaisesPerHour: 3, PlausibleContacts: 3, BulkReadAlert: 3, ReadsPerHour: 8, SourceSurgeMin: 2}

var (
	itinerary = healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}
	registry  = healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_reg"}
	commands  = []healthcode.Actor{cmdCounty, cmdCity1, cmdCity2, cmdProvince1, cmdProvince2}
)

// mustReplayTemplate makes the database every world starts from:
// mustAccWorld's, with eight residents, an itinerary feed and an
// immunisation registry besides the lab, and token keys. It is closed.
func mustReplayTemplate(t *testing.T, dsn string) string {
	t.Helper()
	w := mustAccWorld(t, dsn, replayLimits, 8)
	mustCase(t, w, "r_test000000") // case C-1
	for _, s := range []healthcode.Source{
		{ID: itinerary.ID, Name: "行程数据平台", Kinds: []string{rules.KindAreaVisit}, Jurisdiction: "410000"},
		{ID: registry.ID, Name: "免疫规划信息系统", Kinds: []string{rules.KindVaccination, rules.KindQuarantine}, Jurisdiction: "410000"},
	} {
		if err := w.db.CreateSource(system, s, "hck_"+strings.Repeat(s.ID[2:], 8)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.db.EnsureKeys(keysSystem, keySecret, "cn-41"); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Close(); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// cloneDB copies a closed database: the SQLite file, or a PostgreSQL
// database as a template.
func cloneDB(t testing.TB, dsn string) string {
	t.Helper()
	engine, target, _ := store.ParseDSN(dsn)
	if engine == store.SQLite {
		to := testdb.SQLite(t)
		for _, suffix := range []string{"", "-wal"} {
			if err := copyPath(target+suffix, to+suffix); err != nil && (suffix == "" || !errors.Is(err, fs.ErrNotExist)) {
				t.Fatal(err)
			}
		}
		return to
	}
	to := testdb.Postgres(t)
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	from, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", os.Getenv(testdb.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := strings.TrimPrefix(u.Path, "/")
	if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + strings.TrimPrefix(from.Path, "/")); err != nil {
		t.Fatal(err)
	}
	return to
}

func copyPath(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }() // read only
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(err, out.Close())
	}
	return out.Close()
}

func openReplayWorld(t *testing.T, dsn string, seed int64, trust foreignTrust) *replayWorld {
	t.Helper()
	w := &replayWorld{world: &world{now: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}, t: t, seed: seed,
		rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), trust: trust, version: 1, keyOps: 1, cases: []string{"C-1"}}
	if *replayLong {
		w.keyOps = 1 << 30
	}
	db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return w.now }, Limits: replayLimits, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.db = db
	for i := 0; i < 8; i++ {
		w.residents = append(w.residents, fmt.Sprintf("r_test%06d", i))
	}
	return w
}

// replayOp is one kind of operation: it returns what it did, and the
// error of the store's call. write is false for operations that may log
// something even when they fail (reads, the scheduler's runs).
type replayOp struct {
	name   string
	weight int
	write  bool
	run    func(w *replayWorld) (string, error)
}

var replayOps = []replayOp{
	{"source facts", 8, true, (*replayWorld).sourceFacts},
	{"hand-entered facts", 6, true, (*replayWorld).handFacts},
	{"decide fact", 6, true, (*replayWorld).decideFact},
	{"retract fact", 3, true, (*replayWorld).retractFact},
	{"file appeal", 3, true, (*replayWorld).fileAppeal},
	{"consent appeal", 2, true, (*replayWorld).consentAppeal},
	{"decide appeal", 3, true, (*replayWorld).decideAppeal},
	{"time passes", 4, false, (*replayWorld).timePasses},
	{"draft ruleset", 1, true, (*replayWorld).draftRuleset},
	{"decide ruleset", 2, false, (*replayWorld).decideRuleset},
	{"rotate or revoke key", 1, true, (*replayWorld).rotateOrRevoke},
	{"import trust list", 1, true, (*replayWorld).importTrust},
	{"erase resident", 1, true, (*replayWorld).erase},
	{"official reads", 3, false, (*replayWorld).officialRead},
	{"register residents", 1, true, (*replayWorld).register},
}

var replayWeight = func() int {
	n := 0
	for _, op := range replayOps {
		n += op.weight
	}
	return n
}()

// sequence runs n random operations, then checks the log against the state.
func (w *replayWorld) sequence(s, n int) {
	t := w.t
	t.Helper()
	w.ops = w.ops[:0]
	for range n {
		x := w.rng.IntN(replayWeight)
		op := replayOps[0]
		for _, o := range replayOps {
			if x < o.weight {
				op = o
				break
			}
			x -= o.weight
		}
		before := w.logSize()
		what, err := op.run(w)
		line := op.name + ": " + what
		if err != nil {
			line += " → " + healthcode.ErrorCode(err)
		}
		w.ops = append(w.ops, line)
		w.stats[op.name+" "+healthcode.ErrorCode(err)]++
		switch code := healthcode.ErrorCode(err); {
		case err == nil:
		case code == healthcode.EINTERNAL || code == "":
			w.fail(s, "an internal error: %v", err)
		case op.write && w.logSize() != before:
			w.fail(s, "a refused write (%v) changed the log from %d to %d entries", err, before, w.logSize())
		}
	}
	rep, err := verify.Log(context.Background(), w.db.VerifyView(), verify.Options{})
	if err != nil {
		w.fail(s, "verify: %v", err)
	}
	if len(rep.Problems) > 0 {
		var b strings.Builder
		for _, p := range rep.Problems {
			fmt.Fprintf(&b, "\n  %s", p)
		}
		w.fail(s, "the state is not the projection of the log:%s", b.String())
	}
}

func (w *replayWorld) fail(s int, format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("seed %d, sequence %d: %s\noperations of the sequence:\n  %s\nreproduce: go test ./store -run 'TestReplayProperty/%s' -replay.seed=%d",
		w.seed, s, fmt.Sprintf(format, args...), strings.Join(w.ops, "\n  "), w.db.Engine(), w.seed)
}

// logSize is the size of the latest signed checkpoint.
func (w *replayWorld) logSize() int64 {
	w.t.Helper()
	signed, err := w.db.LogCheckpoint(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := note.NewVerifier(w.db.LogVerifierKey())
	if err != nil {
		w.t.Fatal(err)
	}
	cp, err := tlog.OpenCheckpoint(signed, v, w.db.LogOrigin())
	if err != nil {
		w.t.Fatal(err)
	}
	return cp.Size
}

func pick[T any](w *replayWorld, xs []T) T { return xs[w.rng.IntN(len(xs))] }

func (w *replayWorld) chance(p float64) bool { return w.rng.Float64() < p }

func (w *replayWorld) id(prefix string) string {
	w.nextID++
	return fmt.Sprintf("%s-%d", prefix, w.nextID)
}

// ago is a time up to h hours before now, on the second.
func (w *replayWorld) ago(h int) time.Time {
	return w.now.Add(-time.Duration(w.rng.IntN(h*3600)) * time.Second).Truncate(time.Second)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var replayCases = []string{"C-1", "C-2", "C-3", "C-4"}

// caseOf is a case_status fact's case id.
func caseOf(f healthcode.Fact) string {
	for _, c := range replayCases {
		if strings.Contains(string(f.Payload), `"`+c+`"`) {
			return c
		}
	}
	return ""
}

// aCase is a case id, most often one the lab confirmed.
func (w *replayWorld) aCase() string {
	if len(w.cases) > 0 && w.chance(0.8) {
		return pick(w, w.cases)
	}
	return pick(w, replayCases)
}

// record submits facts as actor and remembers the new ones.
func (w *replayWorld) record(actor healthcode.Actor, fs []healthcode.Fact) (string, error) {
	kinds := make([]string, len(fs))
	for i, f := range fs {
		kinds[i] = f.Kind + " " + f.ID + " of " + f.Subject
	}
	what := fmt.Sprintf("%s records %s", actor.ID, strings.Join(kinds, ", "))
	res, err := w.db.RecordFacts(as(actor), fs)
	if err != nil {
		return what, err
	}
	for i, o := range res.Facts {
		if o.Status == "duplicate" {
			continue
		}
		f := fs[i]
		w.facts = append(w.facts, replayFact{key: o.Key, by: actor, subject: f.Subject, fact: f})
		if o.Status == "pending" {
			w.pending = append(w.pending, o.Key)
		}
		if f.Kind == rules.KindCaseStatus && (strings.Contains(string(f.Payload), "confirmed") || strings.Contains(string(f.Payload), "asymptomatic")) {
			w.cases = append(w.cases, caseOf(f))
		}
	}
	return what, nil
}

// sourceFacts is a source's batch: lab results and case statuses,
// itineraries, vaccinations and quarantine orders; sometimes a fact sent
// again (identical: skipped; changed: refused) or an invalid one (the
// whole batch refused).
func (w *replayWorld) sourceFacts() (string, error) {
	actor := pick(w, []healthcode.Actor{lab, lab, itinerary, registry})
	var fs []healthcode.Fact
	for range 1 + w.rng.IntN(4) {
		r := pick(w, w.residents)
		at := w.ago(72)
		var f healthcode.Fact
		switch actor.ID {
		case lab.ID:
			if w.chance(0.3) {
				f = w.fact(w.id("cs"), rules.KindCaseStatus, r, at, fmt.Sprintf(`{"status":%q,"case_id":%q}`,
					pick(w, []string{"confirmed", "confirmed", "asymptomatic", "suspected", "recovered", "excluded"}), pick(w, replayCases)))
			} else {
				f = w.fact(w.id("t"), rules.KindTestResult, r, at, fmt.Sprintf(`{"method":%q,"result":%q,"sampled_at":%q,"lab":"郑州市疾控中心"}`,
					pick(w, []string{"pcr", "pcr", "antigen"}), pick(w, []string{"positive", "negative", "negative"}), rfc(at)))
			}
		case itinerary.ID:
			f = w.fact(w.id("v"), rules.KindAreaVisit, r, at, fmt.Sprintf(`{"area":%q,"arrived_at":%q,"departed_at":%q}`,
				pick(w, []string{"410105001001", "410105001002"}), rfc(at), rfc(at.Add(time.Duration(1+w.rng.IntN(5))*time.Hour))))
		default:
			if w.chance(0.5) {
				f = w.fact(w.id("vac"), rules.KindVaccination, r, at, fmt.Sprintf(`{"dose":%d,"product":"科兴克尔来福","administered_at":%q}`, 1+w.rng.IntN(3), rfc(at)))
			} else {
				f = w.fact(w.id("q"), rules.KindQuarantine, r, at, fmt.Sprintf(`{"type":%q,"from":%q,"until":%q}`,
					pick(w, []string{"centralized", "home", "health_monitoring"}), rfc(at), rfc(at.Add(time.Duration(1+w.rng.IntN(96))*time.Hour))))
			}
		}
		fs = append(fs, f)
	}
	if prev := w.factsBy(actor); len(prev) > 0 && w.chance(0.15) {
		f := pick(w, prev).fact
		if w.chance(0.5) {
			f.Evidence += " (amended)"
		}
		fs = append(fs, f)
	}
	if w.chance(0.05) {
		fs[0].Payload = []byte(`{"result":"maybe"}`)
	}
	return w.record(actor, fs)
}

func (w *replayWorld) factsBy(actor healthcode.Actor) []replayFact {
	var out []replayFact
	for _, f := range w.facts {
		if f.by.ID == actor.ID {
			out = append(out, f)
		}
	}
	return out
}

// handFacts are an official's: a flow tracer's contacts citing a case (or
// no real case), a command officer's case status or risk-area designation.
// Raising ones are held for a second official.
func (w *replayWorld) handFacts() (string, error) {
	if w.chance(0.6) {
		var fs []healthcode.Fact
		for range 1 + w.rng.IntN(3) {
			caseID := w.aCase()
			if w.chance(0.05) {
				caseID = "C-NONE"
			}
			at := w.ago(48)
			f := w.fact(w.id("c"), rules.KindContact, pick(w, w.residents), at, fmt.Sprintf(`{"level":%q,"case_id":%q,"exposed_at":%q}`,
				pick(w, []string{"close", "close", "secondary", "spatiotemporal"}), caseID, rfc(at)))
			f.Evidence = fmt.Sprintf("flow report %d", w.rng.IntN(6))
			fs = append(fs, f)
		}
		return w.record(tracer, fs)
	}
	actor := pick(w, []healthcode.Actor{cmdCounty, cmdCity1})
	at := w.ago(24)
	if w.chance(0.5) {
		return w.record(actor, []healthcode.Fact{w.fact(w.id("hcs"), rules.KindCaseStatus, pick(w, w.residents), at,
			fmt.Sprintf(`{"status":%q,"case_id":%q}`, pick(w, []string{"confirmed", "suspected", "excluded"}), pick(w, replayCases)))})
	}
	until := w.now.Add(time.Duration(1+w.rng.IntN(72)) * time.Hour)
	return w.record(actor, []healthcode.Fact{w.fact(w.id("ra"), rules.KindRiskArea, pick(w, []string{"410105001", "410105001002"}), at,
		fmt.Sprintf(`{"level":%q,"from":%q,"until":%q,"case_ids":[%q]}`, pick(w, []string{"high", "medium", "low"}), rfc(at), rfc(until), w.aCase()))})
}

func (w *replayWorld) decideFact() (string, error) {
	var hand []replayFact
	for _, f := range w.facts {
		if f.by.Kind == healthcode.ActorOfficial {
			hand = append(hand, f)
		}
	}
	if len(hand) == 0 {
		return "no hand-entered fact", nil
	}
	key := pick(w, hand).key
	if len(w.pending) > 0 && w.chance(0.85) {
		key = pick(w, w.pending)
	}
	by := pick(w, commands)
	approve := w.chance(0.7)
	var err error
	if approve {
		_, err = w.db.DecideFact(as(by), key, true, "")
	} else {
		_, err = w.db.DecideFact(as(by), key, false, "not supported by the evidence")
	}
	if err == nil || healthcode.ErrorCode(err) == healthcode.ECONFLICT {
		w.pending = slices.DeleteFunc(w.pending, func(k string) bool { return k == key })
	}
	if approve {
		return by.ID + " approves " + key, err
	}
	return by.ID + " rejects " + key, err
}

func (w *replayWorld) retractFact() (string, error) {
	if len(w.facts) == 0 {
		return "no fact", nil
	}
	f := pick(w, w.facts)
	by := f.by
	if w.chance(0.3) {
		by = pick(w, commands)
	}
	_, err := w.db.RetractFact(as(by), f.key, "entered in error")
	return by.ID + " retracts " + f.key, err
}

func (w *replayWorld) fileAppeal() (string, error) {
	var mine []string
	r := pick(w, w.residents)
	for _, f := range w.facts {
		if f.subject == r {
			mine = append(mine, f.key)
		}
	}
	if len(mine) == 0 {
		return "no fact about " + r, nil
	}
	req := healthcode.AppealRequest{Resident: r, FactKeys: []string{pick(w, mine)}, Statement: "我没有去过那里"}
	if w.chance(0.3) {
		req.Attachments = []healthcode.Attachment{{Name: "ticket.jpg", MediaType: "image/jpeg", Data: []byte("jpeg bytes " + w.id("a"))}}
	}
	ctx, who := self(r), r
	if w.chance(0.4) {
		ctx, who = as(worker), worker.ID
		if w.chance(0.5) {
			req.ConsentRef = "consent form " + w.id("cf")
		}
	}
	a, err := w.db.FileAppeal(ctx, req)
	if err == nil {
		w.appeals = append(w.appeals, replayAppeal{a.ID, r})
	}
	return fmt.Sprintf("%s files for %s against %v", who, r, req.FactKeys), err
}

func (w *replayWorld) consentAppeal() (string, error) {
	if len(w.appeals) == 0 {
		return "no appeal", nil
	}
	a := pick(w, w.appeals)
	_, err := w.db.ConsentAppeal(self(a.resident), a.id)
	return a.resident + " consents to " + a.id, err
}

func (w *replayWorld) decideAppeal() (string, error) {
	if len(w.appeals) == 0 {
		return "no appeal", nil
	}
	a := pick(w, w.appeals)
	by := pick(w, commands)
	if w.chance(0.6) {
		_, err := w.db.DecideAppeal(as(by), a.id, true, "")
		return by.ID + " grants " + a.id, err
	}
	_, err := w.db.DecideAppeal(as(by), a.id, false, "检测报告真实有效")
	return by.ID + " denies " + a.id, err
}

// timePasses moves the clock, then runs what the scheduler runs: overdue
// appeals escalate, codes whose facts aged out are re-evaluated, due jobs
// run.
func (w *replayWorld) timePasses() (string, error) {
	d := pick(w, []time.Duration{time.Minute, 30 * time.Minute, 3 * time.Hour, 26 * time.Hour, 8 * 24 * time.Hour})
	w.now = w.now.Add(d)
	ctx := context.Background()
	if _, err := w.db.EscalateOverdue(ctx); err != nil {
		return d.String() + ", escalating", err
	}
	if _, err := w.db.ReevaluateDue(ctx); err != nil {
		return d.String() + ", re-evaluating", err
	}
	_, err := w.db.RunJobs(ctx, nil)
	return d.String() + ", running jobs", err
}

// draftRuleset drafts the province's next version, a county ruleset, a
// version already taken, or one out of the schema.
func (w *replayWorld) draftRuleset() (string, error) {
	src := string(rules.DefaultSource())
	by := cmdProvince1
	switch x := w.rng.IntN(10); {
	case x < 5:
		w.version++
		src = strings.Replace(src, "version: 1", fmt.Sprintf("version: %d", w.version), 1)
	case x < 8:
		w.county++
		by = cmdCounty
		src = strings.Replace(strings.Replace(strings.Replace(src, "id: henan-health-code", "id: jinshui-code", 1),
			`scope: "410000"`, `scope: "410105"`, 1), "version: 1", fmt.Sprintf("version: %d", w.county), 1)
	case x < 9:
		src = strings.Replace(src, "version: 1", fmt.Sprintf("version: %d", w.version), 1)
	default:
		src = strings.Replace(src, "facts.case_statuses", "facts.bank_deposits", 1)
	}
	info, err := w.db.DraftRuleset(as(by), "draft.yaml", []byte(src))
	if err != nil {
		return by.ID + " drafts", err
	}
	w.drafts = append(w.drafts, draftRef{info.ID, info.Version})
	return fmt.Sprintf("%s drafts %s v%d", by.ID, info.ID, info.Version), nil
}

func (w *replayWorld) decideRuleset() (string, error) {
	if len(w.drafts) == 0 {
		return "no draft", nil
	}
	d := pick(w, w.drafts)
	by := pick(w, commands)
	what := fmt.Sprintf("%s publishes %s v%d", by.ID, d.id, d.version)
	var err error
	if w.chance(0.75) {
		_, err = w.db.DecideRuleset(as(by), d.id, d.version, true, "")
	} else {
		what = fmt.Sprintf("%s refuses %s v%d", by.ID, d.id, d.version)
		_, err = w.db.DecideRuleset(as(by), d.id, d.version, false, "not proportionate")
	}
	if err != nil {
		return what, err
	}
	_, err = w.db.RunJobs(context.Background(), nil)
	return what + ", running jobs", err
}

func (w *replayWorld) rotateOrRevoke() (string, error) {
	if w.keyOps--; w.keyOps < 0 {
		return "no more key operations in this world", nil
	}
	if w.chance(0.6) {
		k, err := w.db.RotateKey(keysSystem, keySecret)
		if err != nil {
			return "rotate", err
		}
		return "rotate to " + k.ID, nil
	}
	keys, err := w.db.Keys(context.Background())
	if err != nil {
		return "list keys", err
	}
	var token []string
	for _, k := range keys {
		if k.Purpose == store.PurposeToken {
			token = append(token, k.ID)
		}
	}
	id := pick(w, token)
	return "revoke " + id, w.db.RevokeKey(keysSystem, keySecret, id)
}

func (w *replayWorld) importTrust() (string, error) {
	if w.keyOps--; w.keyOps < 0 {
		return "no more key operations in this world", nil
	}
	i := w.rng.IntN(len(w.trust.lists))
	_, err := w.db.ImportTrustList(keysSystem, keySecret, w.trust.lists[i], w.trust.key)
	return fmt.Sprintf("import cn-42 list %d", i+1), err
}

func (w *replayWorld) erase() (string, error) {
	r := pick(w, w.residents)
	_, err := w.db.EraseResident(system, r, "property test erasure")
	return "erase " + r, err
}

// officialRead is an official reading a resident's data: logged, and
// alerted on or refused past the limits.
func (w *replayWorld) officialRead() (string, error) {
	by := pick(w, []healthcode.Actor{cmdCounty, cmdCity1, worker, tracer})
	r := pick(w, w.residents)
	var err error
	what := pick(w, []string{"resident", "code", "history", "appeals"})
	switch what {
	case "resident":
		_, err = w.db.Resident(as(by), r)
	case "code":
		_, err = w.db.Explain(as(by), r)
	case "history":
		_, _, err = w.db.History(as(by), r, 1)
	default:
		_, _, err = w.db.ResidentAppeals(as(by), r)
	}
	return fmt.Sprintf("%s reads %s of %s", by.ID, what, r), err
}

func (w *replayWorld) register() (string, error) {
	var rs []healthcode.Resident
	for range 1 + w.rng.IntN(3) {
		r := resident(len(w.residents)+len(rs), pick(w, []string{"410105001001", "410105001002"}))
		rs = append(rs, r)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	err := w.db.CreateResidents(system, rs)
	if err == nil {
		w.residents = slices.Concat(w.residents, ids)
	}
	return "register " + strings.Join(ids, ", "), err
}
