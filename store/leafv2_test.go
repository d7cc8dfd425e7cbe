package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	"golang.org/x/mod/sumdb/note"
)

// accountabilityFields are the only payload fields a public leaf about a
// resident may have: the accountability fields of issue 15, each from a
// small vocabulary (colours, statuses, rules, offices, officials), none a
// value that could link two leaves of one resident.
var accountabilityFields = map[string]bool{
	"fact_kind": true, "status": true, "raises": true, "approval_scope": true, "source": true, "recorded_by": true, "previous_status": true,
	"colour": true, "previous": true, "ruleset": true, "ruleset_version": true, "rule": true, "cause": true,
	"ruleset_by": true, "designation_by": true,
	"assigned": true, "attachments": true, "decision": true, "from": true, "to": true, "what": true, "personal_parts": true, "requested_by": true, "requested_entry": true,
	"alert_kind": true, "detail": true, // an alert concerning a resident: publicAlertDetail's fields
}

// TestPublicLeavesNameNoOne crawls the public log of a world with cases,
// contacts, approvals, rejections, an appeal with an attachment, a
// granted appeal and officials' reads, as anyone can from the tiles: no
// leaf holds a resident id, name, phone, ID hash, salt, chain link,
// health payload or community-level location, and a leaf about a
// resident has no public field beyond the accountability fields.
func TestPublicLeavesNameNoOne(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		ctx := context.Background()
		_, leaves := mustSignedLeaves(t, w.db)
		// Every personal value the world holds, and every chain link.
		// (Community codes are public as offices' posts and as
		// jurisdictions; a resident's is not: the county line is checked.)
		secrets := []string{"r_test", "张三", "13800000000", "C-1", "flow report", "我没有去过那里", "consent form", "ticket.jpg",
			"positive", "pcr", "exposed", "not a contact"}
		// What the alerts concern: the resident, fact, appeal or case.
		var alerts []*healthcode.Alert
		for page, more := 1, true; more; page++ {
			var as []*healthcode.Alert
			var err error
			as, more, err = w.db.Alerts(healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "test"}), "", page)
			if err != nil {
				t.Fatal(err)
			}
			alerts = append(alerts, as...)
		}
		if len(alerts) == 0 {
			t.Fatal("no alert: the world raises none to check")
		}
		for _, a := range alerts {
			if a.Kind == healthcode.AlertReraise || a.Kind == healthcode.AlertCaseContacts || a.Kind == healthcode.AlertAppealOverdue {
				secrets = append(secrets, a.Subject)
			}
			for _, k := range []string{"resident", "appeal", "case_id", "designation"} {
				if s, ok := a.Detail[k].(string); ok {
					secrets = append(secrets, s)
				}
			}
		}
		var about, raising int
		for i, leaf := range leaves {
			e, _, err := w.db.OpenedEntry(ctx, int64(i))
			if err != nil {
				t.Fatal(err)
			}
			if e.Prev != ([32]byte{}) {
				secrets = append(secrets, e.Prev.String())
			}
			if e.Subject != "" {
				about++
			}
			pub, err := tlog.ParseEntry(leaf)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.V2() {
				t.Fatalf("entry %d is not v2", i)
			}
			if e.Subject == "" {
				continue
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(pub.Payload, &fields); err != nil {
				t.Fatal(err)
			}
			for f := range fields {
				if !accountabilityFields[f] {
					t.Errorf("entry %d (%s) about a resident has the public field %q", i, pub.Kind, f)
				}
			}
			// Whether a fact raises a code is public (the rules in force
			// decide it, and hold a hand-entered one for approval),
			// whether an official or a source recorded it.
			if pub.Kind == tlog.KindFactRecorded {
				r, has := fields["raises"]
				switch {
				case !has:
					t.Errorf("entry %d: a fact's public part %s (by %s) does not say whether it raises", i, pub.Payload, pub.Actor.Kind)
				case pub.Actor.Kind == tlog.ActorOfficial && string(r) == "true":
					raising++
				}
			}
			if len(pub.County) > 6 {
				t.Errorf("entry %d names %q, finer than a county", i, pub.County)
			}
		}
		if raising == 0 {
			t.Error("no public fact.recorded says it raises")
		}
		if about < 15 {
			t.Fatalf("only %d entries about residents: the world is too small to show anything", about)
		}
		for i, leaf := range leaves {
			for _, s := range secrets {
				if strings.Contains(string(leaf), s) {
					t.Errorf("public leaf %d holds %q:\n%s", i, s, leaf)
				}
			}
		}
	})
}

// TestOwnEntries plays the resident's client: it fetches the resident's
// entries with their openings and proofs and verifies them against the
// signed checkpoint; an entry left out is found.
func TestOwnEntries(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustProjWorld(t, dsn)
		ctx := context.Background()
		r1 := "r_test000001"
		self := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: r1})
		fetch := func(as context.Context) ([]tlog.OwnEntry, tlog.Checkpoint) {
			t.Helper()
			return mustOwnEntries(t, w.db, as, r1)
		}
		list, cp := fetch(self)
		entries, head, err := tlog.VerifyOwnEntries(r1, cp, list, nil)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[tlog.Kind]int{}
		for _, e := range entries {
			kinds[e.Kind]++
		}
		for _, k := range []tlog.Kind{tlog.KindResidentRegistered, tlog.KindFactRecorded, tlog.KindFactApproved, tlog.KindCodeChanged,
			tlog.KindAppealFiled, tlog.KindAppealDecided, tlog.KindFactRetracted, tlog.KindDataAccessed} {
			if kinds[k] == 0 {
				t.Errorf("no %s entry among the resident's %d: %v", k, len(entries), kinds)
			}
		}

		var oe *tlog.OwnEntryError
		omit := func(i int) []tlog.OwnEntry {
			return append(append([]tlog.OwnEntry(nil), list[:i]...), list[i+1:]...)
		}
		for _, i := range []int{0, len(list) / 2} {
			if _, _, err := tlog.VerifyOwnEntries(r1, cp, omit(i), nil); !errors.As(err, &oe) {
				t.Errorf("entry %d of %d left out: %v", i, len(list), err)
			}
		}
		if _, _, err := tlog.VerifyOwnEntries(r1, cp, omit(len(list)-1), &head); !errors.As(err, &oe) {
			t.Errorf("the last entry, seen before, left out: %v", err)
		}
		bad := append([]tlog.OwnEntry(nil), list...)
		bad[1].Personal = []byte(strings.Replace(string(bad[1].Personal), r1, "r_test000002", 1))
		if _, _, err := tlog.VerifyOwnEntries(r1, cp, bad, nil); !errors.As(err, &oe) {
			t.Errorf("a changed opening: %v", err)
		}
		if _, _, err := tlog.VerifyOwnEntries("r_test000002", cp, list, nil); !errors.As(err, &oe) {
			t.Errorf("another resident's entries: %v", err)
		}

		// An official who may read the resident sees the same, and the
		// read is itself an entry about the resident.
		list2, cp2 := fetch(as(cmdCounty))
		entries2, _, err := tlog.VerifyOwnEntries(r1, cp2, list2, &head)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries2) != len(entries)+1 || entries2[len(entries2)-1].Kind != tlog.KindDataAccessed {
			t.Errorf("the official's read: %d entries after %d, last %s", len(entries2), len(entries), entries2[len(entries2)-1].Kind)
		}
		other := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: "r_test000002"})
		if _, err := w.db.ResidentEntries(other, r1); healthcode.ErrorCode(err) != healthcode.EFORBIDDEN {
			t.Errorf("another resident reading: %v", err)
		}
		if rep := mustVerify(t, w.db); len(rep.Problems) != 0 || len(rep.Exposed) != 0 {
			t.Errorf("verify: %v, exposed %v", rep.Problems, rep.Exposed)
		}
	})
}

// mustSignedLeaves returns db's signed checkpoint, opened, and every leaf
// in it.
func mustSignedLeaves(t *testing.T, db *store.DB) (tlog.Checkpoint, [][]byte) {
	t.Helper()
	signed, err := db.LogCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.OpenCheckpoint(signed, mustVerifier(t, db), db.LogOrigin())
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := db.ReadLeaves(context.Background(), 0, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	return cp, leaves
}

// mustOwnEntries fetches resident id's entries, read as the actor of
// ctx, with their inclusion proofs in the signed checkpoint it returns.
func mustOwnEntries(t *testing.T, db *store.DB, ctx context.Context, id string) ([]tlog.OwnEntry, tlog.Checkpoint) {
	t.Helper()
	list, err := db.ResidentEntries(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := mustSignedLeaves(t, db)
	out := make([]tlog.OwnEntry, len(list))
	for i, e := range list {
		p, err := tlog.NewInclusionProof(storeHashes{db}, cp.Size, e.Index, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = tlog.OwnEntry{Index: e.Index, Leaf: e.Leaf, Salt: e.Salt, Personal: e.Personal, Proof: *p}
	}
	return out, cp
}

func mustVerifier(t *testing.T, db *store.DB) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(db.LogVerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
