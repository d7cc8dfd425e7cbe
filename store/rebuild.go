package store

// Rebuilding the projection from the log alone: into a scratch database
// that log verify compares with the live state, column by column, or into
// a fresh database that replaces the live one (log rebuild: the log wins).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/healthcode/healthcode"
)

// openBare opens dsn and applies the migrations, nothing else: no
// identity, no log keys, no log head. It is the target of a rebuild.
func openBare(ctx context.Context, dsn string) (*DB, error) {
	db := &DB{closed: make(chan struct{}), logger: slog.New(slog.DiscardHandler)}
	if err := db.open(ctx, dsn); err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		return nil, errors.Join(err, db.closeDBs())
	}
	if _, err := db.wdb.ExecContext(ctx, lastTable); err != nil {
		return nil, errors.Join(fmt.Errorf("create projection_last: %w", err), db.closeDBs())
	}
	if db.dialect.name() == SQLite {
		// Written in bulk by its one writer connection, with no
		// checkpointer beside it: without checkpoints the whole database
		// stays in the WAL (4 GB at 2,000,000 entries), and with the
		// default page cache nearly every index lookup of an insert is
		// a read of it.
		for _, q := range []string{"PRAGMA wal_autocheckpoint = 16384", "PRAGMA cache_size = -262144"} {
			if _, err := db.wdb.ExecContext(ctx, q); err != nil {
				return nil, errors.Join(fmt.Errorf("%s: %w", q, err), db.closeDBs())
			}
		}
	}
	return db, nil
}

// projectLog replays every entry of db's log into dst's state tables, in
// transactions of a chunk of entries. progress, if not nil, is called with
// the entries projected so far. An entry that cannot be projected stops
// the replay with its index.
func (db *DB) projectLog(ctx context.Context, dst *DB, progress func(done, total int64)) (int64, error) {
	var total int64
	if err := db.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx), -1) + 1 FROM log_entries").Scan(&total); err != nil {
		return -1, fmt.Errorf("count entries: %w", err)
	}
	return db.projectRange(ctx, db.db, dst, 0, total, progress, nil)
}

// projectRange is projectLog for the entries from..total-1, read through
// q; done, if not nil, runs in each chunk's transaction before it
// commits, with the index the chunk ends at.
func (db *DB) projectRange(ctx context.Context, q querier, dst *DB, from, total int64, progress func(done, total int64),
	done func(tx *sql.Tx, end int64) error) (int64, error) {
	const chunk = 5000
	for start := from; start < total; start += chunk {
		end := min(start+chunk, total)
		type item struct {
			data, personal []byte
		}
		var items []item
		rows, err := q.QueryContext(ctx, db.dialect.rebind(`SELECT e.idx, e.data, p.data FROM log_entries e
			LEFT JOIN log_personal p ON p.idx = e.idx WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx`), start, end)
		if err != nil {
			return -1, fmt.Errorf("read entries: %w", err)
		}
		for rows.Next() {
			var idx int64
			var it item
			if err := rows.Scan(&idx, &it.data, &it.personal); err != nil {
				rows.Close()
				return -1, fmt.Errorf("read entries: %w", err)
			}
			items = append(items, it)
		}
		if err := endRows(rows); err != nil {
			return -1, fmt.Errorf("read entries: %w", err)
		}
		tx, err := dst.wdb.BeginTx(ctx, nil)
		if err != nil {
			return -1, err
		}
		pr := &projector{ctx: ctx, tx: tx, d: dst.dialect}
		for i, it := range items {
			e, err := openEntry(it.data, it.personal)
			if err != nil {
				tx.Rollback()
				return start + int64(i), fmt.Errorf("entry %d does not parse: %w", start+int64(i), err)
			}
			if err := pr.apply(e); err != nil {
				tx.Rollback()
				return e.Index, fmt.Errorf("project entry %d (%s): %w", e.Index, e.Kind, err)
			}
		}
		if err := pr.flushLast(); err != nil {
			tx.Rollback()
			return -1, err
		}
		if done != nil {
			if err := done(tx, end); err != nil {
				tx.Rollback()
				return -1, err
			}
		}
		if err := tx.Commit(); err != nil {
			return -1, err
		}
		if progress != nil {
			progress(end, total)
		}
		if err := ctx.Err(); err != nil {
			return -1, err
		}
	}
	return -1, nil
}

// openScratch opens an empty projection in a temporary SQLite database,
// which cleanup closes and removes (logger hears of a failure to).
func openScratch(ctx context.Context, logger *slog.Logger) (scratch *DB, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "healthcode-verify-*")
	if err != nil {
		return nil, nil, fmt.Errorf("scratch database: %w", err)
	}
	// The scratch database is gone with its directory: a failure to
	// close or remove it only leaves a temporary file, worth a warning.
	removeDir := func() {
		if err := os.RemoveAll(dir); err != nil {
			logger.Warn("removing the scratch database failed", "dir", dir, "err", err)
		}
	}
	scratch, err = openBare(ctx, filepath.Join(dir, "projection.db"))
	if err != nil {
		removeDir()
		return nil, nil, fmt.Errorf("scratch database: %w", err)
	}
	cleanup = func() {
		if err := scratch.closeDBs(); err != nil {
			logger.Warn("closing the scratch database failed", "dir", dir, "err", err)
		}
		removeDir()
	}
	// A scratch database needs no durability.
	if _, err := scratch.wdb.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("scratch database: %w", err)
	}
	return scratch, cleanup, nil
}

// orderBy is the ORDER BY list of t's key in d, in byte order for text
// (PostgreSQL's default collation is the locale's) so that both sides of
// a comparison come in the same order.
func (t *projTable) orderBy(d dialect) string {
	parts := make([]string, len(t.key))
	for i, k := range t.key {
		parts[i] = k
		if d.name() == Postgres && !t.ints[k] {
			parts[i] += ` COLLATE "C"`
		}
	}
	return strings.Join(parts, ", ")
}

// compared are t's columns that a comparison reads: the key, then the
// projected and personal ones.
func (t *projTable) compared() []projCol {
	var out []projCol
	for _, k := range t.key {
		out = append(out, projCol{name: k, class: projected})
	}
	for _, c := range t.cols {
		if c.class != operational {
			out = append(out, c)
		}
	}
	return out
}

// scanAny scans the current row into n values.
func scanAny(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}

// rowValues scans a row into strings, one per column; NULL is nullValue.
func rowValues(rows *sql.Rows, n int) ([]string, error) {
	vals, err := scanAny(rows, n)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, v := range vals {
		out[i] = valueString(v)
	}
	return out, nil
}

const nullValue = "\x00NULL"

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return nullValue
	case []byte:
		return string(x)
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

// show is a value as a report line shows it.
func show(s string) string {
	if s == nullValue {
		return "NULL"
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}

// compareKeys orders two keys as orderBy does.
func (t *projTable) compareKeys(a, b []string) int {
	for i, k := range t.key {
		if t.ints[k] {
			x, _ := strconv.ParseInt(a[i], 10, 64)
			y, _ := strconv.ParseInt(b[i], 10, 64)
			if x != y {
				if x < y {
					return -1
				}
				return 1
			}
			continue
		}
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// compareProgressRows is how often a comparison reports its progress, in
// live rows.
const compareProgressRows = 50000

// compareRows merges t's live rows (read through live, in dialect d) with
// the rebuilt ones (in rebuilt, SQLite), both in key order and restricted
// by where (a condition on the key columns, with args; "" for every row),
// and hands every difference to emit. It returns how many live rows it
// read; progress, if not nil, is called with that number every
// compareProgressRows rows.
func compareRows(ctx context.Context, t *projTable, d dialect, live, rebuilt querier, where string, args []any, emit func(Difference), progress func(rows int)) (int, error) {
	cols := t.compared()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	cond := ""
	if where != "" {
		cond = " WHERE " + where
	}
	lrows, err := live.QueryContext(ctx, d.rebind("SELECT "+strings.Join(names, ", ")+" FROM "+t.name+cond+" ORDER BY "+t.orderBy(d)), args...)
	if err != nil {
		return 0, err
	}
	defer lrows.Close()
	rrows, err := rebuiltRows(ctx, t, rebuilt, cond, args)
	if err != nil {
		return 0, err
	}
	defer func() { _ = rrows.Close() }() // read only; Next reports errors
	return mergeRows(t, &sqlCursor{rows: lrows, n: len(cols)}, rrows, emit, progress)
}

// rebuiltRows reads t's rebuilt rows (in rebuilt, SQLite) in key order,
// restricted by cond (" WHERE " and compareRows's condition, or ""): the
// compared columns, then the entry that last set the row and whether its
// personal columns were rebuilt.
func rebuiltRows(ctx context.Context, t *projTable, rebuilt querier, cond string, args []any) (RowCursor, error) {
	cols := t.compared()
	rnames := make([]string, len(cols))
	for i, c := range cols {
		rnames[i] = "r." + c.name
	}
	from := t.rebuiltFrom()
	rrows, err := rebuilt.QueryContext(ctx, "SELECT "+strings.Join(rnames, ", ")+", COALESCE(l.idx, -1), COALESCE(l.personal, 1) FROM "+from+
		" r LEFT JOIN projection_last l ON l.tbl = '"+from+"' AND l.row_key = "+t.keySQL("r.")+cond+
		" ORDER BY "+t.orderBy(sqliteDialect{}), args...)
	if err != nil {
		return nil, err
	}
	return &sqlCursor{rows: rrows, n: len(cols) + 2}, nil
}

// mergeRows merges t's live rows with the rebuilt ones (rebuiltRows), both
// in key order, and hands every difference to emit. It returns how many
// live rows it read; progress, if not nil, is called with that number
// every compareProgressRows rows.
func mergeRows(t *projTable, live, rebuilt RowCursor, emit func(Difference), progress func(rows int)) (int, error) {
	cols := t.compared()
	nk := len(t.key)
	lv, err := live.Next()
	if err != nil {
		return 0, err
	}
	rv, err := rebuilt.Next()
	if err != nil {
		return 0, err
	}
	key := func(v []string) string { return strings.Join(v[:nk], "/") }
	nlive := 0
	for lv != nil || rv != nil {
		if progress != nil && nlive > 0 && nlive%compareProgressRows == 0 {
			progress(nlive)
		}
		c := 0
		switch {
		case lv == nil:
			c = 1
		case rv == nil:
			c = -1
		default:
			c = t.compareKeys(lv, rv)
		}
		switch {
		case c < 0: // stored, not in the log
			emit(Difference{Table: t.name, Key: key(lv), Entry: -1, side: -1, What: fmt.Sprintf("%s %s is stored, but no log entry records it", t.name, key(lv))})
			nlive++
			if lv, err = live.Next(); err != nil {
				return nlive, err
			}
		case c > 0: // in the log, not stored
			idx, _ := strconv.ParseInt(rv[len(cols)], 10, 64)
			emit(Difference{Table: t.name, Key: key(rv), Entry: idx, side: 1, What: fmt.Sprintf("records %s %s, which is not stored", t.name, key(rv))})
			if rv, err = rebuilt.Next(); err != nil {
				return nlive, err
			}
		default:
			nlive++
			idx, _ := strconv.ParseInt(rv[len(cols)], 10, 64)
			withPersonal := rv[len(cols)+1] != "0"
			for i := nk; i < len(cols); i++ {
				if cols[i].class == personal && !withPersonal {
					continue
				}
				if lv[i] != rv[i] {
					emit(Difference{Table: t.name, Key: key(lv), Columns: []string{cols[i].name}, Entry: idx, stored: []string{lv[i]}, logged: []string{rv[i]},
						What: fmt.Sprintf("%s %s: %s is %s, but the log says %s (this entry last set it)", t.name, key(lv), cols[i].name, show(lv[i]), show(rv[i]))})
				}
			}
			if lv, err = live.Next(); err != nil {
				return nlive, err
			}
			if rv, err = rebuilt.Next(); err != nil {
				return nlive, err
			}
		}
	}
	return nlive, nil
}

// RebuildInto writes a fresh database at dsn whose state is the projection
// of db's log: the log, its checkpoints and personal parts are copied; every
// projected row is rebuilt from the entries; operational data (credentials,
// sealed keys, caches, evidence kept beside the facts, erased rows'
// personal columns) is copied from db. It is the recovery after state rows
// were edited behind the log's back: the log wins. dsn must name an empty
// database, or a SQLite file that does not exist yet: that file is
// written as a temporary file beside it and put in its place only when the
// rebuild succeeded (a failed one removes it), so a failed rebuild leaves
// nothing at dsn. Returns EINVALID if the database is not empty, the file
// exists, or an entry cannot be projected.
func (db *DB) RebuildInto(ctx context.Context, dsn string, progress func(phase string, done, total int64)) error {
	engine, target, err := ParseDSN(dsn)
	if err != nil {
		return err
	}
	if engine != SQLite {
		return db.rebuildInto(ctx, dsn, progress)
	}
	return writeSQLiteWhole(target, func(tmp string) error { return db.rebuildInto(ctx, tmp, progress) })
}

// writeSQLiteWhole has write build a SQLite database in a temporary file
// beside path, and links it at path once write succeeded and the file is
// closed, refusing a path that exists (then or meanwhile); the temporary
// file is removed in every case.
func writeSQLiteWhole(path string, write func(tmp string) error) (err error) {
	if _, err := os.Lstat(path); err == nil {
		return healthcode.Errorf(healthcode.EINVALID, "%s exists: rebuild into a new file", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".rebuild-*")
	if err != nil {
		return fmt.Errorf("rebuild into %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		for _, x := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			if rerr := os.Remove(x); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if err := f.Close(); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return err
	}
	// Link, not rename: it fails if path has appeared meanwhile.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return healthcode.Errorf(healthcode.EINVALID, "%s exists: rebuild into a new file", path)
		}
		return fmt.Errorf("rebuild into %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// rebuildInto is RebuildInto writing into dsn itself.
func (db *DB) rebuildInto(ctx context.Context, dsn string, progress func(phase string, done, total int64)) (err error) {
	dst, err := openBare(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", dsn, err)
	}
	defer func() {
		if cerr := dst.closeDBs(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close %s: %w", dst.dsn, cerr))
		}
	}()
	var n int64
	if err := dst.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_entries").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return healthcode.Errorf(healthcode.EINVALID, "%s already holds a log of %d entries: rebuild into an empty database", dsn, n)
	}
	phase := func(name string) func(done, total int64) {
		return func(done, total int64) {
			if progress != nil {
				progress(name, done, total)
			}
		}
	}
	if dst.dialect.name() == Postgres {
		return db.rebuildPostgres(ctx, dst, phase)
	}
	for _, t := range rebuildLogTables {
		if err := copyTable(ctx, db, dst, t, phase("copy "+t)); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	if err := db.projectInto(ctx, dst, phase); err != nil {
		return err
	}
	for _, t := range rebuildCopiedTables {
		if err := copyTable(ctx, db, dst, t, phase("copy "+t)); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	if _, err := dst.wdb.ExecContext(ctx, "DROP TABLE projection_last"); err != nil {
		return err
	}
	// Everything into the file itself before it is closed and linked.
	if _, err := dst.wdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dsn, err)
	}
	return nil
}

// The tables a rebuild copies from the database whose log it rebuilds:
// the log's own, and (after the projection, which they refer to) the
// operational tables it keeps.
var (
	rebuildLogTables    = []string{"meta", "log_entries", "log_hashes", "log_checkpoints", "log_personal", "log_subjects", "log_head"}
	rebuildCopiedTables = []string{"accounts", "trust_state", "code_schedule", "source_rates"}
)

// projectInto writes the projection of db's log into target's state
// tables, with the rows' operational columns copied from db, and
// code_heads.
func (db *DB) projectInto(ctx context.Context, target *DB, phase func(string) func(done, total int64)) error {
	if failed, err := db.projectLog(ctx, target, phase("project")); err != nil {
		if failed >= 0 {
			return healthcode.Errorf(healthcode.EINVALID, "entry %d cannot be projected: %v", failed, err)
		}
		return err
	}
	// The rebuilt codes are the log's: their entries are the latest
	// code.changed of each resident.
	if _, err := target.wdb.ExecContext(ctx, "INSERT INTO code_heads (resident, log_index) SELECT resident, log_index FROM codes"); err != nil {
		return fmt.Errorf("code heads: %w", err)
	}
	// The evidence kept beside each fact may only be erased, never changed,
	// by a trigger; copying it into the rebuilt row sets it once.
	restore, err := target.suspendEvidenceTrigger(ctx)
	if err != nil {
		return err
	}
	for i := range projection {
		if err := copyOperational(ctx, db, target, &projection[i]); err != nil {
			return errors.Join(fmt.Errorf("copy operational columns of %s: %w", projection[i].name, err), restore())
		}
	}
	return restore()
}

// rebuildPostgres is RebuildInto a PostgreSQL database dst, where every
// statement is a round trip: the projection is written into a scratch
// SQLite database first, then every table goes to dst with one COPY, all
// in one transaction, so that a rebuild that fails leaves dst without a
// log (and may be run again).
func (db *DB) rebuildPostgres(ctx context.Context, dst *DB, phase func(string) func(done, total int64)) error {
	scratch, cleanup, err := openScratch(ctx, db.logger)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := db.projectInto(ctx, scratch, phase); err != nil {
		return err
	}
	type copied struct {
		from  *DB
		table string
	}
	var tables []copied
	for _, t := range rebuildLogTables {
		tables = append(tables, copied{db, t})
	}
	// In the projection's order: a table's rows after those they refer to.
	for i := range projection {
		tables = append(tables, copied{scratch, projection[i].name})
	}
	tables = append(tables, copied{scratch, "code_heads"})
	for _, t := range rebuildCopiedTables {
		tables = append(tables, copied{db, t})
	}
	conn, err := dst.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("rebuild into %s: the connection is a %T, not pgx's", dst.dsn, dc)
		}
		tx, err := c.Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }() // after Commit, a no-op; else the error is the one to report
		for _, t := range tables {
			if err := copyIn(ctx, t.from, dst, tx, t.table, phase("copy "+t.table)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
		}
		if _, err := tx.Exec(ctx, "DROP TABLE projection_last"); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	return errors.Join(err, conn.Close())
}

// tableColumns lists a table's columns, as the database has them.
func tableColumns(ctx context.Context, db *DB, table string) ([]string, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}

// copyRows reads query's rows (n columns) from src and, in one transaction
// of dst, hands each row's values to the function setup returns. Statements
// setup prepares on tx close with it.
func copyRows(ctx context.Context, src, dst *DB, query string, n int, setup func(tx *sql.Tx) (func(vals []any) error, error)) error {
	rows, err := src.db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	tx, err := dst.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	each, err := setup(tx)
	if err != nil {
		return err
	}
	for rows.Next() {
		vals, err := scanAny(rows, n)
		if err != nil {
			return err
		}
		if err := each(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// copyTable copies every row of table from src to dst, a SQLite database,
// with one prepared INSERT per row (in process, no round trip).
func copyTable(ctx context.Context, src, dst *DB, table string, progress func(done, total int64)) error {
	cols, err := tableColumns(ctx, src, table)
	if err != nil {
		return err
	}
	list := strings.Join(cols, ", ")
	return copyRows(ctx, src, dst, "SELECT "+list+" FROM "+table, len(cols), func(tx *sql.Tx) (func([]any) error, error) {
		stmt, err := tx.PrepareContext(ctx, dst.dialect.rebind("INSERT INTO "+table+" ("+list+") VALUES ("+placeholders(len(cols))+")"))
		if err != nil {
			return nil, err
		}
		var done int64
		return func(vals []any) error {
			if _, err := stmt.ExecContext(ctx, vals...); err != nil {
				return err
			}
			if done++; done%copyProgressRows == 0 && progress != nil {
				progress(done, -1)
			}
			return nil
		}, nil
	})
}

// copyProgressRows is how often a copy reports its progress, in rows.
const copyProgressRows = 100000

// copyIn copies every row of table from src into dst, a PostgreSQL
// database, in one COPY in tx (dst's). Each value is converted to the
// type of its column in dst where the engines differ: SQLite gives a
// value by what it holds, not by the column's declared type.
func copyIn(ctx context.Context, src, dst *DB, tx pgx.Tx, table string, progress func(done, total int64)) error {
	cols, err := tableColumns(ctx, src, table)
	if err != nil {
		return err
	}
	types, err := pgColumnTypes(ctx, dst, table)
	if err != nil {
		return err
	}
	conv := make([]func(any) (any, error), len(cols))
	for i, c := range cols {
		t, ok := types[c]
		if !ok {
			return fmt.Errorf("%s.%s is not a column of the target", table, c)
		}
		conv[i] = pgConvert(t.dataType, t.notNull)
	}
	rows, err := src.db.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+table)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }() // read only; rows.Err is checked
	var done int64
	next := func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		vals, err := scanAny(rows, len(cols))
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			if vals[i], err = conv[i](v); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", table, cols[i], err)
			}
		}
		if done++; done%copyProgressRows == 0 && progress != nil {
			progress(done, -1)
		}
		return vals, nil
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(next))
	return err
}

// pgColumn is a column's type in a PostgreSQL database.
type pgColumn struct {
	dataType string
	notNull  bool
}

// pgColumnTypes are the types of table's columns in a PostgreSQL
// database, by column.
func pgColumnTypes(ctx context.Context, db *DB, table string) (map[string]pgColumn, error) {
	out := map[string]pgColumn{}
	rows, err := db.db.QueryContext(ctx, "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", table)
	err = scanRows(rows, err, func(rows *sql.Rows) error {
		var c, t, nullable string
		if err := rows.Scan(&c, &t, &nullable); err != nil {
			return err
		}
		out[c] = pgColumn{dataType: t, notNull: nullable == "NO"}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return out, nil
}

// pgConvert converts a value read from either engine to what COPY
// encodes for a PostgreSQL column of type t (the schema's: bigint,
// integer, text, bytea). NULL stays NULL, except in a NOT NULL column of
// text or bytea: SQLite's driver reads an empty BLOB as NULL or as a nil
// []byte (which pgx writes as NULL), and a NULL could not be stored there. A value that does not fit the column is an
// error.
func pgConvert(t string, notNull bool) func(any) (any, error) {
	conv := pgConvertValue(t)
	if !notNull {
		return conv
	}
	var empty any
	switch t {
	case "bytea":
		empty = []byte{}
	case "text":
		empty = ""
	default:
		return conv
	}
	return func(v any) (any, error) {
		if b, ok := v.([]byte); v == nil || ok && b == nil {
			return empty, nil
		}
		return conv(v)
	}
}

// pgConvertValue is pgConvert for a value that is not NULL.
func pgConvertValue(t string) func(any) (any, error) {
	switch t {
	case "bigint", "integer":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case bool:
				if x {
					return int64(1), nil
				}
				return int64(0), nil
			case string:
				return strconv.ParseInt(x, 10, 64)
			case []byte:
				return strconv.ParseInt(string(x), 10, 64)
			}
			return v, nil
		}
	case "text":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case []byte:
				return string(x), nil
			case int64:
				return strconv.FormatInt(x, 10), nil
			}
			return v, nil
		}
	case "bytea":
		return func(v any) (any, error) {
			if x, ok := v.(string); ok {
				return []byte(x), nil
			}
			return v, nil
		}
	}
	return func(v any) (any, error) { return v, nil }
}

// copyOperational copies t's operational columns from src to dst, and its
// personal columns where dst could not rebuild them (erased parts).
func copyOperational(ctx context.Context, src, dst *DB, t *projTable) error {
	var opCols, persCols []string
	for _, c := range t.cols {
		switch c.class {
		case operational:
			opCols = append(opCols, c.name)
		case personal:
			persCols = append(persCols, c.name)
		}
	}
	if len(opCols)+len(persCols) == 0 {
		return nil
	}
	update := func(tx *sql.Tx, cols []string, cond string) (*sql.Stmt, error) {
		if len(cols) == 0 {
			return nil, nil
		}
		set := make([]string, len(cols))
		for i, c := range cols {
			// An empty BLOB scans as nil: keep the rebuilt (empty) value.
			set[i] = c + " = COALESCE(?, " + c + ")"
		}
		return tx.PrepareContext(ctx, dst.dialect.rebind("UPDATE "+t.name+" SET "+strings.Join(set, ", ")+" WHERE "+t.keyCond("=")+cond))
	}
	nk, no := len(t.key), len(opCols)
	all := append(append(append([]string(nil), t.key...), opCols...), persCols...)
	return copyRows(ctx, src, dst, "SELECT "+strings.Join(all, ", ")+" FROM "+t.name, len(all), func(tx *sql.Tx) (func([]any) error, error) {
		opStmt, err := update(tx, opCols, "")
		if err != nil {
			return nil, err
		}
		persStmt, err := update(tx, persCols, " AND EXISTS (SELECT 1 FROM projection_last l WHERE l.tbl = '"+t.name+"' AND l.personal = 0 AND l.row_key = "+t.keySQL("")+")")
		if err != nil {
			return nil, err
		}
		return func(vals []any) error {
			keys := vals[:nk]
			if opStmt != nil {
				if _, err := opStmt.ExecContext(ctx, append(append([]any(nil), vals[nk:nk+no]...), keys...)...); err != nil {
					return err
				}
			}
			if persStmt != nil {
				if _, err := persStmt.ExecContext(ctx, append(append([]any(nil), vals[nk+no:]...), keys...)...); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
}

// suspendEvidenceTrigger lifts the facts' evidence trigger until restore.
func (db *DB) suspendEvidenceTrigger(ctx context.Context) (restore func() error, err error) {
	if db.dialect.name() == Postgres {
		if _, err := db.wdb.ExecContext(ctx, "ALTER TABLE facts DISABLE TRIGGER USER"); err != nil {
			return nil, err
		}
		return func() error {
			_, err := db.wdb.ExecContext(ctx, "ALTER TABLE facts ENABLE TRIGGER USER")
			return err
		}, nil
	}
	var def string
	if err := db.wdb.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'facts_evidence_erase_only'").Scan(&def); err != nil {
		return nil, fmt.Errorf("read the evidence trigger: %w", err)
	}
	if _, err := db.wdb.ExecContext(ctx, "DROP TRIGGER facts_evidence_erase_only"); err != nil {
		return nil, err
	}
	return func() error {
		_, err := db.wdb.ExecContext(ctx, def)
		return err
	}, nil
}
