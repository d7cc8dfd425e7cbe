package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// maxBatch bounds how many write requests one group commit takes.
const maxBatch = 4096

// logState is the process's side of the log: the committer goroutine's
// queue, the checkpoint signer, and a cache of stored hashes (immutable
// once committed, so a cache never goes stale, even with several processes
// sharing a PostgreSQL database).
type logState struct {
	reqs     chan *request
	stopped  chan struct{} // closed when the committer has exited
	wg       sync.WaitGroup
	signer   note.Signer
	verifier note.Verifier
	vkey     string

	mu    sync.Mutex
	cache map[int64]sumtlog.Hash // the stored hashes of the tree's frontier (see cacheFrontier)

	// Owned by the committer goroutine: the log size after this process's
	// last commit (-1: unknown), and the size from which snapshots read
	// outside the committer are still current, as far as anything but
	// their own residents' rows goes (see Tx.local and factSnapshot).
	lastSize int64
	globalAt int64
	moved    []movedChains // local commits since globalAt, oldest first

	// Counters for CommitStats.
	commits, requests, entries, busy atomic.Int64

	// The newest checkpoint LogCheckpoint read, served while the database
	// cannot be reached.
	lastCheckpoint atomic.Pointer[readCheckpoint]

	// Owned by the committer: statements prepared on the write connection,
	// by query, and queries to prepare after the current batch.
	stmts        map[string]*sql.Stmt
	prepareLater []string
	queries      map[insertShape]string
}

// CommitStats are the log committer's counters since Open: how many
// batches it committed, the write requests and log entries in them, and
// how long it was busy running batches (committed or not). Busy over
// elapsed time is how loaded the single writer is.
type CommitStats struct {
	Batches, Requests, Entries int64
	Busy                       time.Duration
}

// CommitStats returns the committer's counters.
func (db *DB) CommitStats() CommitStats {
	return CommitStats{Batches: db.log.commits.Load(), Requests: db.log.requests.Load(), Entries: db.log.entries.Load(),
		Busy: time.Duration(db.log.busy.Load())}
}

// movedChains are the subjects whose chains a local commit extended.
type movedChains struct {
	after    int64 // the log size after the commit
	subjects map[string]subjectHead
}

// maxMoved bounds how many local commits the committer remembers; a
// snapshot older than the oldest is taken as stale.
const maxMoved = 64

type request struct {
	fn   func(*Tx) error
	done chan error
}

// Tx is what a write function sees: the transaction, the batch's clock and
// the log. Functions append their entries with Append; the entries commit
// with the state or not at all.
type Tx struct {
	db  *DB
	tx  *sql.Tx
	ctx context.Context
	now time.Time
	b   *batch

	stmts map[string]*sql.Stmt // prepared in this transaction

	// local says the request changed no rows but those of the residents
	// whose chains it extends: no ruleset, area, case, resident, job or
	// schedule of anyone else. A request that does not say so is taken to
	// have changed anything, which makes every snapshot taken before it
	// stale (see snapshotCurrent).
	local bool

	// job is the job whose chunk the transaction evaluates, if any;
	// evalFailures counts the residents whose evaluation failed in it (each
	// an evaluation.failed entry).
	job          string
	evalFailures int
	// designation is the designation (fact key) whose change the job's
	// chunk re-evaluates for (job param "designation"), or "": its
	// code.changed entries cite it. officials caches the officials the
	// entries cite, by "ruleset id@version" or designation key.
	designation string
	officials   map[string][]string

	// erasing are the entries about the resident being erased, opened by
	// the erasure before it deleted their personal parts: the log.erased
	// entry's apply function counts their public parts (countErasure).
	erasing []*openedEntry
}

// batch is one group commit's pending log entries.
type batch struct {
	global   bool  // a request so far was not local
	size     int64 // log size before the batch
	entries  []pendingEntry
	subjects map[string]subjectHead
	undo     []subjectUndo
	changes  []codeChange           // for the observer once committed
	heads    map[string]subjectHead // chain heads read ahead from the database (see prefetchHeads)
}

type pendingEntry struct {
	idx      int64
	data     []byte
	leaf     sumtlog.Hash
	subject  string
	salt     [32]byte
	personal []byte // nil if none
}

type subjectHead struct {
	index  int64
	hash   sumtlog.Hash
	county string // the subject's county, the jurisdiction its v2 entries name
}

type subjectUndo struct {
	subject string
	prev    subjectHead
	had     bool
}

// Now is the batch's time, the time of every entry the batch appends.
func (t *Tx) Now() time.Time { return t.now }

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	t.db.failpoint(failStmtBefore)
	res, err := t.tx.ExecContext(t.ctx, t.db.dialect.rebind(query), args...)
	t.db.failpoint(failStmtAfter)
	return res, err
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, t.db.dialect.rebind(query), args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.ctx, t.db.dialect.rebind(query), args...)
}

// eachRow runs a query and calls scan for each row it returns.
func (t *Tx) eachRow(query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := t.query(query, args...)
	return scanRows(rows, err, scan)
}

// queryStrings runs a query returning one text column and collects it.
func (t *Tx) queryStrings(query string, args ...any) ([]string, error) {
	var out []string
	err := t.eachRow(query, args, func(rows *sql.Rows) error {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// encodeChecked is an entry's public part as a checked payload: a
// json.RawMessage, taken as already encoded, is checked (tlog.CheckPayload);
// anything else is encoded by tlog.MarshalPayload.
func encodeChecked(kind tlog.Kind, payload any) (tlog.Payload, error) {
	if raw, ok := payload.(json.RawMessage); ok {
		cp, err := tlog.CheckPayload(raw)
		if err != nil {
			return tlog.Payload{}, fmt.Errorf("log %s: %w", kind, err)
		}
		return cp, nil
	}
	cp, err := tlog.MarshalPayload(payload)
	if err != nil {
		return tlog.Payload{}, fmt.Errorf("log %s: encode payload: %w", kind, err)
	}
	return cp, nil
}

// personalPart is the kind's personal fields of an entry, encoded, with
// the salt of the personal part (appendEntry commits to the whole part).
type personalPart struct {
	data   []byte // the kind's personal fields; nil: none
	salt   [32]byte
	salted bool // salt is drawn (a v2 entry about a resident has a personal part even without data)
}

// sealPersonal encodes and salts one personal part.
// personal nil draws a salt alone, for a v2 entry about a resident.
func (db *DB) sealPersonal(kind tlog.Kind, personal any) (personalPart, error) {
	var data []byte
	if personal != nil {
		var err error
		if data, err = json.Marshal(personal); err != nil {
			return personalPart{}, fmt.Errorf("log %s: encode personal part: %w", kind, err)
		}
	}
	parts, err := db.sealPersonalData([][]byte{data}, true)
	if err != nil {
		return personalPart{}, err
	}
	return parts[0], nil
}

// sealPersonalData salts encoded personal parts (nil for none; with all,
// those get a salt too), reading the random source once for all of them.
// It needs no transaction, so callers run it before their write reaches
// the committer.
func (db *DB) sealPersonalData(data [][]byte, all bool) ([]personalPart, error) {
	n := 0
	for _, d := range data {
		if d != nil || all {
			n++
		}
	}
	salts := make([]byte, 32*n)
	if _, err := io.ReadFull(db.rand, salts); err != nil {
		return nil, fmt.Errorf("read salts: %w", err)
	}
	out := make([]personalPart, len(data))
	for i, d := range data {
		if d == nil && !all {
			continue
		}
		out[i].data = d
		out[i].salted = true
		copy(out[i].salt[:], salts)
		salts = salts[32:]
	}
	return out, nil
}

// record appends an entry and applies it to the state tables with its
// kind's apply function, in the same transaction: the one way the writer
// changes a projected row. pub is the public part, of the kind's event
// type (newEvent); pers the personal part or nil; fill, if not nil, sets
// the operational columns of the rows the entry inserts (what the log
// does not hold: credentials, sealed keys, content committed by a hash).
func (t *Tx) record(kind tlog.Kind, actor healthcode.Actor, subject string, pub, pers any, fill func(table string, cols []string, vals []any)) (int64, error) {
	p := t.projector(fill)
	idx, err := p.record(kind, actor, subject, pub, pers, false)
	if err != nil {
		return 0, err
	}
	return idx, p.flush()
}

// record is Tx.record for many entries: the rows they insert wait for
// p.flush, to be written together. fresh says subject is new (a resident's
// registration), so its chain head is not looked up.
func (p *projector) record(kind tlog.Kind, actor healthcode.Actor, subject string, pub, pers any, fresh bool) (int64, error) {
	t := p.t
	cp, err := encodeChecked(kind, pub)
	if err != nil {
		return 0, err
	}
	var pp personalPart
	if pers != nil || subject != "" {
		if pp, err = t.db.sealPersonal(kind, pers); err != nil {
			return 0, err
		}
	}
	e, err := t.appendEntry(kind, actor, subject, cp, pub, pp, fresh)
	if err != nil {
		return 0, err
	}
	if err := p.applyEvent(e, pub, pers); err != nil {
		return 0, err
	}
	return e.Index, nil
}

// projector returns a projector that writes in t's transaction.
func (t *Tx) projector(fill func(table string, cols []string, vals []any)) *projector {
	return &projector{ctx: t.ctx, tx: t.tx, d: t.db.dialect, t: t, fill: fill}
}

// appendEntry adds an entry whose payload (the event pub, encoded as pb)
// is already encoded and checked and whose personal part is already
// sealed, and returns it. The entry is v2: one about a resident (subject)
// keeps in its leaf the public view of pub and the resident's county,
// and in its personal part the subject, the chain link, the event and
// the kind's personal fields.
func (t *Tx) appendEntry(kind tlog.Kind, actor healthcode.Actor, subject string, pb tlog.Payload, pub any, pp personalPart, fresh bool) (*tlog.Entry, error) {
	return t.appendEntryView(kind, actor, subject, pb, tlog.Payload{}, pub, pp, fresh)
}

// appendEntryView is appendEntry with the public view of pub (publicView,
// checked) already encoded, outside the committer; a nil view is encoded
// here.
func (t *Tx) appendEntryView(kind tlog.Kind, actor healthcode.Actor, subject string, pb, view tlog.Payload, pub any, pp personalPart, fresh bool) (*tlog.Entry, error) {
	e := &tlog.Entry{
		Version: tlog.V2,
		Index:   t.b.size + int64(len(t.b.entries)),
		Time:    t.now,
		Kind:    kind,
		Actor:   logActor(actor),
		Subject: subject,
	}
	p := pendingEntry{idx: e.Index, subject: subject}
	var err error
	if subject != "" {
		head, ok := t.b.subjects[subject]
		if !ok && fresh {
			head = subjectHead{index: -1}
			if r, isReg := pub.(*evResident); isReg {
				head.county = healthcode.CountyOf(r.Jurisdiction)
			}
		} else if h, pre := t.b.heads[subject]; !ok && pre {
			head = h
		} else if !ok {
			if head, err = t.chainHead(subject); err != nil {
				return nil, err
			}
		}
		if head.county == "" {
			var home string
			if err := t.queryRow("SELECT jurisdiction FROM residents WHERE id = ?", subject).Scan(&home); err != nil {
				return nil, fmt.Errorf("log %s: the county of %s: %w", kind, subject, err)
			}
			head.county = healthcode.CountyOf(home)
		}
		e.Prev, e.County = head.hash, head.county
		defer func() {
			t.b.undo = append(t.b.undo, subjectUndo{subject: subject, prev: head, had: ok})
			t.b.subjects[subject] = subjectHead{index: e.Index, hash: p.leaf, county: head.county}
		}()
	}
	leafPayload := pb
	if t.db.leafV1 {
		// As before migration 0013: the subject and chain link in the
		// leaf, the whole event as its payload, and a personal part only
		// for the kind's personal fields, committed as they are.
		e.Version, e.County = 0, ""
		if pp.data != nil {
			p.personal, p.salt = pp.data, pp.salt
			e.Personal = tlog.PersonalCommitment(pp.salt, pp.data)
		}
	} else if subject != "" || pp.data != nil {
		if !pp.salted {
			return nil, fmt.Errorf("log %s: personal part without a salt", kind)
		}
		part := tlog.PersonalPart{Subject: subject, Prev: e.Prev, Data: pp.data}
		if subject != "" {
			part.Event = pb.Bytes()
			if view.Bytes() != nil {
				leafPayload = view
			} else if leafPayload, err = checkedView(kind, pub); err != nil {
				return nil, err
			}
		}
		p.personal = part.AppendText(make([]byte, 0, len(part.Event)+len(part.Data)+112))
		p.salt = pp.salt
		e.Personal = tlog.PersonalCommitment(pp.salt, p.personal)
	}
	// A resident acting about themselves is "self" in public.
	actorID := e.Actor.ID
	if subject != "" && e.Actor.Kind == tlog.ActorResident && actorID == subject && !t.db.leafV1 {
		e.Actor.ID = tlog.SelfActor
	}
	p.data, err = e.MarshalTextWith(leafPayload)
	e.Actor.ID = actorID
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", kind, err)
	}
	// The caller's view of the entry is the opened one: its whole event.
	e.Payload = pb.Bytes()
	p.leaf = sumtlog.RecordHash(p.data)
	t.b.entries = append(t.b.entries, p)
	return e, nil
}

// checkedView is publicView(kind, pub) as a payload.
func checkedView(kind tlog.Kind, pub any) (cp tlog.Payload, err error) {
	v, err := viewOf(kind, pub)
	switch {
	case err != nil:
	case v == nil:
		cp, err = tlog.CheckPayload(emptyView)
	default:
		cp, err = tlog.MarshalPayload(v)
	}
	if err != nil {
		return tlog.Payload{}, fmt.Errorf("log %s: %w", kind, err)
	}
	return cp, nil
}

// chainHead reads subject's chain head from the database (index -1:
// none).
func (t *Tx) chainHead(subject string) (subjectHead, error) {
	var head subjectHead
	var h []byte
	err := t.queryRow("SELECT last_index, last_hash, county FROM log_subjects WHERE subject = ?", subject).Scan(&head.index, &h, &head.county)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return subjectHead{index: -1}, nil
	case err != nil:
		return head, fmt.Errorf("read chain head of %s: %w", subject, err)
	}
	copy(head.hash[:], h)
	return head, nil
}

func logActor(a healthcode.Actor) tlog.Actor {
	la := tlog.Actor{Kind: a.Kind, ID: a.ID}
	if a.Kind == healthcode.ActorOfficial {
		la.Post = a.Jurisdiction
	}
	if la.Kind == "" {
		la.Kind = tlog.ActorSystem
	}
	return la
}

// prefetchHeads reads the chain heads of subjects about to get entries in
// one query, instead of one query per entry.
func (t *Tx) prefetchHeads(subjects []string) error {
	if t.b.heads == nil {
		t.b.heads = make(map[string]subjectHead)
	}
	var need []string
	for _, s := range uniq(subjects) {
		if _, ok := t.b.subjects[s]; !ok {
			if _, ok := t.b.heads[s]; !ok {
				need = append(need, s)
			}
		}
	}
	return inChunks(need, func(part []string, args []any) error {
		rows, err := t.query("SELECT subject, last_index, last_hash, county FROM log_subjects WHERE subject IN ("+placeholders(len(part))+")", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for _, s := range part {
			t.b.heads[s] = subjectHead{index: -1}
		}
		for rows.Next() {
			var s string
			var h subjectHead
			var hash []byte
			if err := rows.Scan(&s, &h.index, &hash, &h.county); err != nil {
				return err
			}
			copy(h.hash[:], hash)
			t.b.heads[s] = h
		}
		return rows.Err()
	})
}

// mark and rollback let a failed request in a batch take back its entries.
type batchMark struct{ entries, undo, changes int }

func (b *batch) mark() batchMark { return batchMark{len(b.entries), len(b.undo), len(b.changes)} }

func (b *batch) rollback(m batchMark) {
	for i := len(b.undo) - 1; i >= m.undo; i-- {
		u := b.undo[i]
		if u.had {
			b.subjects[u.subject] = u.prev
		} else {
			delete(b.subjects, u.subject)
		}
	}
	b.undo = b.undo[:m.undo]
	b.entries = b.entries[:m.entries]
	b.changes = b.changes[:m.changes]
}

// write runs fn in a transaction with the log, batched with concurrent
// writers into one commit. It returns fn's error, or the commit's.
func (db *DB) write(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, done: make(chan error, 1)}
	select {
	case <-db.closed: // checked first: with both ready, select picks either
		return healthcode.Errorf(healthcode.EUNAVAIL, "store is closed")
	default:
	}
	select {
	case db.log.reqs <- r:
	case <-db.closed:
		return healthcode.Errorf(healthcode.EUNAVAIL, "store is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// commit, and the caller must not be told otherwise. A request queued
	// just as the committer stopped is never answered: stopped says so.
	select {
	case err := <-r.done:
		return err
	case <-db.log.stopped:
		select {
		case err := <-r.done:
			return err
		default:
			return healthcode.Errorf(healthcode.EUNAVAIL, "store is closed")
		}
	}
}

// committer takes queued writes and commits them in batches.
func (db *DB) committer() {
	defer db.log.wg.Done()
	defer close(db.log.stopped)
	defer func() {
		for _, s := range db.log.stmts {
			if err := s.Close(); err != nil {
				db.logger.Warn("closing a prepared statement failed", "err", err)
			}
		}
	}()
	for {
		var first *request
		select {
		case first = <-db.log.reqs:
		case <-db.closed:
			for {
				select {
				case r := <-db.log.reqs:
					r.done <- healthcode.Errorf(healthcode.EUNAVAIL, "store is closed")
				default:
					return
				}
			}
		}
		reqs := []*request{first}
	drain:
		for len(reqs) < maxBatch {
			select {
			case r := <-db.log.reqs:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		start := time.Now()
		db.commitBatch(reqs)
		if len(db.log.prepareLater) > 0 {
			db.prepareStatements()
		}
		db.log.busy.Add(int64(time.Since(start)))
	}
}

func (db *DB) commitBatch(reqs []*request) {
	errs := make([]error, len(reqs))
	err := db.runBatch(reqs, errs)
	for i, r := range reqs {
		if errs[i] == nil {
			errs[i] = err
		}
		r.done <- DescribeError(errs[i])
	}
}

// runBatch runs the requests in one transaction, each in a savepoint so one
// failing request does not take the others with it; fills errs with each
// request's own error and returns the error of the commit as a whole.
func (db *DB) runBatch(reqs []*request, errs []error) error {
	ctx := context.Background()
	// A login's few writes go ahead of the next batch (sideWrite).
	db.sideGate.RLock()
	defer db.sideGate.RUnlock()
	sqltx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return db.describeOpenError(err)
	}
	defer sqltx.Rollback()

	var (
		size     int64
		root, cp []byte
	)
	if err := sqltx.QueryRowContext(ctx, db.dialect.lockHead()).Scan(&size, &root, &cp); err != nil {
		return fmt.Errorf("lock log head: %w", err)
	}
	db.failpoint(failBatchBegun)
	if size != db.log.lastSize {
		// Another process wrote since our last commit (or this is the
		// first): nothing read before now can be known current.
		db.log.globalAt, db.log.moved = size, nil
	}
	db.log.lastSize = -1 // until this batch commits
	b := &batch{size: size, subjects: make(map[string]subjectHead)}
	t := &Tx{db: db, tx: sqltx, ctx: ctx, now: db.nowMs(), b: b}
	single := len(reqs) == 1
	ok := 0
	for i, r := range reqs {
		t.local, t.job, t.evalFailures = false, "", 0
		if single {
			db.failpoint(failRequestBefore)
			if errs[i] = r.fn(t); errs[i] != nil {
				return errs[i]
			}
			db.failpoint(failRequestAfter)
			b.global = b.global || !t.local
			ok++
			break
		}
		if _, err := sqltx.ExecContext(ctx, "SAVEPOINT req"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		m := b.mark()
		db.failpoint(failRequestBefore)
		errs[i] = r.fn(t)
		db.failpoint(failRequestAfter)
		if errs[i] != nil {
			b.rollback(m)
			if _, err := sqltx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT req"); err != nil {
				return fmt.Errorf("rollback to savepoint: %w", err)
			}
		} else {
			b.global = b.global || !t.local
			ok++
		}
		if _, err := sqltx.ExecContext(ctx, "RELEASE SAVEPOINT req"); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
	}
	if ok == 0 {
		db.log.lastSize = size
		return nil
	}
	var oldRoot sumtlog.Hash
	copy(oldRoot[:], root)
	written, err := db.flushLog(t, oldRoot)
	if err != nil {
		return fmt.Errorf("append to log: %w", err)
	}
	db.failpoint(failCommitBefore)
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.failpoint(failCommitAfter)
	db.log.commits.Add(1)
	db.log.requests.Add(int64(ok))
	db.log.entries.Add(int64(len(b.entries)))
	for _, c := range b.changes {
		db.observer().CodeChanged(c.colour, c.cause)
	}
	newSize := size + int64(len(b.entries))
	db.log.lastSize = newSize
	switch {
	case b.global:
		db.log.globalAt, db.log.moved = newSize, nil
	case len(b.subjects) > 0:
		db.log.moved = append(db.log.moved, movedChains{after: newSize, subjects: b.subjects})
		if len(db.log.moved) > maxMoved {
			db.log.globalAt = db.log.moved[0].after
			db.log.moved = slices.Delete(db.log.moved, 0, 1)
		}
	}
	db.cacheFrontier(newSize, written)
	return nil
}

// snapshotCurrent reports whether a snapshot read at log size size is
// still current in this transaction for everything but the rows of
// residents whose chains moved since (which callers compare one by one):
// no request that was not local committed since, in this process, in
// another, or earlier in this batch.
func (t *Tx) snapshotCurrent(size int64) bool {
	return size >= t.db.log.globalAt && !t.b.global
}

// movedSince reports whether subject's chain moved after log size size,
// for a snapshot that snapshotCurrent accepts: in a local commit since, or
// earlier in this batch.
func (t *Tx) movedSince(size int64, subject string) bool {
	if _, ok := t.b.subjects[subject]; ok {
		return true
	}
	moved := t.db.log.moved
	for i := len(moved) - 1; i >= 0 && moved[i].after > size; i-- {
		if _, ok := moved[i].subjects[subject]; ok {
			return true
		}
	}
	return false
}

// flushLog writes the batch's entries, their personal parts, the stored
// hashes and chain heads, checks the new tree against the old one, and signs
// a checkpoint. It returns the hashes written, for the cache.
func (db *DB) flushLog(t *Tx, oldRoot sumtlog.Hash) (map[int64]sumtlog.Hash, error) {
	b := t.b
	if len(b.entries) == 0 {
		return nil, nil
	}
	r := &hashReader{t: t, overlay: make(map[int64]sumtlog.Hash, 2*len(b.entries)+16)}
	type hrow struct {
		idx  int64
		hash sumtlog.Hash
	}
	var hrows []hrow
	for _, e := range b.entries {
		hs, err := sumtlog.StoredHashesForRecordHash(e.idx, e.leaf, r)
		if err != nil {
			return nil, fmt.Errorf("hash entry %d: %w", e.idx, err)
		}
		base := sumtlog.StoredHashIndex(0, e.idx)
		for i, h := range hs {
			r.overlay[base+int64(i)] = h
			hrows = append(hrows, hrow{base + int64(i), h})
		}
	}
	if err := insertRows(t, "log_entries (idx, data)", 2, len(b.entries), func(i int) []any {
		return []any{b.entries[i].idx, b.entries[i].data}
	}); err != nil {
		return nil, err
	}
	if err := insertRows(t, "log_hashes (idx, hash)", 2, len(hrows), func(i int) []any {
		return []any{hrows[i].idx, hrows[i].hash[:]}
	}); err != nil {
		return nil, err
	}
	var pers []pendingEntry
	for _, e := range b.entries {
		if e.personal != nil {
			pers = append(pers, e)
		}
	}
	if err := insertRows(t, "log_personal (idx, subject, salt, data)", 4, len(pers), func(i int) []any {
		return []any{pers[i].idx, pers[i].subject, pers[i].salt[:], pers[i].personal}
	}); err != nil {
		return nil, err
	}
	subjects := make([]string, 0, len(b.subjects))
	for subject := range b.subjects {
		subjects = append(subjects, subject)
	}
	sort.Strings(subjects) // a fixed order, so concurrent upserts cannot deadlock
	if err := upsertRows(t, "log_subjects (subject, last_index, last_hash, county)", 4, len(subjects),
		" ON CONFLICT (subject) DO UPDATE SET last_index = excluded.last_index, last_hash = excluded.last_hash, county = excluded.county",
		func(i int) []any {
			h := b.subjects[subjects[i]]
			return []any{subjects[i], h.index, h.hash[:], h.county}
		}); err != nil {
		return nil, err
	}
	if err := t.writeCodeHeads(b.entries); err != nil {
		return nil, err
	}

	newSize := b.size + int64(len(b.entries))
	newRoot, err := sumtlog.TreeHash(newSize, r)
	if err != nil {
		return nil, fmt.Errorf("tree hash at %d: %w", newSize, err)
	}
	// Never sign a checkpoint inconsistent with the last one signed.
	if b.size > 0 {
		proof, err := sumtlog.ProveTree(newSize, b.size, r)
		if err != nil {
			return nil, fmt.Errorf("prove consistency %d→%d: %w", b.size, newSize, err)
		}
		if err := sumtlog.CheckTree(proof, newSize, newRoot, b.size, oldRoot); err != nil {
			return nil, fmt.Errorf("new tree of size %d is not consistent with the signed tree of size %d: %w", newSize, b.size, err)
		}
	}
	db.failpoint(failSignBefore)
	signed, err := tlog.SignCheckpoint(db.log.signer, db.origin, newSize, newRoot)
	if err != nil {
		return nil, err
	}
	db.failpoint(failSignAfter)
	if _, err := t.exec("UPDATE log_head SET size = ?, root = ?, checkpoint = ? WHERE id = 1", newSize, newRoot[:], signed); err != nil {
		return nil, fmt.Errorf("update log head: %w", err)
	}
	if _, err := t.exec("INSERT INTO log_checkpoints (size, root, signed, created_at) VALUES (?, ?, ?, ?)", newSize, newRoot[:], signed, fmtTime(t.now)); err != nil {
		return nil, fmt.Errorf("store checkpoint: %w", err)
	}
	db.failpoint(failCheckpointAfter)
	return r.overlay, nil
}

// insertRows inserts n rows of width columns with multi-row INSERTs.
func insertRows(t *Tx, table string, width, n int, row func(i int) []any) error {
	return upsertRows(t, table, width, n, "", row)
}

// upsertRows is insertRows with a suffix (an ON CONFLICT clause). Rows go
// in statements of rowsPerInsert rows, then of powers of two for the rest,
// so that every statement has one of a few shapes, each prepared once (see
// Tx.prepared).
func upsertRows(t *Tx, table string, width, n int, suffix string, row func(i int) []any) error {
	per := min(rowsPerInsert, t.db.dialect.maxParams()/width)
	args := make([]any, 0, min(n, per)*width)
	for start := 0; start < n; {
		rows := per
		if left := n - start; left < per {
			rows = 1 << (bits.Len(uint(left)) - 1)
		}
		args = args[:0]
		for i := start; i < start+rows; i++ {
			args = append(args, row(i)...)
		}
		stmt, err := t.prepared(t.db.insertQuery(table, width, rows, suffix))
		if err == nil {
			t.db.failpoint(failStmtBefore)
			_, err = stmt.ExecContext(t.ctx, args...)
			t.db.failpoint(failStmtAfter)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		start += rows
	}
	return nil
}

// rowsPerInsert is how many rows one multi-row INSERT carries at most.
const rowsPerInsert = 256

// insertQuery returns the multi-row INSERT for rows rows, in the
// dialect, from the committer's cache of them.
func (db *DB) insertQuery(table string, width, rows int, suffix string) string {
	k := insertShape{table, rows, suffix}
	q, ok := db.log.queries[k]
	if !ok {
		q = db.dialect.rebind(multiInsert(table, width, rows, suffix))
		db.log.queries[k] = q
	}
	return q
}

type insertShape struct {
	table  string
	rows   int
	suffix string
}

func multiInsert(table string, width, rows int, suffix string) string {
	var q strings.Builder
	q.WriteString("INSERT INTO " + table + " VALUES ")
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	for i := 0; i < rows; i++ {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(ph)
	}
	q.WriteString(suffix)
	return q.String()
}

// prepared returns a statement for query in the transaction. The
// committer's statements are a handful of multi-row INSERT shapes: each is
// prepared in the transaction the first time, then, once that batch has
// ended and the write connection is free, on the connection for good
// (prepareLater), and later batches use that one.
func (t *Tx) prepared(query string) (*sql.Stmt, error) {
	if s, ok := t.stmts[query]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if ps, ok := t.db.log.stmts[query]; ok {
		s = t.tx.StmtContext(t.ctx, ps)
	} else {
		var err error
		if s, err = t.tx.PrepareContext(t.ctx, query); err != nil {
			return nil, err
		}
		t.db.log.prepareLater = append(t.db.log.prepareLater, query)
	}
	if t.stmts == nil {
		t.stmts = make(map[string]*sql.Stmt)
	}
	t.stmts[query] = s
	return s, nil
}

// prepareStatements prepares the statements batches asked for on the
// write connection, between batches.
func (db *DB) prepareStatements() {
	for _, q := range db.log.prepareLater {
		if _, ok := db.log.stmts[q]; ok {
			continue
		}
		s, err := db.wdb.PrepareContext(context.Background(), q)
		if err != nil {
			db.logger.Warn("prepare statement", "err", err)
			continue
		}
		db.log.stmts[q] = s
	}
	db.log.prepareLater = db.log.prepareLater[:0]
}

// hashReader reads stored hashes: the batch's own, then the cache, then the
// database (inside the batch's transaction).
type hashReader struct {
	t       *Tx
	overlay map[int64]sumtlog.Hash
}

func (r *hashReader) ReadHashes(indexes []int64) ([]sumtlog.Hash, error) {
	out := make([]sumtlog.Hash, len(indexes))
	var need []int // positions in indexes still to read from the database
	r.t.db.log.mu.Lock()
	for i, x := range indexes {
		if h, ok := r.overlay[x]; ok {
			out[i] = h
		} else if h, ok := r.t.db.log.cache[x]; ok {
			out[i] = h
		} else {
			need = append(need, i)
		}
	}
	r.t.db.log.mu.Unlock()
	if len(need) == 0 {
		return out, nil
	}
	missing := make([]int64, len(need))
	for j, i := range need {
		missing[j] = indexes[i]
	}
	got, err := readHashes(r.t.ctx, r.t.db, r.t.tx, missing)
	if err != nil {
		return nil, err
	}
	for _, i := range need {
		h, ok := got[indexes[i]]
		if !ok {
			return nil, fmt.Errorf("stored hash %d is missing", indexes[i])
		}
		out[i] = h
	}
	return out, nil
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// readHashes reads stored hashes by index.
func readHashes(ctx context.Context, db *DB, q querier, indexes []int64) (map[int64]sumtlog.Hash, error) {
	got := make(map[int64]sumtlog.Hash, len(indexes))
	for start := 0; start < len(indexes); start += 500 {
		part := indexes[start:min(start+500, len(indexes))]
		args := make([]any, len(part))
		for i, x := range part {
			args[i] = x
		}
		rows, err := q.QueryContext(ctx, db.dialect.rebind("SELECT idx, hash FROM log_hashes WHERE idx IN ("+
			strings.TrimSuffix(strings.Repeat("?,", len(part)), ",")+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("read stored hashes: %w", err)
		}
		for rows.Next() {
			var x int64
			var h []byte
			if err := rows.Scan(&x, &h); err != nil {
				rows.Close()
				return nil, err
			}
			var hh sumtlog.Hash
			copy(hh[:], h)
			got[x] = hh
		}
		if err := endRows(rows); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// cacheFrontier keeps the stored hashes the next batch will read: those of
// the complete subtrees that make up a tree of size n (appending reads
// their siblings, the tree hash and consistency proof read them), taken
// from the hashes just written or the cache. Anything else is read from
// the database, so a miss costs a query, not correctness.
func (db *DB) cacheFrontier(n int64, written map[int64]sumtlog.Hash) {
	db.log.mu.Lock()
	defer db.log.mu.Unlock()
	next := make(map[int64]sumtlog.Hash, 64)
	for lo := int64(0); lo < n; {
		level := bits.Len64(uint64(n-lo)) - 1 // the largest complete subtree from lo
		x := sumtlog.StoredHashIndex(level, lo>>level)
		if h, ok := written[x]; ok {
			next[x] = h
		} else if h, ok := db.log.cache[x]; ok {
			next[x] = h
		}
		lo += 1 << level
	}
	db.log.cache = next
}
