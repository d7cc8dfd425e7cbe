package store_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// TestLogV1ToV2 (issue 15 item 6): a log written with v1 leaves, as the
// code before migration 0013 wrote them (store.SetLeafV1), is reopened
// by the current code and goes on in v2. The old leaves are unchanged and
// still prove; the new ones name no one; log verify is clean and lists
// exactly the old leaves about residents as a known exposure; a
// resident's own entries verify across the boundary; and an erasure of a
// resident with v1 entries leaves their v1 leaves (still listed) and
// removes the rest.
func TestLogV1ToV2(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := mustAccWorld(t, dsn, store.Limits{}, 6, func(db *store.DB) { store.SetLeafV1(db, true) })
		if err := w.db.EnsureKeys(keysSystem, keySecret, "cn-41"); err != nil {
			t.Fatal(err)
		}
		if err := w.db.CreateOfficial(system, healthcode.Official{ID: operator2.ID, Name: "第二操作员", Role: operator2.Role, Jurisdiction: operator2.Jurisdiction}, "login-o_operator2", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		r0, r1 := "r_test000000", "r_test000001"
		const evidence1, evidence2 = "flow report V1-7", "flow report V2-8"
		mustCase(t, w, r0)
		day := w.now.Add(-24 * time.Hour)
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-1", r1, "C-1", day, evidence1)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.DecideFact(as(cmdCounty), res.Facts[0].Key, true, ""); err != nil {
			t.Fatal(err)
		}
		a, err := w.db.FileAppeal(as(worker), healthcode.AppealRequest{Resident: r1, FactKeys: []string{res.Facts[0].Key}, Statement: "我没有去过那里", ConsentRef: "consent form 12"})
		if err != nil {
			t.Fatal(err)
		}
		oldCP, oldLeaves := mustSignedLeaves(t, w.db)
		n := oldCP.Size
		// The v1 leaves about residents: what must be listed, and r1's.
		var exposed, ownV1 []int64
		kinds := map[tlog.Kind]int64{}
		for i, leaf := range oldLeaves {
			e, err := tlog.ParseEntry(leaf)
			if err != nil {
				t.Fatal(err)
			}
			if e.V2() {
				t.Fatalf("entry %d before the migration is v2: the stand-in for the old code writes no v1 leaf", i)
			}
			if e.Subject != "" {
				exposed = append(exposed, int64(i))
				kinds[e.Kind]++
			}
			if e.Subject == r1 {
				ownV1 = append(ownV1, int64(i))
			}
		}
		if kinds[tlog.KindResidentRegistered] == 0 || kinds[tlog.KindFactRecorded] == 0 || kinds[tlog.KindCodeChanged] == 0 || kinds[tlog.KindAppealFiled] == 0 {
			t.Fatalf("the v1 log lacks a kind to check: %v", kinds)
		}
		if !bytes.Contains(bytes.Join(oldLeaves, nil), []byte(r1)) {
			t.Fatal("no v1 leaf names the resident: the old format is not what the test writes")
		}

		// The migration: the old program stops, the current one opens the
		// same database and goes on.
		if err := w.db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(ctx, dsn, store.Options{Now: func() time.Time { return w.now }, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		w.db = db
		w.now = w.now.Add(time.Hour)
		// Granting the appeal retracts the v1-approved fact: its row then
		// no longer leads to the v1 fact.approved entry, which the
		// resident's list must still hold (the chain runs through it).
		if _, err := w.db.DecideAppeal(as(cmdProvince1), a.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.db.History(as(cmdCounty), r1, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-2", r1, "C-1", day.Add(time.Hour), evidence2)}); err != nil {
			t.Fatal(err)
		}

		cp, leaves := mustSignedLeaves(t, w.db)
		// The old leaves are byte for byte the same, and prove in the new
		// tree, which is consistent with the old checkpoint.
		for i := range oldLeaves {
			if !bytes.Equal(leaves[i], oldLeaves[i]) {
				t.Fatalf("v1 leaf %d changed:\n%s\nnow\n%s", i, oldLeaves[i], leaves[i])
			}
			p, err := tlog.NewInclusionProof(storeHashes{w.db}, cp.Size, int64(i), cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(cp.Root, sumtlog.RecordHash(oldLeaves[i])); err != nil {
				t.Errorf("v1 leaf %d does not prove in the new checkpoint: %v", i, err)
			}
		}
		cons, err := tlog.NewConsistencyProof(storeHashes{w.db}, cp.Size, n, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := cons.Verify(oldCP.Root, cp.Root); err != nil {
			t.Errorf("the new checkpoint is not consistent with the v1 one: %v", err)
		}
		// The new leaves are v2 and name no one.
		var about int
		for i := n; i < cp.Size; i++ {
			pub, err := tlog.ParseEntry(leaves[i])
			if err != nil {
				t.Fatal(err)
			}
			if !pub.V2() || pub.Subject != "" || pub.Prev != (sumtlog.Hash{}) {
				t.Errorf("entry %d after the migration: v2 %v, subject %q, prev %v", i, pub.V2(), pub.Subject, pub.Prev)
			}
			for _, s := range []string{r1, evidence2, "C-1"} {
				if bytes.Contains(leaves[i], []byte(s)) {
					t.Errorf("v2 leaf %d holds %q:\n%s", i, s, leaves[i])
				}
			}
			if e, _, err := w.db.OpenedEntry(ctx, i); err != nil {
				t.Fatal(err)
			} else if e.Subject != "" {
				about++
			}
		}
		if about == 0 {
			t.Fatal("no v2 entry about a resident")
		}

		// log verify: clean, and the exposure is exactly the v1 leaves
		// about residents.
		checkExposure := func(when string) {
			t.Helper()
			rep := mustVerify(t, w.db)
			if len(rep.Problems) != 0 {
				t.Errorf("%s: verify: %v", when, rep.Problems)
			}
			if !slices.Equal(rep.ExposedEntries, exposed) {
				t.Errorf("%s: exposed entries %v, want the v1 leaves about residents %v", when, rep.ExposedEntries, exposed)
			}
			if len(rep.Exposed) != len(kinds) {
				t.Errorf("%s: exposed %v, want %v", when, rep.Exposed, kinds)
			}
			for k, c := range kinds {
				if rep.Exposed[k] != c {
					t.Errorf("%s: exposed %v, want %v", when, rep.Exposed, kinds)
				}
			}
		}
		checkExposure("after the migration")

		// The resident's own entries verify across the boundary: the first
		// v2 entry's chain link is the last v1 leaf's hash.
		own, cp := mustOwnEntries(t, w.db, healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: r1}), r1)
		entries, _, err := tlog.VerifyOwnEntries(r1, cp, own, nil)
		if err != nil {

			t.Fatal(err)
		}
		var got []int64
		firstV2 := -1
		for i, e := range entries {
			if e.Index < n {
				got = append(got, e.Index)
			} else if firstV2 < 0 {
				firstV2 = i
			}
		}
		if !slices.Equal(got, ownV1) {
			t.Errorf("the resident's v1 entries %v, want %v", got, ownV1)
		}
		if firstV2 <= 0 {
			t.Fatalf("the resident's entries %d: none v2 after a v1 one", len(entries))
		}
		if want := sumtlog.RecordHash(leaves[entries[firstV2-1].Index]); entries[firstV2].Prev != want {
			t.Errorf("the first v2 entry %d links to %v, not to the last v1 leaf %d (%v)", entries[firstV2].Index, entries[firstV2].Prev, entries[firstV2-1].Index, want)
		}
		lastV1 := ownV1[len(ownV1)-1]
		if _, _, err := tlog.VerifyOwnEntries(r1, cp, slices.DeleteFunc(slices.Clone(own), func(o tlog.OwnEntry) bool { return o.Index == lastV1 }), nil); err == nil {
			t.Error("the resident's last v1 entry left out, the chain into v2 still verifies")
		}

		// A v2 erasure of a resident with v1 entries (docs/log.md): the v1
		// leaves stay, public and listed; the personal parts and the
		// projected rows about the resident go; the log still verifies.
		if _, err := w.db.EraseResident(as(operator), r1, "the resident asked"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.EraseResident(as(operator2), r1, "the resident asked"); err != nil {
			t.Fatal(err)
		}
		after, err := w.db.ReadLeaves(ctx, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range oldLeaves {
			if !bytes.Equal(after[i], oldLeaves[i]) {
				t.Fatalf("the erasure changed v1 leaf %d", i)
			}
		}
		checkExposure("after the erasure")
		for _, i := range ownV1 {
			e, _, err := w.db.OpenedEntry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != r1 {
				t.Errorf("v1 entry %d opens to %q after the erasure: its leaf names %s", i, e.Subject, r1)
			}
		}
		if found := personalValues(t, dsn, [][]byte{[]byte(evidence1), []byte(evidence2), []byte("我没有去过那里")}); len(found) != 0 {
			t.Errorf("after the erasure the database holds %v", found)
		}
	})
}
