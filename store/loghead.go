package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// initLog loads (or, on a new database, generates) the checkpoint signing
// key, makes sure the log head exists with a signed checkpoint of the empty
// tree, and starts the committer.
func (db *DB) initLog(ctx context.Context) error {
	skey, vkey, err := db.logKeys(ctx)
	if err != nil {
		return err
	}
	signer, err := db.logSigner(skey)
	if err != nil {
		return fmt.Errorf("log signer key: %w", err)
	}
	if db.origin == "" { // not configured: the database's own
		db.origin = signer.Name()
	}
	if signer.Name() != db.origin {
		return healthcode.Errorf(healthcode.EINVALID, "the log of %s was created with origin %q, not %q", db.dsn, signer.Name(), db.origin)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("log verifier key: %w", err)
	}
	db.log = &logState{
		reqs:     make(chan *request, maxBatch),
		stopped:  make(chan struct{}),
		signer:   signer,
		verifier: verifier,
		vkey:     vkey,
		cache:    make(map[int64]sumtlog.Hash),
		lastSize: -1,
		stmts:    make(map[string]*sql.Stmt),
		queries:  make(map[insertShape]string),
	}

	var n int
	if err := db.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_head").Scan(&n); err != nil {
		return fmt.Errorf("read log head: %w", err)
	}
	if n == 0 {
		empty, err := sumtlog.TreeHash(0, sumtlog.HashReaderFunc(func([]int64) ([]sumtlog.Hash, error) { return nil, nil }))
		if err != nil {
			return err
		}
		signed, err := tlog.SignCheckpoint(signer, db.origin, 0, empty)
		if err != nil {
			return err
		}
		_, err = db.wdb.ExecContext(ctx, db.dialect.rebind(`INSERT INTO log_head (id, size, root, checkpoint) VALUES (1, 0, ?, ?)
			ON CONFLICT (id) DO NOTHING`), empty[:], signed)
		if err != nil {
			return fmt.Errorf("create log head: %w", err)
		}
	}
	db.log.wg.Add(1)
	go db.committer()
	db.log.wg.Add(1)
	if db.dialect.name() == SQLite {
		go db.background(checkpointInterval, db.checkpointer())
	} else {
		go db.background(time.Second, db.analyzer())
	}
	return nil
}

// background calls f every interval until the store closes.
func (db *DB) background(interval time.Duration, f func()) {
	defer db.log.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-db.closed:
			return
		case <-t.C:
			f()
		}
	}
}

// analyzeEvery is how many log entries this process appends between two
// looks at PostgreSQL's statistics.
const analyzeEvery = 1000

// analyzer keeps PostgreSQL's planner statistics current while this
// process writes, as autovacuum would (see postgresDialect.analyze): each
// second, when at least analyzeEvery entries have been appended since it
// last looked, it analyzes the tables that changed by a tenth.
func (db *DB) analyzer() func() {
	var seen int64
	return func() {
		n := db.log.entries.Load()
		if n-seen < analyzeEvery {
			return
		}
		seen = n
		// Close cancels a running ANALYZE rather than wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		go func() {
			select {
			case <-db.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := db.dialect.analyze(ctx, db.db); err != nil && ctx.Err() == nil {
			db.logger.Warn("refreshing planner statistics", "err", err)
		}
	}
}

// checkpointInterval is how often the checkpointer copies committed WAL
// pages into the SQLite database file.
const checkpointInterval = 250 * time.Millisecond

// checkpointer runs SQLite's WAL checkpoints beside the committer rather
// than inside it (the connections' automatic checkpoints are off, see
// Open): a passive checkpoint waits for no reader or writer, so commits go
// on while the pages they wrote earlier are copied.
func (db *DB) checkpointer() func() {
	var done int64
	return func() {
		n := db.log.commits.Load()
		if n == done {
			return
		}
		if _, err := db.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			db.logger.Warn("WAL checkpoint", "err", err)
			return
		}
		done = n
	}
}

// logKeys returns the log's signer and verifier keys, generating and
// storing a pair on a new database. Concurrent first starts agree on the
// first pair stored: both rows are inserted in one transaction.
func (db *DB) logKeys(ctx context.Context) (skey, vkey string, err error) {
	read := func() error {
		rows, err := db.db.QueryContext(ctx, "SELECT key, value FROM meta WHERE key IN ('log_signer_key', 'log_verifier_key')")
		if err != nil {
			return fmt.Errorf("read log keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			if k == "log_signer_key" {
				skey = v
			} else {
				vkey = v
			}
		}
		return rows.Err()
	}
	if err := read(); err != nil {
		return "", "", err
	}
	if skey != "" && vkey != "" {
		return skey, vkey, nil
	}
	if skey != "" || vkey != "" {
		return "", "", healthcode.Errorf(healthcode.EINVALID, "database %s has only half of the log key pair", db.dsn)
	}
	origin := db.origin
	if origin == "" {
		origin = db.newOrigin
	}
	s, v, err := tlog.GenerateKey(db.rand, origin)
	if err != nil {
		return "", "", err
	}
	if db.secret != nil {
		if s, err = sealSignerKey(db.secret, s, db.rand); err != nil {
			return "", "", err
		}
	}
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return "", "", db.describeOpenError(err)
	}
	defer tx.Rollback()
	for _, kv := range [][2]string{{"log_signer_key", s}, {"log_verifier_key", v}} {
		if _, err := tx.ExecContext(ctx, db.dialect.rebind("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"), kv[0], kv[1]); err != nil {
			return "", "", fmt.Errorf("store log keys: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", "", fmt.Errorf("store log keys: %w", err)
	}
	skey, vkey = "", ""
	if err := read(); err != nil {
		return "", "", err
	}
	return skey, vkey, nil
}

// LogVerifierKey returns the log's verifier key in note format
// (name+hash+base64), for distribution to auditors and monitors.
func (db *DB) LogVerifierKey() string { return db.log.vkey }

// LogOrigin returns the checkpoint origin line.
func (db *DB) LogOrigin() string { return db.origin }

// LogCheckpoint returns the latest signed checkpoint.
func (db *DB) LogCheckpoint(ctx context.Context) ([]byte, error) {
	var cp []byte
	if err := db.db.QueryRowContext(ctx, "SELECT checkpoint FROM log_head WHERE id = 1").Scan(&cp); err != nil {
		if unreachable(err) {
			// The database is restarting or cannot be reached: serve
			// the newest checkpoint this process read, which was
			// committed (it is behind, never ahead, of the log), so
			// that monitors and clients do not see the log vanish.
			if last := db.log.lastCheckpoint.Load(); last != nil {
				return last.signed, nil
			}
		}
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	db.log.rememberCheckpoint(cp)
	return cp, nil
}

// readCheckpoint is a checkpoint LogCheckpoint read, with its tree size.
type readCheckpoint struct {
	size   int64
	signed []byte
}

// rememberCheckpoint keeps signed as the newest checkpoint read, unless a
// larger one was read already: concurrent readers may finish in any order,
// and what LogCheckpoint serves while the database is down must never go
// back.
func (l *logState) rememberCheckpoint(signed []byte) {
	// The tree size is the note's second line (c2sp.org/tlog-checkpoint).
	lines := strings.SplitN(string(signed), "\n", 3)
	if len(lines) < 3 {
		return
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return
	}
	next := &readCheckpoint{size: size, signed: signed}
	for {
		last := l.lastCheckpoint.Load()
		if last != nil && last.size >= size {
			return
		}
		if l.lastCheckpoint.CompareAndSwap(last, next) {
			return
		}
	}
}

// ReadLeaves returns the encoded entries [start, end).
func (db *DB) ReadLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind("SELECT idx, data FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx"), start, end)
	if err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, 0, end-start)
	for rows.Next() {
		var idx int64
		var data []byte
		if err := rows.Scan(&idx, &data); err != nil {
			return nil, err
		}
		if idx != start+int64(len(out)) {
			return nil, fmt.Errorf("log entry %d is missing", start+int64(len(out)))
		}
		out = append(out, data)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if int64(len(out)) != end-start {
		return nil, fmt.Errorf("log entry %d is missing", start+int64(len(out)))
	}
	return out, nil
}

// ReadHashes returns stored hashes by stored-hash index, for tiles and
// proofs.
func (db *DB) ReadHashes(ctx context.Context, indexes []int64) ([]sumtlog.Hash, error) {
	got, err := readHashes(ctx, db, db.db, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]sumtlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := got[x]
		if !ok {
			return nil, fmt.Errorf("stored hash %d is missing", x)
		}
		out[i] = h
	}
	return out, nil
}

// metaValue returns the meta value under key, storing gen()'s value first
// if there is none. Concurrent first starts agree on the first value stored.
func (db *DB) metaValue(ctx context.Context, key string, gen func() (string, error)) (string, error) {
	var v string
	q := db.dialect.rebind("SELECT value FROM meta WHERE key = ?")
	if err := db.db.QueryRowContext(ctx, q, key).Scan(&v); err == nil {
		return v, nil
	}
	nv, err := gen()
	if err != nil {
		return "", err
	}
	if _, err := db.wdb.ExecContext(ctx, db.dialect.rebind("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"), key, nv); err != nil {
		return "", fmt.Errorf("store %s: %w", key, err)
	}
	if err := db.db.QueryRowContext(ctx, q, key).Scan(&v); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}
