package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// keyedAppeals is how many appeals each goroutine of the fault helper
// files in "appeals" mode: the most a resident may have undecided.
const keyedAppeals = 5

// keyClaim is an Idempotency-Key claim whose request fingerprint is fp and
// whose answer is the result's JSON with status 201, as the API's.
func keyClaim(key, fp string) *store.Claim {
	return &store.Claim{Key: key, Route: "POST /v1/appeals", Fingerprint: func() string { return fp },
		Answer: func(v any) (int, []byte, error) {
			b, err := json.Marshal(v)
			return 201, b, err
		}}
}

// appealFact is the fact a resident's keyed appeals dispute.
func appealFact(w *world, r string) healthcode.Fact {
	day := w.now.Add(-24 * time.Hour)
	return w.fact("ap-"+r, "test_result", r, day, fmt.Sprintf(`{"method":"pcr","result":"positive","sampled_at":%q,"lab":"郑州市疾控中心"}`, day.Format(time.RFC3339)))
}

// keyedAppeal is the context and request of goroutine g's appeal n for
// resident r: the resident, with key ak-g-n.
func keyedAppeal(r string, g, n int) (context.Context, healthcode.AppealRequest) {
	key := fmt.Sprintf("ak-%d-%d", g, n)
	ctx := store.WithClaim(as(healthcode.Actor{Kind: healthcode.ActorResident, ID: r, Role: healthcode.RoleResident, Jurisdiction: "410105001001"}), keyClaim(key, "fp-"+key))
	return ctx, healthcode.AppealRequest{Resident: r, FactKeys: []string{"s_lab:ap-" + r}, Statement: fmt.Sprintf("appeal %d of %d", n, g)}
}

// TestKeyedCreate files one appeal with one Idempotency-Key from many
// goroutines at once (requests that race, as from two replicas): one is
// filed, the others get its answer; the key with another request is
// refused; a key expires after IdempotencyTTL; erasing the resident
// forgets the answers about them.
func TestKeyedCreate(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		const r = "r_test000001"
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{appealFact(w, r)}); err != nil {
			t.Fatal(err)
		}
		head, err := w.db.LogHead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ctx, req := keyedAppeal(r, 0, 0)
		const racers = 8
		var (
			mu       sync.Mutex
			filed    []*healthcode.Appeal
			replayed [][]byte
			wg       sync.WaitGroup
		)
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := w.db.FileAppeal(ctx, req)
				mu.Lock()
				defer mu.Unlock()
				var rep *store.Replayed
				switch {
				case err == nil:
					filed = append(filed, a)
				case errors.As(err, &rep) && rep.Status == 201:
					replayed = append(replayed, rep.Body)
				default:
					t.Errorf("a racing request: %v", err)
				}
			}()
		}
		wg.Wait()
		if len(filed) != 1 || len(replayed) != racers-1 {
			t.Fatalf("%d filed, %d replayed, want 1 and %d", len(filed), len(replayed), racers-1)
		}
		want, _ := json.Marshal(filed[0])
		for _, b := range replayed {
			if string(b) != string(want) {
				t.Errorf("replayed %s\nwant the answer given: %s", b, want)
			}
		}
		if n := mustCountKind(t, w.db, head.Size, tlog.KindAppealFiled); n != 1 {
			t.Errorf("%d appeal.filed entries, want 1", n)
		}

		// The key with another request: refused, nothing filed.
		other := keyClaim("ak-0-0", "fp-another-body")
		var reused *store.KeyReused
		if _, err := w.db.FileAppeal(store.WithClaim(ctx, other), req); !errors.As(err, &reused) {
			t.Errorf("the key with another request: %v, want *KeyReused", err)
		}
		// Another actor's key of the same name is theirs.
		ctx2, req2 := keyedAppeal("r_test000002", 0, 0)
		if _, err := w.db.FileAppeal(ctx2, req2); healthcode.ErrorCode(err) != healthcode.EINVALID {
			t.Errorf("another resident's request with the same key: %v, want their own EINVALID (no such fact)", err)
		}
		if n := mustCountKind(t, w.db, head.Size, tlog.KindAppealFiled); n != 1 {
			t.Errorf("%d appeal.filed entries, want 1", n)
		}

		// A day later the key is forgotten: the same request files anew.
		w.now = w.now.Add(store.IdempotencyTTL + time.Minute)
		if _, err := w.db.FileAppeal(ctx, req); err != nil {
			t.Errorf("the key after it expired: %v, want a new appeal", err)
		}
		if n := mustCountKind(t, w.db, head.Size, tlog.KindAppealFiled); n != 2 {
			t.Errorf("%d appeal.filed entries, want 2", n)
		}

		// Erasing the resident erases the answers about them.
		if kept, err := w.db.IdempotentAnswer(ctx, "ak-0-0"); err != nil || kept == nil {
			t.Fatalf("the answer kept: %v %v", kept, err)
		}
		if _, err := w.db.EraseResident(system, r, "the resident asked"); err != nil {
			t.Fatal(err)
		}
		if kept, err := w.db.IdempotentAnswer(ctx, "ak-0-0"); err != nil || kept != nil {
			t.Errorf("the answer after the resident's erasure: %+v %v, want none", kept, err)
		}
	})
}

// TestKeyedCreateCrash kills a process filing appeals with Idempotency-Keys
// before and after the commit (store/failpoint.go), restarts, and retries
// every appeal with its key, as a client that got no answer does: each key
// is filed exactly once, an acknowledged one is replayed, and the log
// verifies.
func TestKeyedCreateCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		engine := t
		for i, point := range []string{"commit.before", "commit.after", "request.after"} {
			t.Run(point, func(t *testing.T) {
				var residents []healthcode.Resident
				var ids []string
				for g := 0; g < faultWorkers; g++ {
					r := resident(2000+10*i+g, "410105001001")
					residents, ids = append(residents, r), append(ids, r.ID)
				}
				if err := w.db.CreateResidents(system, residents); err != nil {
					t.Fatal(err)
				}
				var facts []healthcode.Fact
				for _, r := range ids {
					facts = append(facts, appealFact(w, r))
				}
				if _, err := w.db.RecordFacts(as(lab), facts); err != nil {
					t.Fatal(err)
				}
				head, err := w.db.LogHead(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if err := w.db.Close(); err != nil {
					t.Fatal(err)
				}
				out, err := runFaultHelper(t, dsn, faultCase{"appeals", point, 3}, w.now, "", ids)
				if err != nil {
					t.Fatal(err)
				}
				reopened, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, Now: func() time.Time { return w.now }})
				if err != nil {
					t.Fatalf("open after the crash: %v", err)
				}
				w.db = reopened
				engine.Cleanup(func() { reopened.Close() })
				mustVerifyLog(t, w.db)
				replays := 0
				for a := range out.tried {
					ctx, req := keyedAppeal(ids[a[0]], a[0], a[1])
					_, err := w.db.FileAppeal(ctx, req)
					var rep *store.Replayed
					switch {
					case errors.As(err, &rep):
						replays++
						var got healthcode.Appeal
						if err := json.Unmarshal(rep.Body, &got); err != nil || got.Resident != ids[a[0]] || rep.Status != 201 {
							t.Errorf("appeal %v replayed %d %s: %v", a, rep.Status, rep.Body, err)
						}
					case err != nil:
						t.Errorf("retry of appeal %v: %v", a, err)
					case out.acked[a]:
						t.Errorf("appeal %v was acknowledged before the kill, but its retry filed it again", a)
					}
				}
				if n := mustCountKind(t, w.db, head.Size, tlog.KindAppealFiled); n != len(out.tried) {
					t.Errorf("after retrying, %d appeal.filed entries for %d keys tried", n, len(out.tried))
				}
				if replays < len(out.acked) {
					t.Errorf("%d appeals acknowledged, %d replayed", len(out.acked), replays)
				}
				mustVerifyLog(t, w.db)
				t.Logf("%d appeals tried, %d acknowledged, %d found filed after the kill", len(out.tried), len(out.acked), replays)
			})
			if t.Failed() {
				return
			}
		}
	})
}
