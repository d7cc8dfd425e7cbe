package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/tlog"
)

// A log moved to a new origin continues the same tree in a new database
// under a new key: its first entry under the new origin cites the old
// log's final checkpoint, which verifies under the old key and whose root
// is the new tree's of that size; log verify passes (old checkpoints under
// the old key, new ones under the new); the state is the same and the new
// database serves and signs; the old database is unchanged.
func TestMoveOrigin(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := mustProjWorld(t, dsn)
		want := codesOf(t, w.db, dsn)
		final, err := w.db.LogCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		oldKey, oldOrigin := w.db.LogVerifierKey(), w.db.LogOrigin()
		oldV, _ := note.NewVerifier(oldKey)
		oldCP, err := tlog.OpenCheckpoint(final, oldV, oldOrigin)
		if err != nil {
			t.Fatal(err)
		}
		into := freshDSN(t, dsn)
		const origin = "hc.example.org/cn-41/log"
		moved, err := w.db.MoveOriginInto(ctx, into, origin, nil)
		if err != nil {
			t.Fatal(err)
		}
		if moved.Index != oldCP.Size || moved.FromOrigin != oldOrigin || moved.FromKey != oldKey || moved.Origin != origin || moved.Key == oldKey {
			t.Errorf("moved %+v; old size %d, origin %s", moved, oldCP.Size, oldOrigin)
		}

		nd := mustOpen(t, into) // no origin configured: the database's own
		if nd.LogOrigin() != origin || nd.LogVerifierKey() != moved.Key {
			t.Fatalf("moved database: origin %s, key %s", nd.LogOrigin(), nd.LogVerifierKey())
		}
		newV, _ := note.NewVerifier(moved.Key)
		signed, err := nd.LogCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := tlog.OpenCheckpoint(signed, newV, origin)
		if err != nil || cp.Size != oldCP.Size+1 {
			t.Fatalf("moved checkpoint: size %d, %v", cp.Size, err)
		}
		if _, err := tlog.OpenCheckpoint(signed, oldV, oldOrigin); err == nil {
			t.Error("the moved log's checkpoint verifies under the old key")
		}
		leaves, err := nd.ReadLeaves(ctx, moved.Index, moved.Index+1)
		if err != nil {
			t.Fatal(err)
		}
		e, err := tlog.ParseEntry(leaves[0])
		if err != nil || e.Kind != tlog.KindLogContinued {
			t.Fatalf("entry %d: %v, %v", moved.Index, e, err)
		}
		var p struct {
			FromOrigin string `json:"from_origin"`
			FromKey    string `json:"from_key"`
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil || p.Checkpoint != string(final) || p.FromKey != oldKey || p.FromOrigin != oldOrigin {
			t.Errorf("log.continued cites %+v, %v; want the old final checkpoint", p, err)
		}
		// The tree is the same: the old checkpoint is a prefix of the new.
		hr := sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) { return nd.ReadHashes(ctx, idx) })
		proof, err := tlog.NewConsistencyProof(hr, cp.Size, oldCP.Size, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.Verify(oldCP.Root, cp.Root); err != nil {
			t.Errorf("the old final checkpoint is not a prefix of the moved log: %v", err)
		}
		if rep := mustVerify(t, nd); len(rep.Problems) != 0 || rep.Checkpoints < 2 {
			t.Fatalf("moved database: %d checkpoints, problems %v", rep.Checkpoints, rep.Problems)
		}
		if got := codesOf(t, nd, into); !slices.Equal(got, want) {
			t.Errorf("moved codes\n%v\nwant\n%v", got, want)
		}
		if err := nd.CreateJurisdictions(system, []healthcode.Jurisdiction{{Code: "410199", Name: "y", Level: healthcode.County, Parent: "410100"}}); err != nil {
			t.Fatalf("write to the moved database: %v", err)
		}
		if rep := mustVerify(t, nd); len(rep.Problems) != 0 {
			t.Fatalf("moved database after a write: %v", rep.Problems)
		}
		if now, _ := w.db.LogCheckpoint(ctx); string(now) != string(final) {
			t.Error("the move changed the old database")
		}

		// Bad moves leave nothing behind.
		if _, err := w.db.MoveOriginInto(ctx, freshDSN(t, dsn), oldOrigin, nil); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("move to the same origin: %v", err)
		}
		if _, err := w.db.MoveOriginInto(ctx, freshDSN(t, dsn), "bad origin+x", nil); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("move to a bad origin: %v", err)
		}
		if _, err := w.db.MoveOriginInto(ctx, into, "hc.example.org/other/log", nil); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("move into a database that holds a log: %v", err)
		}
	})
}

// With the key secret, the moved log's new key is sealed: a copy of the
// new database without the secret cannot sign either. Without the
// secret, a log whose key is sealed cannot be moved.
func TestMoveOriginSealed(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openWithSecret(t, dsn, keySecret)
		defer db.Close()
		if err := db.CreateJurisdictions(system, testTree); err != nil {
			t.Fatal(err)
		}
		into := freshDSN(t, dsn)
		if _, err := db.MoveOriginInto(ctx, into, "hc.example.org/log", nil); err != nil {
			t.Fatal(err)
		}
		if v := rawMeta(t, into, "log_signer_key"); !strings.HasPrefix(v, "SEALED+KEY+hc.example.org/log+") {
			t.Errorf("moved log key stored as %.30s...", v)
		}
		nd := mustOpen(t, into)
		if err := nd.CanSign(); err == nil {
			t.Error("the moved database signs without the secret")
		}
		nd.Close()
		nd = openWithSecret(t, into, keySecret)
		defer nd.Close()
		if rep := mustVerify(t, nd); len(rep.Problems) != 0 {
			t.Fatalf("moved database: %v", rep.Problems)
		}
		db.Close()
		ro := mustOpen(t, dsn) // without the secret
		defer ro.Close()
		if _, err := ro.MoveOriginInto(ctx, freshDSN(t, dsn), "hc.example.org/x/log", nil); err == nil || !strings.Contains(err.Error(), "no key secret") {
			t.Errorf("moved a sealed log without the secret: %v", err)
		}
	})
}
