package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

var operator2 = healthcode.Actor{Kind: healthcode.ActorOfficial, ID: "o_operator2", Role: healthcode.RoleOperator, Jurisdiction: "410000"}

// TestEraseResident (issue 15 item 5): a data operator asks, a second one
// approves, and afterwards no table of the database (on SQLite: no byte
// of the database file or its write-ahead log) holds any of the
// resident's personal values, the login is gone, log verify passes, and
// the statistics and the counts from the public leaves are unchanged.
func TestEraseResident(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 6)
		ctx := context.Background()
		mustOperator2(t, w)
		const (
			r        = "r_erase00001"
			name     = "欧阳娜娜测试"
			phone    = "13912345678"
			login    = "login-erase-me-q4"
			evidence = "flow report Q7-erase"
			stmt     = "statement Z9: 我没有去过"
			attName  = "ticket-K3-erase.jpg"
			attData  = "attachment bytes M5-erase"
		)
		idHash := sha256.Sum256([]byte("410105199001011234"))
		if err := w.db.CreateResidents(system, []healthcode.Resident{{ID: r, IDHash: idHash[:], Name: name, Phone: phone, Jurisdiction: "410105001001"}}); err != nil {
			t.Fatal(err)
		}
		if err := w.db.CreateResidentAccount(system, r, login, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		sess, err := w.db.Login(ctx, login, "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		mustCase(t, w, "r_test000000")
		day := w.now.Add(-24 * 60 * 60 * 1e9)
		res, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-erase", r, "C-1", day, evidence)})
		if err != nil {
			t.Fatal(err)
		}
		key := res.Facts[0].Key
		if _, err := w.db.DecideFact(as(cmdCounty), key, true, ""); err != nil {
			t.Fatal(err)
		}
		a, err := w.db.FileAppeal(self(r), healthcode.AppealRequest{Resident: r, FactKeys: []string{key}, Statement: stmt,
			Attachments: []healthcode.Attachment{{Name: attName, MediaType: "image/jpeg", Data: []byte(attData)}}})
		if err != nil {
			t.Fatal(err)
		}
		// A granted appeal, then a new contact: a re-raise alert, an entry
		// about the resident, which goes with their other rows.
		if _, err := w.db.DecideAppeal(as(cmdProvince1), a.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.RecordFacts(as(tracer), []healthcode.Fact{w.contact("c-erase-2", r, "C-1", day.Add(60*60*1e9), evidence+"b")}); err != nil {
			t.Fatal(err)
		}
		if al := alertsOf(t, w.db, healthcode.AlertReraise); len(al) != 1 || al[0].Detail["resident"] != r {
			t.Fatalf("re-raise alerts %+v: want one about %s", al, r)
		}
		values := [][]byte{[]byte(name), []byte(phone), []byte(login), []byte(evidence), []byte(stmt), []byte(attName), []byte(attData), idHash[:]}
		before, err := w.db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		publicBefore := publicCounts(t, w.db)
		if found := personalValues(t, dsn, values); len(found) == 0 {
			t.Fatal("before the erasure the search finds none of the resident's values: it does not look where they are")
		}

		// Two data operators, a reason; no one else.
		_, err = w.db.EraseResident(as(cmdProvince1), r, "the resident asked")
		mustCode(t, err, healthcode.EFORBIDDEN, "command officer erasing")
		_, err = w.db.EraseResident(as(operator), r, "")
		mustCode(t, err, healthcode.EINVALID, "no reason")
		_, err = w.db.EraseResident(as(operator), "r_nobody", "the resident asked")
		mustCode(t, err, healthcode.ENOTFOUND, "unknown resident")
		got, err := w.db.EraseResident(as(operator), r, "the resident asked (PIPL art. 47)")
		if err != nil || got.Status != "requested" {
			t.Fatalf("request: %+v %v", got, err)
		}
		_, err = w.db.EraseResident(as(operator), r, "again")
		mustCode(t, err, healthcode.ECONFLICT, "the same operator approving")
		if found := personalValues(t, dsn, values); len(found) == 0 {
			t.Fatal("a request alone erased the data")
		}
		request := got.LogIndex
		got, err = w.db.EraseResident(as(operator2), r, "approved: the request is in order")
		if err != nil || got.Status != "erased" || got.PersonalParts == 0 {
			t.Fatalf("approve: %+v %v", got, err)
		}
		// The public leaves of the request and the erasure name both
		// operators, the county and the request's index, not the resident.
		leaves, err := w.db.ReadLeaves(ctx, request, got.LogIndex+1)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range [][]byte{leaves[0], leaves[len(leaves)-1]} {
			if strings.Contains(string(l), r) || strings.Contains(string(l), "asked") || !strings.Contains(string(l), "county 410105\n") {
				t.Errorf("public leaf names the resident or the reason, or not the county:\n%s", l)
			}
		}
		erased, err := tlog.ParseEntry(leaves[len(leaves)-1])
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"personal_parts":%d,"cause":"request","requested_by":%q,"requested_entry":%d}`, got.PersonalParts, operator.ID, request); string(erased.Payload) != want || erased.Actor.ID != operator2.ID {
			t.Errorf("log.erased public part %s by %s, want %s by %s", erased.Payload, erased.Actor.ID, want, operator2.ID)
		}

		if found := personalValues(t, dsn, values); len(found) > 0 {
			t.Errorf("after the erasure the database still holds %q", found)
		}
		if _, err := w.db.Login(ctx, login, "correct horse battery"); err == nil {
			t.Error("the erased resident's login still works")
		}
		if _, err := w.db.Authenticate(ctx, sess.Token); err == nil {
			t.Error("the erased resident's session still works")
		}
		mustVerified(t, w.db)
		if p, err := w.db.CheckErasures(ctx); err != nil || len(p) > 0 {
			t.Errorf("CheckErasures: %v %v", p, err)
		}
		// Since v2 leaves the resident's entries no longer open once their
		// personal parts are erased, so the rows they set go too; what they
		// added to the statistics stays (erased_counts), and the counts an
		// auditor makes from the public leaves are the same.
		after, err := w.db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("the statistics changed with the erasure (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(publicBefore, publicCounts(t, w.db)); diff != "" {
			t.Errorf("the counts from the public leaves changed with the erasure (-before +after):\n%s", diff)
		}
		if _, err := w.db.Resident(as(cmdProvince1), r); healthcode.ErrorCode(err) != healthcode.ENOTFOUND {
			t.Errorf("the erased resident is still served: %v", err)
		}

		// The insider puts a login back: CheckErasures finds it.
		raw, _ := openRaw(t, dsn)
		defer raw.Close()
		if _, err := raw.Exec("INSERT INTO accounts (login, kind, ref, password_hash, created_at) VALUES ('back', 'resident', '" + r + "', 'x', '2026-11-01T00:00:00Z')"); err != nil {
			t.Fatal(err)
		}
		if p, err := w.db.CheckErasures(ctx); err != nil || len(p) != 1 || !strings.Contains(p[0].What, "logins") {
			t.Errorf("CheckErasures after a login was put back: %v %v", p, err)
		}
	})
}

// publicCounts are what an auditor counts from the public leaves: code
// changes per rule and county, raising facts per official (or source) and
// hour.
func publicCounts(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	_, leaves := mustSignedLeaves(t, db)
	out := map[string]int{}
	for _, leaf := range leaves {
		e, err := tlog.ParseEntry(leaf)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Rule   string `json:"rule"`
			Raises bool   `json:"raises"`
		}
		if err := json.Unmarshal(e.Payload, &v); err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Kind == tlog.KindCodeChanged:
			out["code.changed rule "+v.Rule+" county "+e.County]++
		case e.Kind == tlog.KindFactRecorded && v.Raises:
			out["raising fact by "+e.Actor.ID+" at "+e.Time.Format("2006-01-02T15")]++
		}
	}
	return out
}

// personalValues returns the values found anywhere in the database: on
// SQLite every byte of the file and its write-ahead log; on PostgreSQL the
// text of every row of every table.
func personalValues(t *testing.T, dsn string, values [][]byte) []string {
	t.Helper()
	engine, target, err := store.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var hay [][]byte
	if engine == store.SQLite {
		path := strings.TrimPrefix(strings.SplitN(target, "?", 2)[0], "file:")
		for _, p := range []string{path, path + "-wal", path + "-journal"} {
			b, err := os.ReadFile(p)
			if err == nil {
				hay = append(hay, b)
			} else if !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	} else {
		raw, _ := openRaw(t, dsn)
		defer raw.Close()
		rows, err := raw.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		for _, tbl := range tables {
			rows, err := raw.Query(`SELECT t::text FROM "` + tbl + `" t`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				hay = append(hay, []byte(s))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
	}
	var found []string
	for _, v := range values {
		for _, h := range hay {
			if bytes.Contains(h, v) || bytes.Contains(h, []byte(hex.EncodeToString(v))) {
				found = append(found, string(v))
				break
			}
		}
	}
	return found
}
