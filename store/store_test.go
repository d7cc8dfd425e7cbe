package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

var system = healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"})

func mustOpen(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// quiet discards the store's logs (applied migrations, job progress).
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var testTree = []healthcode.Jurisdiction{
	{Code: "410000", Name: "中原省", Level: healthcode.Province},
	{Code: "410100", Name: "郑州市", Level: healthcode.City, Parent: "410000"},
	{Code: "410105", Name: "金水区", Level: healthcode.County, Parent: "410100"},
	{Code: "410105001", Name: "经八路街道", Level: healthcode.Street, Parent: "410105"},
	{Code: "410105001001", Name: "农科路社区", Level: healthcode.Community, Parent: "410105001"},
	{Code: "410105001002", Name: "文化路社区", Level: healthcode.Community, Parent: "410105001"},
}

func mustSeedTree(t testing.TB, db *store.DB) {
	t.Helper()
	if err := db.CreateJurisdictions(system, testTree); err != nil {
		t.Fatalf("create jurisdictions: %v", err)
	}
}

func resident(i int, community string) healthcode.Resident {
	h := sha256.Sum256([]byte(fmt.Sprint("id", i)))
	return healthcode.Resident{ID: fmt.Sprintf("r_test%06d", i), IDHash: h[:], Name: "张三", Phone: "13800000000", Jurisdiction: community}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		in, engine, target string
		wantErr            bool
	}{
		{"", store.SQLite, "healthcode.db", false},
		{"x.db", store.SQLite, "x.db", false},
		{"sqlite:/tmp/x.db", store.SQLite, "/tmp/x.db", false},
		{"sqlite:", "", "", true},
		{"postgres://u@h:5432/db", store.Postgres, "postgres://u@h:5432/db", false},
		{"postgresql://u@h/db", store.Postgres, "postgresql://u@h/db", false},
		{"postgres://u@h:5432", "", "", true},
		{"mysql://u@h/db", "", "", true},
	}
	for _, tt := range tests {
		engine, target, err := store.ParseDSN(tt.in)
		if (err != nil) != tt.wantErr || engine != tt.engine || target != tt.target {
			t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q, error %v", tt.in, engine, target, err, tt.engine, tt.target, tt.wantErr)
		}
	}
}

func TestMigrationsMatch(t *testing.T) {
	names := func(dir string) []string {
		ents, err := os.ReadDir(filepath.Join("migrations", dir))
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, e := range ents {
			num, _, _ := strings.Cut(e.Name(), "_")
			ns = append(ns, num)
		}
		return ns
	}
	if diff := cmp.Diff(names("sqlite"), names("postgres")); diff != "" {
		t.Errorf("migration numbers differ between dialects (-sqlite +postgres):\n%s", diff)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("this is not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dsn, want string
	}{
		{"corrupt", corrupt, "not a healthcode database or is corrupt"},
		{"missing dir", filepath.Join(dir, "no/such/dir/x.db"), "does not exist"},
		{"bad scheme", "mysql://x/y", "unsupported database URL"},
		{"unreachable postgres", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2", "cannot reach database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Open(context.Background(), tt.dsn, store.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) error = %v, want it to contain %q", tt.dsn, err, tt.want)
			}
		})
	}
	if os.Getuid() != 0 { // root ignores file modes
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(context.Background(), filepath.Join(ro, "x.db"), store.Options{})
		if err == nil {
			t.Errorf("Open in a read-only directory succeeded")
		}
	}
	_ = fs.ModePerm
}

func TestResidents(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		mustSeedTree(t, db)
		rs := []healthcode.Resident{resident(1, "410105001001"), resident(2, "410105001002")}
		if err := db.CreateResidents(system, rs); err != nil {
			t.Fatal(err)
		}
		// The same id again: conflict, and nothing of the batch stored.
		dup := []healthcode.Resident{resident(3, "410105001001"), resident(1, "410105001001")}
		if err := db.CreateResidents(system, dup); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
			t.Fatalf("duplicate resident: got %v, want conflict", err)
		}
		if n, _ := db.CountResidents(context.Background()); n != 2 {
			t.Errorf("after a failed batch: %d residents, want 2", n)
		}
		// An unknown jurisdiction is refused.
		bad := resident(4, "410105001009")
		if err := db.CreateResidents(system, []healthcode.Resident{bad}); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("unknown jurisdiction: got %v, want invalid", err)
		}

		self := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorResident, ID: rs[0].ID})
		got, err := db.Resident(self, rs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "张三" || got.Jurisdiction != "410105001001" {
			t.Errorf("got %+v", got)
		}
		tests := []struct {
			name  string
			actor healthcode.Actor
			id    string
			want  string
		}{
			{"self", healthcode.Actor{Kind: healthcode.ActorResident, ID: rs[0].ID}, rs[0].ID, ""},
			{"other resident", healthcode.Actor{Kind: healthcode.ActorResident, ID: rs[1].ID}, rs[0].ID, healthcode.EFORBIDDEN},
			{"worker of the community", healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_w1", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"}, rs[0].ID, ""},
			{"worker of another community", healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_w2", Role: healthcode.RoleWorker, Jurisdiction: "410105001002"}, rs[0].ID, healthcode.EFORBIDDEN},
			{"city command", healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_c1", Role: healthcode.RoleCommand, Jurisdiction: "410100"}, rs[0].ID, ""},
			{"operator", healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_op", Role: healthcode.RoleOperator, Jurisdiction: "410000"}, rs[0].ID, healthcode.EFORBIDDEN},
			{"public", healthcode.Actor{}, rs[0].ID, healthcode.EUNAUTH},
			{"unknown", healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_x"}, "r_nobody", healthcode.ENOTFOUND},
		}
		for _, tt := range tests {
			_, err := db.Resident(healthcode.NewContext(context.Background(), tt.actor), tt.id)
			if got := healthcode.ErrorCode(err); got != tt.want {
				t.Errorf("%s: error code %q (%v), want %q", tt.name, got, err, tt.want)
			}
		}
	})
}

func TestLoginSessions(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		mustSeedTree(t, db)
		o := healthcode.Official{ID: "o_cmd1", Name: "李四", Role: healthcode.RoleCommand, Jurisdiction: "410100"}
		if err := db.CreateOfficial(system, o, "cmd-1", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateOfficial(system, o, "cmd-2", "correct horse battery"); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
			t.Errorf("duplicate official: %v", err)
		}
		if err := db.CreateOfficial(system, healthcode.Official{ID: "o_x", Name: "x", Role: healthcode.RoleTracer, Jurisdiction: "410100"}, "cmd-1", "correct horse battery"); healthcode.ErrorCode(err) != healthcode.ECONFLICT {
			t.Errorf("duplicate login: %v", err)
		}
		for _, pw := range []string{"wrong password!", ""} {
			if _, err := db.Login(context.Background(), "cmd-1", pw); healthcode.ErrorCode(err) != healthcode.EUNAUTH {
				t.Errorf("login with %q: %v", pw, err)
			}
		}
		if _, err := db.Login(context.Background(), "nobody", "correct horse battery"); healthcode.ErrorCode(err) != healthcode.EUNAUTH {
			t.Errorf("unknown login: %v", err)
		}
		s, err := db.Login(context.Background(), "cmd-1", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		a, err := db.Authenticate(context.Background(), s.Token)
		if err != nil || a.ID != "o_cmd1" || a.Role != healthcode.RoleCommand {
			t.Fatalf("authenticate: %+v, %v", a, err)
		}
		now = now.Add(store.SessionIdle + time.Second)
		if _, err := db.Authenticate(context.Background(), s.Token); healthcode.ErrorCode(err) != healthcode.EUNAUTH {
			t.Errorf("idle session still valid: %v", err)
		}
	})
}

// TestLogAppendsAndCheckpoints checks that writes produce log entries with
// contiguous indices and signed checkpoints consistent with each other.
func TestLogConcurrentWriters(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db := mustOpen(t, dsn)
		mustSeedTree(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					errs <- db.CreateResidents(system, []healthcode.Resident{resident(g*1000+i, "410105001001")})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		verifier, err := note.NewVerifier(db.LogVerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		cp, err := db.LogCheckpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c, err := tlog.OpenCheckpoint(cp, verifier, db.LogOrigin())
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(testTree) + 400); c.Size != want {
			t.Errorf("checkpoint size %d, want %d", c.Size, want)
		}
		leaves, err := db.ReadLeaves(context.Background(), 0, c.Size)
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for i := range leaves {
			e, _, err := db.OpenedEntry(context.Background(), int64(i))
			if err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
			if e.Index != int64(i) {
				t.Fatalf("entry %d has index %d", i, e.Index)
			}
			if e.Subject != "" {
				subjects = append(subjects, e.Subject)
			}
		}
		sort.Strings(subjects)
		for i := 1; i < len(subjects); i++ {
			if subjects[i] == subjects[i-1] {
				t.Fatalf("subject %s registered twice", subjects[i])
			}
		}
		if len(subjects) != 400 {
			t.Errorf("%d resident entries, want 400", len(subjects))
		}
	})
}

var _ = errors.Is

func errorsAs(err error, target **healthcode.Error) bool { return errors.As(err, target) }

// TestMigrationBelowNewest: a migration numbered below the newest one a
// database has applied (a branch's migration that landed after a later
// number did) is applied when the database is opened, not skipped because
// the schema is already "newer".
func TestMigrationBelowNewest(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		// As if 0032 (designation_holds) had not been applied while a
		// later one had.
		raw, _ := openRaw(t, dsn)
		for _, q := range []string{"DROP TABLE designation_holds", "DELETE FROM schema_migrations WHERE version = 32"} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := raw.Close(); err != nil {
			t.Fatal(err)
		}
		mustOpen(t, dsn)
		raw, _ = openRaw(t, dsn)
		defer raw.Close()
		var n int
		if err := raw.QueryRow("SELECT COUNT(*) FROM designation_holds").Scan(&n); err != nil {
			t.Errorf("after reopening, the skipped migration's table is missing: %v", err)
		}
		if err := raw.QueryRow("SELECT COUNT(*) FROM schema_migrations WHERE version = 32").Scan(&n); err != nil || n != 1 {
			t.Errorf("migration 32 recorded %d times (%v), want once", n, err)
		}
	})
}
