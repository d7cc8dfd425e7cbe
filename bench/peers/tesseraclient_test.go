package peers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// storeBackend serves a store's log through tlog.Handler, as the server
// does.
type storeBackend struct{ *store.DB }

func (b storeBackend) Checkpoint(ctx context.Context) ([]byte, error) { return b.LogCheckpoint(ctx) }

// TestTesseraClientReadsLog is the claim docs/log.md makes about which
// clients can read the log: Tessera's tlog-tiles client, which knows
// nothing of healthcode, fetches and verifies its checkpoint, proves an
// entry's inclusion and two checkpoints' consistency from the hash tiles,
// and reads the entries from the entry bundles, partial ones included.
func TestTesseraClientReadsLog(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "h.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "peers"})
	appendN := func(n int) {
		evs := make([]store.Event, n)
		for i := range evs {
			evs[i] = store.Event{Kind: tlog.KindJobProgressed, Payload: map[string]int{"done": i}}
		}
		if _, err := db.AppendEvents(sys, evs); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /log/", tlog.NewHandler(storeBackend{db}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	root, _ := url.Parse(srv.URL + "/log/")
	f, err := client.NewHTTPFetcher(root, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(db.LogVerifierKey())
	if err != nil {
		t.Fatal(err)
	}

	appendN(300)
	old, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, v, db.LogOrigin())
	if err != nil {
		t.Fatalf("tessera client: checkpoint: %v", err)
	}
	appendN(300) // two full tiles and a partial one of 88
	cp, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, v, db.LogOrigin())
	if err != nil {
		t.Fatalf("tessera client: checkpoint: %v", err)
	}
	if cp.Size != 600 || old.Size != 300 {
		t.Fatalf("sizes %d and %d, want 300 and 600", old.Size, cp.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := pb.ConsistencyProof(ctx, old.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cp.Size, cons, old.Hash, cp.Hash); err != nil {
		t.Fatalf("consistency 300 → 600: %v", err)
	}
	for _, i := range []uint64{0, 255, 256, 511, 512, 599} {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i/256, cp.Size)
		if err != nil {
			t.Fatalf("entry bundle of %d: %v", i, err)
		}
		leaf := bundle.Entries[i%256]
		e, err := tlog.ParseEntry(leaf)
		if err != nil || e.Index != int64(i) {
			t.Fatalf("entry %d from the bundle: index %v, %v", i, e, err)
		}
		incl, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, rfc6962.DefaultHasher.HashLeaf(leaf), incl, cp.Hash); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
}
