package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/verify"
)

// mustProjWorld is a world with a row in (nearly) every projected table:
// keys rotated, a case, contacts approved and rejected, an appeal filed by
// a worker with an attachment, consented and granted, a re-raise held for
// the parent command, a logged read.
func mustProjWorld(t *testing.T, dsn string) *world {
	t.Helper()
	w := mustAccWorld(t, dsn, store.Limits{}, 6)
	if err := w.db.EnsureKeys(keysSystem, keySecret, "cn-41"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.RotateKey(keysSystem, keySecret); err != nil {
		t.Fatal(err)
	}
	r0, r1, r2 := "r_test000000", "r_test000001", "r_test000002"
	mustCase(t, w, r0)
	day := w.now.Add(-24 * time.Hour)
	res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-1", r1, "C-1", day, "flow report 7"), w.contact("c-r", r2, "C-1", day, "flow report 6")})
	if err != nil {
		t.Fatal(err)
	}
	key := res.Facts[0].Key
	if _, err := w.db.DecideFact(as(cmdCounty), key, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.DecideFact(as(cmdCounty), res.Facts[1].Key, false, "not a contact"); err != nil {
		t.Fatal(err)
	}
	a, err := w.db.FileAppeal(as(worker), healthcode.AppealRequest{Resident: r1, FactKeys: []string{key}, Statement: "我没有去过那里", ConsentRef: "consent form 12",
		Attachments: []healthcode.Attachment{{Name: "ticket.jpg", MediaType: "image/jpeg", Data: []byte("jpeg bytes")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.DecideAppeal(as(cmdProvince1), a.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour)
	if _, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-2", r1, "C-1", day.Add(time.Hour), "flow report 8")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.db.History(as(cmdCounty), r1, 1); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestProjectionClassified fails when a table or column of the schema is
// neither a projected column nor operational (with a reason), or when the
// classification names a column the schema does not have.
func TestProjectionClassified(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		raw, _ := rawDB(t, db, dsn)
		engine, _, _ := store.ParseDSN(dsn)
		q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
		if engine == store.Postgres {
			q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
		}
		tables := queryStrings(t, raw, q)
		classified := map[string]map[string]bool{}
		for _, c := range store.ProjectedColumns() {
			if classified[c.Table] == nil {
				classified[c.Table] = map[string]bool{}
			}
			classified[c.Table][c.Column] = true
		}
		for _, tb := range tables {
			if reason, ok := store.OperationalTables()[tb]; ok {
				if reason == "" {
					t.Errorf("operational table %s has no reason", tb)
				}
				continue
			}
			cols, ok := classified[tb]
			if !ok {
				t.Errorf("table %s is neither projected nor operational: classify it in store/projection.go", tb)
				continue
			}
			rows, err := raw.Query("SELECT * FROM " + tb + " WHERE 1 = 0")
			if err != nil {
				t.Fatal(err)
			}
			have, _ := rows.Columns()
			rows.Close()
			for _, c := range have {
				if !cols[c] {
					t.Errorf("column %s.%s is not classified in store/projection.go", tb, c)
				}
			}
			for c := range cols {
				if !slices.Contains(have, c) {
					t.Errorf("store/projection.go classifies %s.%s, which the schema does not have", tb, c)
				}
			}
		}
		for tb := range classified {
			if !slices.Contains(tables, tb) {
				t.Errorf("store/projection.go names table %s, which the schema does not have", tb)
			}
		}
	})
}

func queryStrings(t *testing.T, raw *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := raw.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// problemsMention reports whether a problem names all of parts.
func problemsMention(rep *verify.Report, parts ...string) bool {
	for _, p := range rep.Problems {
		s := p.String()
		ok := true
		for _, part := range parts {
			ok = ok && strings.Contains(s, part)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestProjectionMutations is generated from the classification: for every
// projected column of every projected table it changes that column in one
// row and checks that log verify names the table, the row's key and the
// column; per table it also deletes a row and inserts a spurious one. A
// column added to the schema is covered without anyone remembering to.
func TestProjectionMutations(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		if rep := mustVerify(t, w.db); len(rep.Problems) != 0 {
			t.Fatalf("clean world has problems: %v", rep.Problems)
		}
		raw, rebind := rawDB(t, w.db, dsn)
		if engine, _, _ := store.ParseDSN(dsn); engine == store.Postgres {
			// As an insider with the database's superuser would: without
			// foreign keys (SQLite's raw connection has none either).
			raw.SetMaxOpenConns(1)
			if _, err := raw.Exec("SET session_replication_role = replica"); err != nil {
				t.Fatal(err)
			}
		}
		byTable := map[string][]store.ProjColumn{}
		var order []string
		for _, c := range store.ProjectedColumns() {
			if _, ok := byTable[c.Table]; !ok {
				order = append(order, c.Table)
			}
			byTable[c.Table] = append(byTable[c.Table], c)
		}
		for _, tb := range order {
			cols := byTable[tb]
			keys := cols[0].Key
			where := make([]string, len(keys))
			for i, k := range keys {
				where[i] = k + " = ?"
			}
			whereSQL := strings.Join(where, " AND ")
			// The first row, by key.
			rows, err := raw.Query("SELECT " + strings.Join(keys, ", ") + " FROM " + tb + " ORDER BY " + strings.Join(keys, ", ") + " LIMIT 1")
			if err != nil {
				t.Fatal(err)
			}
			keyVals := make([]any, len(keys))
			ptrs := make([]any, len(keys))
			for i := range keyVals {
				ptrs[i] = &keyVals[i]
			}
			found := rows.Next()
			if found {
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
			}
			rows.Close()
			if !found {
				t.Logf("%s: no row in the world to mutate", tb)
				continue
			}
			keyStr := make([]string, len(keyVals))
			for i, v := range keyVals {
				keyStr[i] = asString(v)
			}
			rowKey := tb + " " + strings.Join(keyStr, "/")

			for _, c := range cols {
				if c.Operational || slices.Contains(keys, c.Column) {
					continue
				}
				var orig any
				if err := raw.QueryRow(rebind("SELECT "+c.Column+" FROM "+tb+" WHERE "+whereSQL), keyVals...).Scan(&orig); err != nil {
					t.Fatal(err)
				}
				changed := false
				for _, nv := range candidates(t, raw, rebind, tb, c.Column, orig) {
					if _, err := raw.Exec(rebind("UPDATE "+tb+" SET "+c.Column+" = ? WHERE "+whereSQL), append([]any{nv}, keyVals...)...); err == nil {
						changed = true
						break
					}
				}
				if !changed {
					t.Errorf("%s.%s: could not change the column for the test", tb, c.Column)
					continue
				}
				rep := mustVerify(t, w.db)
				if !problemsMention(rep, rowKey+":", " "+c.Column+" is ") {
					t.Errorf("%s.%s changed in %s: verify does not name it; problems: %v", tb, c.Column, rowKey, rep.Problems)
				}
				if _, err := raw.Exec(rebind("UPDATE "+tb+" SET "+c.Column+" = ? WHERE "+whereSQL), append([]any{orig}, keyVals...)...); err != nil {
					t.Fatal(err)
				}
			}

			// A spurious row: the first one again under another key.
			all := make([]string, len(cols))
			sel := make([]string, len(cols))
			for i, c := range cols {
				all[i] = c.Column
				sel[i] = c.Column
				if c.Column == keys[len(keys)-1] {
					if isInt(keyVals[len(keys)-1]) {
						sel[i] = c.Column + " + 1000000"
					} else {
						sel[i] = c.Column + " || '-spurious'"
					}
				}
			}
			if _, err := raw.Exec(rebind("INSERT INTO "+tb+" ("+strings.Join(all, ", ")+") SELECT "+strings.Join(sel, ", ")+" FROM "+tb+" WHERE "+whereSQL), keyVals...); err != nil {
				t.Logf("%s: no spurious row for the test: %v", tb, err)
			} else {
				rep := mustVerify(t, w.db)
				if !problemsMention(rep, tb+" ", "is stored, but no log entry records it") {
					t.Errorf("%s: a spurious row is not found; problems: %v", tb, rep.Problems)
				}
				if _, err := raw.Exec(rebind("DELETE FROM "+tb+" WHERE "+whereSQL), spuriousKey(keyVals)...); err != nil {
					t.Fatal(err)
				}
			}

			// A deleted row, saved aside and put back.
			if _, err := raw.Exec(rebind("CREATE TABLE saved_row AS SELECT * FROM "+tb+" WHERE "+whereSQL), keyVals...); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(rebind("DELETE FROM "+tb+" WHERE "+whereSQL), keyVals...); err != nil {
				t.Logf("%s: cannot delete a row for the test: %v", tb, err)
			} else {
				rep := mustVerify(t, w.db)
				if !problemsMention(rep, "records "+rowKey+", which is not stored") {
					t.Errorf("%s: a deleted row is not found; problems: %v", tb, rep.Problems)
				}
				if _, err := raw.Exec("INSERT INTO " + tb + " SELECT * FROM saved_row"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := raw.Exec("DROP TABLE saved_row"); err != nil {
				t.Fatal(err)
			}
		}
		if rep := mustVerify(t, w.db); len(rep.Problems) != 0 {
			t.Errorf("after every mutation was undone: %v", rep.Problems)
		}
	})
}

func spuriousKey(keyVals []any) []any {
	out := slices.Clone(keyVals)
	last := len(out) - 1
	if isInt(out[last]) {
		out[last] = toInt(out[last]) + 1000000
	} else {
		out[last] = asString(out[last]) + "-spurious"
	}
	return out
}

func isInt(v any) bool {
	switch v.(type) {
	case int64, int32, int:
		return true
	}
	return false
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return 0
}

func asString(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// candidates are new values for a column: another row's value (which
// keeps foreign keys valid), then one derived from the old value.
func candidates(t *testing.T, raw *sql.DB, rebind func(string) string, table, col string, orig any) []any {
	t.Helper()
	var out []any
	var other any
	if orig != nil {
		if err := raw.QueryRow(rebind("SELECT "+col+" FROM "+table+" WHERE "+col+" <> ? LIMIT 1"), orig).Scan(&other); err == nil && other != nil {
			out = append(out, other)
		}
	}
	switch x := orig.(type) {
	case int64:
		out = append(out, x+1)
	case int32:
		out = append(out, int64(x)+1)
	case []byte:
		out = append(out, append(slices.Clone(x), 'x'), string(x)+"x")
	case string:
		out = append(out, x+"x")
	case nil:
		out = append(out, "x", 1)
	case time.Time:
		out = append(out, x.Add(time.Second))
	case bool:
		out = append(out, !x)
	}
	return out
}

// TestInsiderEdits are the edits an insider with write access to the
// database made, each of which passed log verify before the projection.
func TestInsiderEdits(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		r1 := "r_test000001"
		var factKey string
		if err := raw.QueryRow(rebind("SELECT uid FROM facts WHERE subject = ? AND kind = 'contact' AND status = 'retracted'"), r1).Scan(&factKey); err != nil {
			t.Fatal(err)
		}
		var redEntry int64
		if err := raw.QueryRow(rebind("SELECT log_index FROM code_changes WHERE resident = ? AND colour = 'red' ORDER BY log_index LIMIT 1"), r1).Scan(&redEntry); err != nil {
			t.Fatal(err)
		}
		var anyChange int64
		if err := raw.QueryRow(rebind("SELECT log_index FROM code_changes WHERE resident = ? ORDER BY log_index DESC LIMIT 1"), r1).Scan(&anyChange); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, edit, undo string
			args, undoArgs   []any
			want             []string
		}{
			{"recorder changed", "UPDATE facts SET recorded_by = 'o_cmdcity2' WHERE uid = ?", "UPDATE facts SET recorded_by = 'o_tracer' WHERE uid = ?",
				[]any{factKey}, []any{factKey}, []string{"facts " + factKey + ": recorded_by is"}},
			{"approver changed", "UPDATE facts SET approved_by = 'o_cmdcity2' WHERE uid = ?", "UPDATE facts SET approved_by = 'o_cmdcounty' WHERE uid = ?",
				[]any{factKey}, []any{factKey}, []string{"facts " + factKey + ": approved_by is"}},
			{"code pointed back at an earlier red entry", "UPDATE codes SET colour = 'red', log_index = ? WHERE resident = ?", "",
				[]any{redEntry, r1}, nil, []string{"codes " + r1 + ": log_index is", "codes " + r1 + ": colour is"}},
			{"cited facts emptied", "UPDATE codes SET fact_ids = '[]' WHERE resident = 'r_test000000'", "",
				nil, nil, []string{"codes r_test000000: fact_ids is"}},
			{"history row deleted", "DELETE FROM code_changes WHERE log_index = ?", "",
				[]any{anyChange}, nil, []string{fmt.Sprintf("records code_changes %d, which is not stored", anyChange)}},
			{"retracted fact flipped to active", "UPDATE facts SET status = 'active' WHERE uid = ?", "",
				[]any{factKey}, nil, []string{"facts " + factKey + ": status is"}},
			{"negative result made positive", "UPDATE facts SET payload = replace(payload, 'confirmed', 'asymptomatic') WHERE subject = 'r_test000000' AND kind = 'case_status'", "",
				nil, nil, []string{": payload is"}},
		} {
			if _, err := raw.Exec(rebind(tc.edit), tc.args...); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			rep := mustVerify(t, w.db)
			for _, want := range tc.want {
				if !problemsMention(rep, want) {
					t.Errorf("%s: verify does not say %q; problems: %v", tc.name, want, rep.Problems)
				}
			}
			// The log wins: a rebuild undoes the edit.
			into := filepath.Join(t.TempDir(), "rebuilt.db")
			if err := w.db.RebuildInto(context.Background(), into, nil); err != nil {
				t.Fatalf("%s: rebuild: %v", tc.name, err)
			}
			rb := mustOpen(t, into)
			if rep := mustVerify(t, rb); len(rep.Problems) != 0 {
				t.Errorf("%s: the rebuilt database has problems: %v", tc.name, rep.Problems)
			}
			rb.Close()
			dsn = freshDSN(t, dsn)
			w = mustProjWorld(t, dsn)
			raw, rebind = rawDB(t, w.db, dsn)
		}
	})
}

// TestRebuild rebuilds an intact and an edited database: the rebuilt one
// verifies, serves the same codes as the untouched original, and keeps the
// operational data (logins).
func TestRebuild(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		want := codesOf(t, w.db, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		for _, q := range []string{
			"UPDATE codes SET colour = 'red', fact_ids = '[]'",
			"DELETE FROM code_changes WHERE resident = 'r_test000001'",
			"UPDATE facts SET recorded_by = 'o_cmdcity2', status = 'active'",
			"UPDATE appeals SET status = 'denied', decided_by = 'o_cmdcity2'",
			"DELETE FROM data_access",
			"UPDATE officials SET role = 'command'",
		} {
			if _, err := raw.Exec(rebind(q)); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if rep := mustVerify(t, w.db); len(rep.Problems) == 0 {
			t.Fatal("the edits are not found")
		}
		// Into either engine, from either: a PostgreSQL target is written
		// with COPY from a scratch projection, a SQLite one directly.
		for _, engine := range []string{"sqlite", "postgres"} {
			t.Run("into "+engine, func(t *testing.T) {
				into := testdb.SQLite(t)
				if engine == "postgres" {
					into = testdb.Postgres(t)
				}
				checkRebuild(t, w.db, into, want)
			})
		}
	})
}

// checkRebuild rebuilds db into the empty database into and checks the
// result: it verifies, has the codes want, keeps the logins, serves every
// code, and a second rebuild into it is refused.
func checkRebuild(t *testing.T, db *store.DB, into string, want []string) {
	t.Helper()
	var phases []string
	if err := db.RebuildInto(context.Background(), into, func(phase string, done, total int64) {
		if len(phases) == 0 || phases[len(phases)-1] != phase {
			phases = append(phases, phase)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(phases, "project") {
		t.Errorf("progress phases %v", phases)
	}
	rb := mustOpen(t, into)
	if rep := mustVerify(t, rb); len(rep.Problems) != 0 {
		t.Fatalf("rebuilt database has problems: %v", rep.Problems)
	}
	got := codesOf(t, rb, into)
	if !slices.Equal(got, want) {
		t.Errorf("rebuilt codes\n%v\nwant\n%v", got, want)
	}
	if _, err := rb.Login(context.Background(), "login-o_cmdc", "correct horse battery"); err != nil {
		t.Errorf("login on the rebuilt database: %v", err)
	}
	// It serves every code: the code routes' check against the log
	// (code_heads, rebuilt from the projected codes) passes.
	for i := range 6 {
		r := fmt.Sprintf("r_test%06d", i)
		if _, err := rb.Code(self(r), r); err != nil {
			t.Errorf("code of %s on the rebuilt database: %v", r, err)
		}
	}
	if err := db.RebuildInto(context.Background(), into, nil); healthcode.ErrorCode(err) != healthcode.EINVALID {
		t.Errorf("rebuild into a non-empty database: %v", err)
	}
}

func codesOf(t *testing.T, db *store.DB, dsn string) []string {
	t.Helper()
	raw, _ := openRaw(t, dsn)
	defer raw.Close()
	return queryStrings(t, raw, "SELECT resident || ' ' || colour || ' ' || rule || ' ' || fact_ids || ' ' || CAST(log_index AS TEXT) FROM codes ORDER BY resident")
}

// freshDSN is a new, empty database of dsn's engine.
func freshDSN(t *testing.T, dsn string) string {
	if engine, _, _ := store.ParseDSN(dsn); engine == store.Postgres {
		return testdb.Postgres(t)
	}
	return testdb.SQLite(t)
}

// TestVerifyProgress: log verify reports its progress through the whole
// run, not only while it reads the entries: the entries both checked and
// projected reach the log's size, and then every projected table's
// comparison is reported, its last report counting the rows compared.
func TestVerifyProgress(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		var entries []int64
		var total int64
		compared := map[string]int64{}
		rep, err := verify.Log(context.Background(), w.db.VerifyView(), verify.Options{Progress: func(phase string, done, tot int64) {
			if phase == verify.PhaseEntries {
				entries, total = append(entries, done), tot
				return
			}
			table, ok := strings.CutPrefix(phase, "compare ")
			if !ok {
				t.Errorf("progress in an unknown phase %q", phase)
			}
			if len(entries) == 0 || entries[len(entries)-1] != total {
				t.Errorf("%s reported before the entries were all checked and projected (%v of %d)", phase, entries, total)
			}
			compared[table] = done
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 {
			t.Fatalf("verify: %v", rep.Problems)
		}
		if len(entries) == 0 || entries[len(entries)-1] != rep.Size || total != rep.Size {
			t.Errorf("entries progress %v of %d, want it to reach the log's size %d", entries, total, rep.Size)
		}
		var rows int64
		for _, c := range store.ProjectedColumns() {
			if _, ok := compared[c.Table]; !ok {
				t.Errorf("no progress for the comparison of %s", c.Table)
				compared[c.Table] = 0
			}
		}
		for _, n := range compared {
			rows += n
		}
		if rows != int64(rep.Projected) {
			t.Errorf("the comparisons' progress counts %d rows, verify compared %d", rows, rep.Projected)
		}
	})
}

// TestRebuildIntoPostgresAtomic: a rebuild into PostgreSQL that fails part
// way (here on the last table it copies, a rate counter that is not a
// number in the SQLite source) leaves the target without a log, not with
// half of one, so that it can be run again once the cause is fixed.
func TestRebuildIntoPostgresAtomic(t *testing.T) {
	dsn := testdb.SQLite(t)
	w := mustProjWorld(t, dsn)
	want := codesOf(t, w.db, dsn)
	raw, _ := rawDB(t, w.db, dsn)
	if _, err := raw.Exec("INSERT INTO source_rates (source, hour, raised) VALUES ('s_bad', '2026-01-01T00', 'many')"); err != nil {
		t.Fatal(err)
	}
	into := testdb.Postgres(t)
	err := w.db.RebuildInto(context.Background(), into, nil)
	if err == nil || !strings.Contains(err.Error(), "source_rates.raised") {
		t.Fatalf("rebuild with a bad row: %v, want an error naming source_rates.raised", err)
	}
	target, _ := openRaw(t, into)
	defer target.Close()
	for _, table := range []string{"log_entries", "residents", "codes"} {
		if n := queryStrings(t, target, "SELECT CAST(COUNT(*) AS TEXT) FROM "+table); !slices.Equal(n, []string{"0"}) {
			t.Errorf("after the failed rebuild %s holds %v rows, want none", table, n)
		}
	}
	if _, err := raw.Exec("DELETE FROM source_rates WHERE source = 's_bad'"); err != nil {
		t.Fatal(err)
	}
	checkRebuild(t, w.db, into, want)
}

// TestRebuildFailedLeavesNoFile: a rebuild into SQLite that fails part way
// (here an entry in the middle of the log that cannot be projected, after
// the log's tables were copied and half the projection written) leaves
// neither the new file nor its temporary file, so that nobody takes half
// a database for the log's state; an existing file is refused untouched.
func TestRebuildFailedLeavesNoFile(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		raw, rebind := rawDB(t, w.db, dsn)
		dir := t.TempDir()
		into := filepath.Join(dir, "rebuilt.db")
		if err := os.WriteFile(into, []byte("someone's file"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := w.db.RebuildInto(context.Background(), into, nil); healthcode.ErrorCode(err) != healthcode.EINVALID || !strings.Contains(err.Error(), "exists") {
			t.Fatalf("rebuild into an existing file: %v, want EINVALID naming it", err)
		}
		if b, err := os.ReadFile(into); err != nil || string(b) != "someone's file" {
			t.Fatalf("the existing file: %q, %v", b, err)
		}
		if err := os.Remove(into); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(rebind("UPDATE log_entries SET data = ? WHERE idx = (SELECT MAX(idx) / 2 FROM log_entries)"), []byte("not an entry")); err != nil {
			t.Fatal(err)
		}
		// The error comes from the projection, after the log's tables were
		// copied and the entries before the bad one projected.
		err := w.db.RebuildInto(context.Background(), into, nil)
		if err == nil || !strings.Contains(err.Error(), "cannot be projected") {
			t.Fatalf("rebuild of a log with a bad entry: %v, want an error naming it", err)
		}
		if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
			t.Errorf("after the failed rebuild %s holds %v (%v), want nothing", dir, left, err)
		}
	})
}
