package web

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

func mustPages(t *testing.T) *Pages {
	t.Helper()
	p, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// samples gives every page template data that takes every branch worth
// taking, so a render reaches every message the page can show.
func samples() map[string][]any {
	at := time.Date(2022, 6, 14, 8, 0, 0, 0, time.UTC)
	cp := checkpointData{Signed: "healthcode.local/log\n3\nabc=\n", Origin: "healthcode.local/log", Size: 3, Root: "abc=", Key: "k"}
	entry := &tlog.Entry{Index: 1, Time: at, Kind: tlog.KindFactRecorded, Actor: tlog.Actor{Kind: tlog.ActorOfficial, ID: "o_1", Post: "410000"}, Subject: "r_1"}
	fact := store.ExplainedFact{Key: "f_1", Kind: "test_result", ObservedAt: at, Status: "active",
		RecordedBy: healthcode.Party{Kind: "official", ID: "o_1", Name: "赵六"}, ApprovedBy: &healthcode.Party{Kind: "official", ID: "o_2", Name: "钱七"}, LogIndex: 7}
	red := &store.Explanation{Resident: "r_1", Colour: healthcode.Red, Previous: healthcode.Green, Since: at, Cause: "fact", LogIndex: 9,
		RuleSet: "default", RuleSetVersion: 2, Rule: "positive", Reason: map[string]string{"zh-CN": "阳性", "en": "positive"},
		LegalBasis: &rules.LegalBasis{Number: "71号", Title: "t"}, Facts: []store.ExplainedFact{fact}}
	green := &store.Explanation{Resident: "r_1", Colour: healthcode.Green, Since: at, LogIndex: 2}
	res := &healthcode.Resident{ID: "r_1", Name: "王五", Jurisdiction: "410105001001"}
	s := map[string][]any{
		"home":  {homeData{}, homeData{DemoLogins: []DemoLogin{{Login: "a", Password: "b", Name: "张三", Role: "resident"}, {Login: "c", Password: "d", Name: "李四", Role: "command_officer"}}}},
		"login": {loginData{Next: "/"}, loginData{Error: "login.wrong"}, loginData{Error: "login.missing"}},
		"error": {errorData{Status: 404, Code: healthcode.ENOTFOUND, Message: pageError{Text: "没有这个页面"}}, errorData{Status: 403, Code: healthcode.EFORBIDDEN},
			errorData{Status: 500, Code: healthcode.EINTERNAL}, errorData{Status: 400, Code: healthcode.EINVALID},
			errorData{Status: 401, Code: healthcode.EUNAUTH}, errorData{Status: 409, Code: healthcode.ECONFLICT},
			errorData{Status: 429, Code: healthcode.ETOOMANY}, errorData{Status: 503, Code: healthcode.EUNAVAIL}},
		"resident": {residentData{Resident: res, Code: green}, residentData{Resident: res, Code: green, Own: true},
			residentData{Resident: res, Code: red, History: []*store.Explanation{red, green}, Own: true,
				Access: []healthcode.Access{{LogIndex: 3, At: at, By: healthcode.Party{Kind: "official", ID: "o_1", Name: "赵六", Role: "command_officer", Post: "410000"}, What: "code"}}, QR: "/v1/residents/r_1/token?format=png", QRRefresh: 240,
				HistoryPage: 2, HistoryMore: true, AccessPage: 1, AccessMore: true}},
		"explorer": {explorerData{Checkpoint: cp}, explorerData{Checkpoint: cp, Entries: []*tlog.Entry{entry}, Newer: 5, Older: 1},
			explorerData{Checkpoint: cp, Kind: tlog.KindCodeChanged, Kinds: tlog.Kinds(), Scanned: 9}},
		"entry":       {entryData{Checkpoint: cp, Entry: entry, Payload: "{}", Prev: "p", Personal: "c", Proof: []string{"h"}, Script: proofScript{Kind: "inclusion", Proof: []string{"h"}}}, entryData{Checkpoint: cp, Entry: &tlog.Entry{Index: 0, Time: at}}},
		"consistency": {consistencyData{Checkpoint: cp, Old: 1, New: 3}, consistencyData{Checkpoint: cp, Old: 1, New: 3, Asked: true, Proof: []string{"h"}, Script: proofScript{Kind: "consistency", Old: 1, New: 3, Proof: []string{}}}, consistencyData{Checkpoint: cp, Asked: true}},
		"verify":      {nil},
		"people": {peopleData{}, peopleData{Query: "王", Found: &healthcode.PeoplePage{Page: 2, More: true, People: []healthcode.Person{{ID: "r_1", Name: "王五", IDMasked: "4101**********1234", JurisdictionName: "农科路社区", Colour: healthcode.Red}, {ID: "r_2", Name: "王六"}}}},
			peopleData{Worker: true, Roster: &healthcode.PeoplePage{Page: 1, People: []healthcode.Person{{ID: "r_1", Name: "王五", Colour: healthcode.Green}}}}},
		"inbox": {inboxData{Page: 1}, inboxData{Page: 1, More: true, Items: []inboxItem{
			{At: at, Kind: "appeal_decided", Unread: true, Appeal: &healthcode.Appeal{ID: "ap_1", Status: healthcode.AppealGranted}},
			{At: at, Kind: "appeal_decided", Appeal: &healthcode.Appeal{ID: "ap_2", Status: healthcode.AppealDenied, Reason: "核查属实"}},
			{At: at, Kind: "fact_held", Fact: &healthcode.PendingFact{Key: "k", Kind: "contact", RecordedBy: healthcode.Party{Name: "赵六"}}},
			{At: at, Kind: "code_changed", Change: red}}}},
		"confirm": {confirmData{Action: "/x", Summary: []string{"s"}, Button: "b", Back: "/", Fields: map[string][]string{"decision": {"grant"}}}},
		"done":    {doneData{Title: "t", Lines: []string{"l"}, Links: []doneLink{{Href: "/", Label: "x"}}}},
	}
	addDeskSamples(s, at, res, red, green)
	addOutlookSamples(s, at, res, red)
	addRulesetSamples(s, at)
	return s
}

// TestRenderEveryPage renders every template in both languages, logged in
// and not, and fails on a missing catalogue key or any template error.
func TestRenderEveryPage(t *testing.T) {
	p := mustPages(t)
	s := samples()
	for _, name := range p.PageNames() {
		if _, ok := s[name]; !ok {
			t.Errorf("page %q has no sample data in this test", name)
		}
	}
	actors := []healthcode.Actor{{}, {Kind: healthcode.ActorResident, ID: "r_1", Name: "王五", Role: healthcode.RoleResident},
		{Kind: healthcode.ActorOfficial, ID: "o_1", Name: "赵六", Role: healthcode.RoleWorker, Jurisdiction: "410105001001"}}
	for name, datas := range s {
		for _, lang := range Langs {
			for i, d := range datas {
				for _, a := range actors {
					pg := &page{Lang: lang, Name: name, Path: "/x?y=1", Actor: a, CSRF: "tok", Demo: true, Data: d,
						newKey: func() (string, error) { return "formkey", nil }}
					if name == "verify" {
						var err error
						if pg.Messages, err = scriptMessages(lang, "verify."); err != nil {
							t.Fatal(err)
						}
					}
					if name == "entry" || name == "consistency" || name == "explorer" {
						var err error
						if pg.Messages, err = scriptMessages(lang, "logverify."); err != nil {
							t.Fatal(err)
						}
					}
					var buf bytes.Buffer
					if err := p.pages[name].ExecuteTemplate(&buf, "layout.html", pg); err != nil {
						t.Errorf("%s (%s, sample %d, actor %q): %v", name, lang, i, a.Kind, err)
						continue
					}
					out := buf.String()
					if !strings.Contains(out, `<html lang="`+lang+`">`) {
						t.Errorf("%s (%s): no lang attribute", name, lang)
					}
					if !strings.Contains(out, `name="viewport"`) {
						t.Errorf("%s (%s): no viewport meta", name, lang)
					}
				}
			}
		}
	}
}

// TestCatalogue checks that both languages have the same keys, and that
// every key the templates and scripts name exists.
func TestCatalogue(t *testing.T) {
	keys := func(lang string) []string {
		var ks []string
		for k := range catalogue[lang] {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	zh, en := keys("zh-CN"), keys("en")
	inZH := map[string]bool{}
	for _, k := range zh {
		inZH[k] = true
	}
	for _, k := range en {
		if !inZH[k] {
			t.Errorf("key %q is in en but not zh-CN", k)
		}
		delete(inZH, k)
	}
	for k := range inZH {
		t.Errorf("key %q is in zh-CN but not en", k)
	}

	var used []string
	files, _ := templateFS.ReadDir("templates")
	lit := regexp.MustCompile(`\.T "([^"]+)"`)
	for _, f := range files {
		b, _ := templateFS.ReadFile("templates/" + f.Name())
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	// Keys built at run time.
	for _, c := range []string{healthcode.EINVALID, healthcode.EUNAUTH, healthcode.EFORBIDDEN, healthcode.ENOTFOUND, healthcode.ECONFLICT, healthcode.ETOOMANY, healthcode.EUNAVAIL, healthcode.EINTERNAL} {
		used = append(used, "error."+c)
	}
	for _, c := range []string{"fact", "retraction", "appeal", "ruleset", "risk_area", "time"} {
		used = append(used, "cause."+c)
	}
	for _, st := range []healthcode.FactStatus{healthcode.FactActive, healthcode.FactPending, healthcode.FactRejected, healthcode.FactRetracted} {
		used = append(used, "factstatus."+string(st))
	}
	for _, w := range []string{"resident", "code", "history", "appeal", "appeals", "appeal_queue", "pending_facts", "held_designations", "fact"} {
		used = append(used, "access."+w)
	}
	for _, r := range healthcode.Roles {
		used = append(used, "role."+string(r))
	}
	js, _ := staticFS.ReadFile("static/verify.js")
	for _, m := range regexp.MustCompile(`\bm\('([a-z_]+(?:\.[a-z_]+)*)'[,)]`).FindAllStringSubmatch(string(js), -1) {
		used = append(used, "verify."+m[1])
	}
	for _, c := range []string{"green", "yellow", "red"} {
		used = append(used, "verify.colour."+c)
	}
	for _, r := range regexp.MustCompile(`fail\('([a-z_]+)'`).FindAllStringSubmatch(string(js), -1) {
		used = append(used, "verify.reason."+r[1])
	}
	lj, _ := staticFS.ReadFile("static/logverify.js")
	for _, m := range regexp.MustCompile(`\bm\('([a-z_]+(?:\.[a-z_]+)*)'[,)]`).FindAllStringSubmatch(string(lj), -1) {
		used = append(used, "logverify."+m[1])
	}
	for _, r := range regexp.MustCompile(`fail\('([a-z_]+)'`).FindAllStringSubmatch(string(lj), -1) {
		used = append(used, "logverify.reason."+r[1])
	}
	used = append(used, "logverify.oldroot.seen", "logverify.oldroot.server", "logverify.reason.no_webcrypto")
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use: the patterns are broken", len(used))
	}
	for _, k := range used {
		for _, lang := range Langs {
			if _, ok := catalogue[lang][k]; !ok {
				t.Errorf("key %q is used but missing from %s", k, lang)
			}
		}
	}
}

// TestScriptMessagesAreJSON checks the verifier gets its messages as a
// JSON object.
func TestScriptMessagesAreJSON(t *testing.T) {
	m, err := scriptMessages("en", "verify.")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), `"verify.reason.bad_signature"`) {
		t.Errorf("messages: %s", b)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/x?y": "/x?y", "/residents/r_1": "/residents/r_1", "/a/b?next=//x": "/a/b?next=//x",
		"//evil.example": "/", "https://evil.example": "/", `/\evil`: "/", "x": "/",
		"/\t/evil.example": "/", "/\n/evil.example": "/", "/\r/evil.example": "/", "\t//evil.example": "/",
		`/\/evil.example`: "/", `\\evil.example`: "/", "/\x00/evil.example": "/", "/\x7f/evil": "/",
		"/\u0085/evil.example": "/", "/%09/evil.example": "/%09/evil.example", "/x/../\t/evil": "/",
		"javascript:alert(1)": "/", "/%2F%2Fevil.example": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNoExternalAssets fails if a template or stylesheet loads anything
// from another site.
func TestNoExternalAssets(t *testing.T) {
	re := regexp.MustCompile(`(src|href)="(https?:)?//|url\((https?:)?//|@import`)
	for _, dir := range []string{"templates", "static"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, _ := os.ReadFile(dir + "/" + e.Name())
			if loc := re.FindIndex(b); loc != nil {
				t.Errorf("%s/%s loads an external asset: %q", dir, e.Name(), b[loc[0]:min(loc[1]+40, len(b))])
			}
		}
	}
}

// TestExplorerSelfActor: an entry a resident made about themselves
// (actor.id "self" in the leaf) shows a translated label in the explorer's
// list and on the entry's page, not the literal id.
func TestExplorerSelfActor(t *testing.T) {
	p := mustPages(t)
	at := time.Date(2022, 6, 14, 8, 0, 0, 0, time.UTC)
	cp := checkpointData{Signed: "healthcode.local/log\n3\nabc=\n", Origin: "healthcode.local/log", Size: 3, Root: "abc=", Key: "k"}
	self := &tlog.Entry{Index: 1, Time: at, Kind: tlog.KindAppealFiled, Actor: tlog.Actor{Kind: tlog.ActorResident, ID: tlog.SelfActor}, County: "410105"}
	for lang, want := range map[string]string{"zh-CN": "本人", "en": "the resident"} {
		for name, d := range map[string]any{
			"explorer": explorerData{Checkpoint: cp, Entries: []*tlog.Entry{self}},
			"entry":    entryData{Checkpoint: cp, Entry: self, Payload: "{}", Personal: "c", Proof: []string{"h"}, Script: proofScript{Kind: "inclusion", Proof: []string{"h"}}},
		} {
			pg := &page{Lang: lang, Name: name, Path: "/explorer", Data: d}
			var err error
			if pg.Messages, err = scriptMessages(lang, "logverify."); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := p.pages[name].ExecuteTemplate(&buf, "layout.html", pg); err != nil {
				t.Fatal(err)
			}
			if out := buf.String(); !strings.Contains(out, want) || strings.Contains(out, "<code>self</code>") {
				t.Errorf("%s (%s): the self actor is not shown as %q", name, lang, want)
			}
		}
	}
}
