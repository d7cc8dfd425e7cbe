package store

// The background auditor: the server checking itself. It keeps its own
// projection of the log (a SQLite file, rebuilt from the entries alone by
// the apply functions, as log verify's scratch database is) and follows
// the log:
//
//   - every Poll it reads the live database in one snapshot, applies the
//     entries appended since to its projection, and compares, column by
//     column, the rows those entries set (projection_last names them) with
//     the live rows: a row written beside its entry, or edited just after,
//     is found within a poll;
//   - on a schedule (Interval, daily by default) it sweeps the whole
//     projection: every projected table, and code_heads against the
//     projected codes, compared a chunk of rows at a time in key order,
//     with the cursor kept in the live database's audit_state so that a
//     restart resumes the sweep where it stood (signed, and checked
//     against the insider's edits: auditcursor.go).
//
// Both compare the live rows and the projection at the same log size (the
// projection is brought to the snapshot's size first), so a write that
// commits meanwhile is never taken for a difference. A difference raises
// an integrity alert (alert.raised, once per difference) naming the table,
// the row's key, the column and the entry that last set the row.
//
// The projection file is the auditor's cache, not a source of truth: it
// records the log size and leaf hash it reached, and is rebuilt from the
// log when they no longer match the live log (or the file is gone); a
// rebuild is followed by a sweep.

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode/internal/filelock"
)

// Defaults of AuditConfig.
const (
	DefaultAuditInterval = 24 * time.Hour
	DefaultAuditPoll     = 10 * time.Second
	defaultSweepRows     = 5000
	defaultSweepBudget   = 2 * time.Second
)

// followMax bounds the entries one poll projects; a larger backlog (a new
// projection, a long pause) is caught up without row checks and followed
// by a sweep. A variable for the tests.
var followMax int64 = 50000

// AuditConfig configures the background auditor.
type AuditConfig struct {
	// Path is the auditor's own projection of the log, a SQLite file
	// (created if missing). Required. One auditor uses a path at a time:
	// OpenAuditor locks Path+".lock" and refuses a path in use
	// (ErrAuditPathInUse), by another process or another auditor of this
	// one, for two would rebuild and write one file as two logs.
	Path string
	// Interval is the time from the end of one sweep of the whole
	// projection to the start of the next; DefaultAuditInterval if 0.
	Interval time.Duration
	// Poll is how often the auditor follows the log; DefaultAuditPoll if
	// 0. New entries are checked within a poll.
	Poll time.Duration
	// SweepRows is how many rows a sweep compares per step, and
	// SweepBudget how long a poll may sweep (then the next poll goes on).
	SweepRows   int
	SweepBudget time.Duration
}

// AuditStatus is what the auditor has done.
type AuditStatus struct {
	Followed    int64     // the log size its projection reached
	Checked     int64     // rows compared since start (after new entries and by sweeps)
	Differences int64     // differences found since start
	Sweeps      int64     // sweeps completed since start
	LastSweep   time.Time // when the last complete sweep ended (kept across restarts); zero if never
	Sweeping    bool      // a sweep is in progress
	SweepTable  string    // the table the sweep in progress stands at
	SweepRows   int64     // rows the sweep in progress compared so far
}

// ErrAuditPathInUse is OpenAuditor's error, wrapped with the path and the
// holder's process id, when another auditor holds the projection's path.
var ErrAuditPathInUse = errors.New("the auditor's projection is in use by another auditor")

// Auditor follows one database's log; see the comment at the top.
type Auditor struct {
	db     *DB
	cfg    AuditConfig
	shadow *DB
	unlock func() error // releases the lock on cfg.Path

	mu     sync.Mutex
	status AuditStatus
	sweep  *sweepCursor // in progress, or nil

	// Owned by the goroutine that steps (auditcursor.go).
	trust    cursorTrust
	sweepRaw string // its live audit_state "sweep/ID" as this auditor last wrote or read it
	force    bool   // a sweep is due now, whatever the schedule
}

// phaseLog is the second phase of a table's sweep: the projection's keys.
const phaseLog = "log"

// auditTables are the tables a sweep compares, in order: every projected
// table, then code_heads (operational, written with the log) against the
// projected codes.
var auditTables = append(append([]projTable(nil), projection...),
	projTable{name: "code_heads", key: []string{"resident"}, cols: []projCol{pcol("log_index")}, rebuilt: "codes"})

// OpenAuditor opens (or creates) the auditor's projection and reads the
// sweep cursor and the last sweep's time from the live database. Returns
// EINVALID without a Path.
func (db *DB) OpenAuditor(ctx context.Context, cfg AuditConfig) (*Auditor, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("auditor: no path for its projection")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultAuditInterval
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultAuditPoll
	}
	if cfg.SweepRows <= 0 {
		cfg.SweepRows = defaultSweepRows
	}
	if cfg.SweepBudget <= 0 {
		cfg.SweepBudget = defaultSweepBudget
	}
	unlock, err := filelock.Lock(cfg.Path + ".lock")
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("auditor: %w: %w; give each server its own --audit-path (HEALTHCODE_AUDIT_PATH)", ErrAuditPathInUse, err)
	}
	if err != nil {
		return nil, fmt.Errorf("auditor projection: %w", err)
	}
	a := &Auditor{db: db, cfg: cfg, unlock: unlock}
	if err := a.openShadow(ctx); err != nil {
		return nil, errors.Join(err, unlock())
	}
	state, err := db.auditState(ctx)
	if err == nil {
		err = a.loadTrust(ctx)
	}
	var diffs []Difference
	if err == nil {
		diffs, err = a.judgeStored(state)
	}
	for _, d := range diffs {
		if err == nil {
			err = db.raiseIntegrity(ctx, d, "auditor")
			a.count(0, 1)
		}
	}
	if err != nil {
		return nil, errors.Join(err, a.Close())
	}
	db.integrity.auditor.Store(a)
	return a, nil
}

// Close closes the auditor's projection and releases its path.
func (a *Auditor) Close() error {
	a.db.integrity.auditor.CompareAndSwap(a, nil)
	unlock := a.unlock
	a.unlock = func() error { return nil } // released once
	return errors.Join(a.shadow.closeDBs(), unlock())
}

// Status returns what the auditor has done.
func (a *Auditor) Status() AuditStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// AuditStatus returns the status of the auditor open on db, if any.
func (db *DB) AuditStatus() (AuditStatus, bool) {
	a := db.integrity.auditor.Load()
	if a == nil {
		return AuditStatus{}, false
	}
	return a.Status(), true
}

// Run follows the log every Poll until ctx ends, logging its progress.
func (a *Auditor) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Poll)
	defer t.Stop()
	lastLog := time.Time{}
	for {
		behind, err := a.step(ctx, a.cfg.SweepBudget)
		if err != nil && ctx.Err() == nil {
			a.db.logger.Error("audit step failed", "err", err)
		}
		if st := a.Status(); time.Since(lastLog) >= time.Minute {
			lastLog = time.Now()
			a.db.logger.Info("audit progress", "followed", st.Followed, "checked", st.Checked, "differences", st.Differences,
				"sweeping", st.Sweeping, "sweep_table", st.SweepTable, "sweep_rows", st.SweepRows, "last_sweep", st.LastSweep)
		}
		if behind && err == nil && ctx.Err() == nil {
			continue // catching up with a long log: no pause
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step follows the log once: it brings the projection to the live log's
// size and checks the rows the new entries set, then, if a sweep is due
// or in progress, sweeps for up to SweepBudget.
func (a *Auditor) Step(ctx context.Context) error {
	_, err := a.step(ctx, a.cfg.SweepBudget)
	return err
}

// step is Step with a sweep budget (negative: one chunk); it reports
// whether the projection is still behind the log (catching up).
func (a *Auditor) step(ctx context.Context, budget time.Duration) (behind bool, err error) {
	snap, err := a.db.db.BeginTx(ctx, a.db.dialect.snapshotOptions())
	if err != nil {
		return false, fmt.Errorf("audit snapshot: %w", err)
	}
	defer snap.Rollback()
	var size int64
	if err := snap.QueryRowContext(ctx, "SELECT size FROM log_head WHERE id = 1").Scan(&size); err != nil {
		return false, fmt.Errorf("audit: read log size: %w", err)
	}
	caughtUp, err := a.follow(ctx, snap, size)
	if err != nil || !caughtUp {
		return !caughtUp, err
	}
	a.mu.Lock()
	due := a.sweep != nil || a.force || a.status.LastSweep.IsZero() || a.db.now().Sub(a.status.LastSweep) >= a.cfg.Interval
	a.mu.Unlock()
	if !due {
		return false, nil
	}
	deadline := time.Now().Add(budget)
	for {
		done, err := a.sweepChunk(ctx, snap)
		if err != nil || done || budget < 0 || time.Now().After(deadline) {
			return false, err
		}
	}
}

// follow applies the entries up to size to the projection and checks the
// rows they set; it reports whether the projection reached size.
func (a *Auditor) follow(ctx context.Context, snap *sql.Tx, size int64) (bool, error) {
	a.mu.Lock()
	from := a.status.Followed
	a.mu.Unlock()
	if from > size {
		// The log is shorter than the projection: rolled back, or another
		// database. Start again (the rollback itself is for log verify and
		// the witnesses to refuse).
		a.db.logger.Error("audit: the log is shorter than the auditor's projection; rebuilding it", "projected", from, "log_size", size)
		if err := a.resetShadow(ctx); err != nil {
			return false, err
		}
		from = 0
	}
	if from == size {
		return true, nil
	}
	to := size
	catchUp := from == 0 || size-from > followMax
	if catchUp {
		to = min(size, from+followMax)
		a.db.logger.Info("audit: projecting the log", "from", from, "to", to, "log_size", size)
	}
	failed, err := a.db.projectRange(ctx, snap, a.shadow, from, to, nil, func(tx *sql.Tx, end int64) error {
		leaf, err := a.leafAt(ctx, snap, end-1)
		if err != nil {
			return err
		}
		return setAuditState(ctx, tx, sqliteDialect{}, "projected", strconv.FormatInt(end, 10)+" "+hex.EncodeToString(leaf[:]))
	})
	if err != nil {
		if failed >= 0 {
			// An entry that cannot be projected: the log itself is at fault.
			d := Difference{Table: "log_entries", Key: strconv.FormatInt(failed, 10), Entry: failed, What: err.Error()}
			if rerr := a.db.raiseIntegrity(ctx, d, "auditor"); rerr != nil {
				return false, rerr
			}
			a.count(0, 1)
		}
		if rerr := a.readProjected(ctx); rerr != nil {
			return false, rerr
		}
		return false, err
	}
	a.mu.Lock()
	a.status.Followed = to
	a.mu.Unlock()
	if catchUp {
		// Caught up without row checks: sweep everything next, from the
		// beginning (a sweep in progress has passed rows those entries
		// may have set).
		a.mu.Lock()
		if a.sweep != nil {
			a.db.logger.Info("audit: the log was projected without row checks; the sweep starts again from the beginning")
		}
		a.sweep, a.force = nil, true
		a.status.Sweeping, a.status.SweepTable, a.status.SweepRows = false, "", 0
		a.mu.Unlock()
		return to == size, nil
	}
	return true, a.checkTouched(ctx, snap, from, to)
}

// checkTouched compares the live rows that the entries from..to-1 set with
// the projection's.
func (a *Auditor) checkTouched(ctx context.Context, snap *sql.Tx, from, to int64) error {
	rows, err := a.shadow.db.QueryContext(ctx, "SELECT tbl, row_key FROM projection_last WHERE idx >= ? AND idx < ?", from, to)
	if err != nil {
		return err
	}
	touched := map[string][]string{}
	for rows.Next() {
		var tbl, key string
		if err := rows.Scan(&tbl, &key); err != nil {
			rows.Close()
			return err
		}
		touched[tbl] = append(touched[tbl], key)
	}
	if err := endRows(rows); err != nil {
		return err
	}
	const chunk = 500
	for i := range auditTables {
		t := &auditTables[i]
		keys := touched[t.rebuiltFrom()]
		sort.Strings(keys)
		for start := 0; start < len(keys); start += chunk {
			part := make([][]string, 0, chunk)
			for _, k := range keys[start:min(start+chunk, len(keys))] {
				part = append(part, splitKey(k, len(t.key)))
			}
			where, args, err := t.keysIn(part)
			if err != nil {
				return fmt.Errorf("audit %s: the auditor's projection_last: %w", t.name, err)
			}
			if err := a.compare(ctx, snap, t, where, args); err != nil {
				return fmt.Errorf("audit %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// sweepChunk compares the next chunk of rows of the sweep, starting one if
// none is in progress, and reports whether the sweep is complete.
func (a *Auditor) sweepChunk(ctx context.Context, snap *sql.Tx) (bool, error) {
	a.mu.Lock()
	c := a.sweep
	a.mu.Unlock()
	ti := -1
	for i := range auditTables {
		if c != nil && auditTables[i].name == c.Table {
			ti = i
		}
	}
	if ti < 0 { // none in progress, or at a table no longer audited: start one
		var err error
		if c, err = a.newCycle(ctx); err != nil {
			return false, err
		}
		ti = 0
		a.db.logger.Info("audit: sweep started")
	} else {
		u := *c // a.sweep changes only once its write commits
		c = &u
	}
	t := &auditTables[ti]
	// A chunk is the next SweepRows keys after the cursor, in the order of
	// the table's primary key (an index scan on either engine; PostgreSQL's
	// collation need not be byte order): first the live table's keys, then
	// (phase "log") the projection's, which finds the rows of the log that
	// are not stored. Each chunk's rows are then compared by key.
	list, d, from := querier(snap), a.db.dialect, t.name
	if c.Phase == phaseLog {
		list, d, from = a.shadow.db, sqliteDialect{}, t.rebuiltFrom()
	}
	var after []any
	cond := ""
	if c.Key != nil {
		var err error
		if after, err = t.keyArgs(c.Key); err != nil {
			return false, fmt.Errorf("audit sweep: the cursor in audit_state: %w", err)
		}
		cond = " WHERE " + t.keyCond(">")
	}
	keyCols := strings.Join(t.key, ", ")
	rows, err := list.QueryContext(ctx, d.rebind("SELECT "+keyCols+" FROM "+from+cond+" ORDER BY "+keyCols+
		" LIMIT "+strconv.Itoa(a.cfg.SweepRows)), after...)
	if err != nil {
		return false, fmt.Errorf("audit sweep %s: %w", t.name, err)
	}
	var keys [][]string
	for rows.Next() {
		k, err := rowValues(rows, len(t.key))
		if err != nil {
			rows.Close()
			return false, err
		}
		keys = append(keys, k)
	}
	if err := endRows(rows); err != nil {
		return false, err
	}
	if len(keys) > 0 {
		where, args, err := t.keysIn(keys)
		if err != nil {
			return false, fmt.Errorf("audit sweep %s: %w", t.name, err)
		}
		// The log phase reports only the rows not stored: the others were
		// compared in the live phase.
		var only func(Difference) bool
		if c.Phase == phaseLog {
			only = func(d Difference) bool { return d.side > 0 }
		}
		n, err := a.compareCount(ctx, snap, t, where, args, only)
		if err != nil {
			return false, fmt.Errorf("audit sweep %s: %w", t.name, err)
		}
		if c.Phase != phaseLog {
			c.Rows += int64(n)
		}
	}
	complete := false
	switch {
	case len(keys) == a.cfg.SweepRows:
		c.Key = keys[len(keys)-1]
	case c.Phase != phaseLog:
		c.Phase, c.Key = phaseLog, nil
	case ti+1 < len(auditTables):
		c.Table, c.Phase, c.Key = auditTables[ti+1].name, "", nil
	default:
		complete = true
	}
	now := a.db.now()
	var stored, wrote string
	if !complete {
		if wrote, err = a.signCursor(c); err != nil {
			return false, err
		}
	}
	err = a.db.write(ctx, func(tx *Tx) error {
		tx.local = true
		// Written only over what this auditor last wrote: a cursor
		// changed under it is the insider's.
		stored = ""
		err := tx.queryRow("SELECT value FROM audit_state WHERE name = ?", a.trust.sweepName()).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if stored != a.sweepRaw {
			return nil
		}
		if complete {
			if _, err := tx.exec("DELETE FROM audit_state WHERE name = ?", a.trust.sweepName()); err != nil {
				return err
			}
			return setAuditState(ctx, tx.tx, a.db.dialect, a.trust.doneName(), a.signDone(fmtTime(now), c.Cycle))
		}
		return setAuditState(ctx, tx.tx, a.db.dialect, a.trust.sweepName(), wrote)
	})
	if err != nil {
		return false, fmt.Errorf("audit: save the sweep cursor: %w", err)
	}
	if stored != a.sweepRaw {
		d := a.cursorDifference("sweep", stored, a.sweepRaw, "the cursor changed under the running auditor")
		a.sweepRaw = stored // overwritten by the next sweep's first write
		a.mu.Lock()
		a.sweep, a.force = nil, true
		a.status.Sweeping, a.status.SweepTable, a.status.SweepRows = false, "", 0
		a.mu.Unlock()
		a.db.logger.Error("audit: the sweep cursor in audit_state is not the one the auditor wrote; sweeping again from the beginning")
		if err := a.db.raiseIntegrity(ctx, d, "auditor"); err != nil {
			return false, err
		}
		a.count(0, 1)
		return false, nil
	}
	a.sweepRaw = wrote
	a.force = false
	if err := a.wroteCycle(ctx); err != nil {
		return false, err
	}
	a.mu.Lock()
	if complete {
		a.sweep = nil
		a.status.Sweeps++
		a.status.LastSweep = now
		a.status.Sweeping, a.status.SweepTable = false, ""
	} else {
		a.sweep = c
		a.status.Sweeping, a.status.SweepTable = true, c.Table
	}
	a.status.SweepRows = c.Rows
	st := a.status
	a.mu.Unlock()
	if complete {
		a.db.logger.Info("audit: sweep complete", "rows", c.Rows, "started", c.Started, "differences_since_start", st.Differences)
	}
	return complete, nil
}

// compare compares t's rows selected by where in the live snapshot with
// the projection's, raising an alert for each difference.
func (a *Auditor) compare(ctx context.Context, snap *sql.Tx, t *projTable, where string, args []any) error {
	_, err := a.compareCount(ctx, snap, t, where, args, nil)
	return err
}

// compareCount is compare, raising alerts only for the differences only
// accepts (nil: all); it returns how many live rows it compared.
func (a *Auditor) compareCount(ctx context.Context, snap *sql.Tx, t *projTable, where string, args []any, only func(Difference) bool) (int, error) {
	var diffs []Difference
	n, err := compareRows(ctx, t, a.db.dialect, snap, a.shadow.db, where, args, func(d Difference) {
		if only == nil || only(d) {
			diffs = append(diffs, d)
		}
	}, nil)
	if err != nil {
		return n, err
	}
	for _, d := range diffs {
		if err := a.db.raiseIntegrity(ctx, d, "auditor"); err != nil {
			return n, err
		}
	}
	a.count(int64(n), int64(len(diffs)))
	return n, nil
}

func (a *Auditor) count(checked, diffs int64) {
	a.mu.Lock()
	a.status.Checked += checked
	a.status.Differences += diffs
	a.mu.Unlock()
}

// openShadow opens the auditor's projection and checks that it is a
// projection of this log (its last entry's leaf hash is the live one's);
// else it starts a new one.
func (a *Auditor) openShadow(ctx context.Context) error {
	shadow, err := openBare(ctx, a.cfg.Path)
	if err != nil {
		return fmt.Errorf("auditor projection %s: %w", a.cfg.Path, err)
	}
	a.shadow = shadow
	// A cache needs no durability; its WAL is checkpointed as it goes
	// (the store's own databases are checkpointed by the store).
	for _, q := range []string{"PRAGMA synchronous = OFF", "PRAGMA wal_autocheckpoint = 1000", "CREATE INDEX IF NOT EXISTS projection_last_idx ON projection_last (idx)"} {
		if _, err := shadow.wdb.ExecContext(ctx, q); err != nil {
			return errors.Join(fmt.Errorf("auditor projection: %w", err), shadow.closeDBs())
		}
	}
	if err := a.readProjected(ctx); err != nil {
		return errors.Join(err, shadow.closeDBs())
	}
	n := a.status.Followed
	if n == 0 {
		return nil
	}
	state, err := a.shadow.auditState(ctx)
	if err != nil {
		return err
	}
	leaf, err := a.leafAt(ctx, a.db.db, n-1)
	if err == nil && strings.HasSuffix(state["projected"], " "+hex.EncodeToString(leaf[:])) {
		return nil
	}
	a.db.logger.Warn("audit: the auditor's projection is not of this log; rebuilding it", "path", a.cfg.Path, "projected", n)
	return a.resetShadow(ctx)
}

// resetShadow replaces the projection by an empty one.
func (a *Auditor) resetShadow(ctx context.Context) error {
	if err := a.shadow.closeDBs(); err != nil {
		return fmt.Errorf("auditor projection: close: %w", err)
	}
	for _, f := range []string{a.cfg.Path, a.cfg.Path + "-wal", a.cfg.Path + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("auditor projection: %w", err)
		}
	}
	a.mu.Lock()
	a.status.Followed = 0
	a.mu.Unlock()
	if err := a.openShadow(ctx); err != nil {
		return err
	}
	if a.trust.key == nil { // at open: loadTrust makes a key
		return nil
	}
	// The new file keeps the key and the cycles of the one it replaces.
	return a.setShadowState(ctx, "cursor.key", hex.EncodeToString(a.trust.key), "sweep.cycle", a.trust.cycle, "sweep.cycle.prev", a.trust.prev,
		"sweep.cycle.written", a.trust.written)
}

// readProjected reads how far the projection got.
func (a *Auditor) readProjected(ctx context.Context) error {
	state, err := a.shadow.auditState(ctx)
	if err != nil {
		return err
	}
	var n int64
	if s := state["projected"]; s != "" {
		f, _, _ := strings.Cut(s, " ")
		if n, err = strconv.ParseInt(f, 10, 64); err != nil {
			return fmt.Errorf("auditor projection: projected %q: %w", s, err)
		}
	}
	a.mu.Lock()
	a.status.Followed = n
	a.mu.Unlock()
	return nil
}

// leafAt is the stored leaf hash of entry idx.
func (a *Auditor) leafAt(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, idx int64) (sumtlog.Hash, error) {
	var h sumtlog.Hash
	var b []byte
	if err := q.QueryRowContext(ctx, a.db.dialect.rebind("SELECT hash FROM log_hashes WHERE idx = ?"), sumtlog.StoredHashIndex(0, idx)).Scan(&b); err != nil {
		return h, fmt.Errorf("leaf hash of entry %d: %w", idx, err)
	}
	copy(h[:], b)
	return h, nil
}

// auditState reads audit_state.
func (db *DB) auditState(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	rows, err := db.db.QueryContext(ctx, "SELECT name, value FROM audit_state")
	err = scanRows(rows, err, func(rows *sql.Rows) error {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		out[k] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit_state: %w", err)
	}
	return out, nil
}

func setAuditState(ctx context.Context, tx *sql.Tx, d dialect, name, value string) error {
	_, err := tx.ExecContext(ctx, d.rebind("INSERT INTO audit_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"), name, value)
	return err
}
