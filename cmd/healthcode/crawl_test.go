package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/demo"
	"github.com/healthcode/healthcode/tlog"
	"golang.org/x/mod/sumdb/note"
)

// crawlSeed and crawlResidents are the demo province the crawler visits:
// big enough for the demo story (a positive PCR, a confirmed case,
// contacts, an appeal), small enough to seed in seconds.
const (
	crawlSeed      = 7
	crawlResidents = 300
)

// recorder is an http.RoundTripper that keeps every response body, so a
// test can search everything the public was served.
type recorder struct {
	mu     sync.Mutex
	bodies map[string][]byte // URL path and query → body
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.bodies[req.URL.RequestURI()] = b
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// TestCrawlPublicRoutes (issue 15) starts a demo-province server and reads
// everything the public can, anonymously over HTTP: the checkpoint and
// every leaf from the tiles, every entry by index, the explorer's pages
// (following their links), the statistics, jobs, alerts, rulesets and
// trust lists. No response holds a resident's id, name, phone, national
// ID number or its hash, a salt, a chain link, a fact's key, id, case id,
// payload or evidence, or an appeal's id or statement; no leaf names a
// place finer than a county. Then the grouping test: leaves about
// residents grouped by every combination of their public fields (but the
// time); no group of two or more leaves holds only one resident's entries
// unless the county and kind alone already do (or it is a hand-entered
// fact and its decision, which names the recorder on purpose).
func TestCrawlPublicRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and serves a demo province")
	}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "demo.db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	e := &env{args: []string{"--demo", "--db", dbPath, "--addr", addr, "--residents", fmt.Sprint(crawlResidents), "--seed", fmt.Sprint(crawlSeed),
		"--audit-interval", "0", "--log-level", "error", "--log-format", "json"},
		stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, e) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, stderr.String())
			}
		}
	}
	defer stop()
	base := "http://" + addr
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo server did not start: %v\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	rec := &recorder{bodies: map[string][]byte{}}
	hc := &http.Client{Transport: rec, Timeout: 30 * time.Second}
	get := func(path string) []byte {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}

	// The log: the checkpoint, and every leaf from the tiles.
	vkey := strings.TrimSpace(string(get("/log/key")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(string(get("/log/checkpoint")), "\n")
	lc := &tlog.Client{BaseURL: base + "/log", HTTP: hc, Verifier: verifier, Origin: origin}
	cp, _, err := lc.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([]*tlog.Entry, cp.Size)
	raws := make([][]byte, cp.Size)
	for i := range cp.Size {
		leaf, err := lc.Leaf(ctx, i, cp)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = leaf
		if leaves[i], err = tlog.ParseEntry(leaf); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}

	// Every entry by index, the explorer and the public API, following
	// the pages' links.
	seen := map[string]bool{}
	queue := []string{"/", "/explorer", "/explorer/consistency", "/stats", "/rulesets", "/verify", "/alerts",
		"/v1/stats", "/v1/jobs", "/v1/alerts", "/v1/rulesets", "/v1/trust", "/v1/trust/key", "/v1/trust/recognised", "/v1/jurisdictions"}
	for i := range cp.Size {
		queue = append(queue, fmt.Sprintf("/v1/log/entries/%d", i), fmt.Sprintf("/explorer/entries/%d", i))
	}
	href := regexp.MustCompile(`href="(/[^"#]*)"`)
	const maxFetches = 6000
	for len(queue) > 0 && len(seen) < maxFetches {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		body := get(p)
		for _, m := range href.FindAllSubmatch(body, -1) {
			link := strings.ReplaceAll(string(m[1]), "&amp;", "&")
			switch {
			case seen[link], strings.HasPrefix(link, "/lang/"), strings.HasPrefix(link, "/logout"), strings.HasPrefix(link, "/login"),
				strings.HasPrefix(link, "/static/"), strings.HasPrefix(link, "/log/tile/"):
				continue
			}
			queue = append(queue, link)
		}
	}
	if len(seen) >= maxFetches {
		t.Logf("stopped following links after %d pages", maxFetches)
	}
	stop()

	// What the public must not see, from the database once the server is
	// stopped.
	secrets := map[string]string{} // value → what it is
	add := func(what, v string) {
		if len(v) >= 4 {
			secrets[v] = what
		}
	}
	p, err := demo.Generate(demo.Config{Seed: crawlSeed, Residents: crawlResidents})
	if err != nil {
		t.Fatal(err)
	}
	for i := range crawlResidents {
		_, nationalID := p.Resident(i, nil)
		add("national ID", nationalID)
	}
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	each := func(q string, f func(vals []any)) {
		t.Helper()
		rows, err := raw.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			f(vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	str := func(v any) string {
		switch x := v.(type) {
		case []byte:
			return string(x)
		case string:
			return x
		}
		return ""
	}
	binary := func(what string, b []byte) {
		if len(b) == 0 {
			return
		}
		add(what, hex.EncodeToString(b))
		add(what, base64.StdEncoding.EncodeToString(b))
		add(what, base64.RawURLEncoding.EncodeToString(b))
	}
	residents := 0
	each("SELECT id, name, phone, id_hash, id_masked FROM residents", func(v []any) {
		residents++
		add("resident id", str(v[0]))
		add("name", str(v[1]))
		add("phone", str(v[2]))
		binary("ID hash", v[3].([]byte))
		add("masked ID", str(v[4]))
	})
	if residents != crawlResidents {
		t.Fatalf("%d residents in the database, want %d", residents, crawlResidents)
	}
	subjects := map[int64]string{}
	prevs := map[int64][]string{} // entry → its chain link, encoded
	each("SELECT idx, subject, salt, data FROM log_personal", func(v []any) {
		binary("salt", v[2].([]byte))
		pp, err := tlog.ParsePersonalPart(v[3].([]byte))
		if err != nil {
			t.Fatal(err)
		}
		if pp.Prev != ([32]byte{}) {
			b := pp.Prev[:]
			prevs[v[0].(int64)] = []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
		}
		if pp.Subject != "" {
			subjects[v[0].(int64)] = pp.Subject
		}
	})
	facts := 0
	each("SELECT origin || ':' || id, id, case_id, payload, evidence FROM facts WHERE kind <> 'risk_area'", func(v []any) {
		facts++
		add("fact key", str(v[0]))
		add("fact key (escaped)", strings.ReplaceAll(str(v[0]), ":", "%3A"))
		add("case id", str(v[2]))
		if pl := str(v[3]); len(pl) > 24 {
			add("health payload", pl)
		}
		add("evidence", str(v[4]))
	})
	each("SELECT id, statement, consent FROM appeals", func(v []any) {
		add("appeal id", str(v[0]))
		add("appeal statement", str(v[1]))
		if c := str(v[2]); c != "self" { // the resident's own appeal
			add("consent reference", c)
		}
	})
	if facts < 100 || len(subjects) < 300 {
		t.Fatalf("%d facts about residents, %d entries about residents: the demo is too small to show anything", facts, len(subjects))
	}

	// Search everything served, and every leaf's county. (The demo's
	// start page, "/", lists the demo logins with their names by design:
	// demo mode only.) A chain link is the leaf hash of the resident's
	// previous entry, public as that entry's hash (and as a sibling in
	// inclusion proofs): what must not be served is the link itself, in
	// the entry's leaf or as its "prev".
	var found []string
	for path, body := range rec.bodies {
		if path == "/" {
			continue
		}
		for v, what := range secrets {
			if bytes.Contains(body, []byte(v)) {
				found = append(found, fmt.Sprintf("%s serves %s %q", path, what, v))
			}
		}
	}
	for idx, links := range prevs {
		var served struct {
			Subject string `json:"subject"`
			Prev    string `json:"prev"`
		}
		if err := json.Unmarshal(rec.bodies[fmt.Sprintf("/v1/log/entries/%d", idx)], &served); err != nil || served.Subject != "" || served.Prev != "" {
			found = append(found, fmt.Sprintf("/v1/log/entries/%d serves a subject %q or a chain link %q (%v)", idx, served.Subject, served.Prev, err))
		}
		for _, v := range links {
			if bytes.Contains(raws[idx], []byte(v)) {
				found = append(found, fmt.Sprintf("leaf %d holds its chain link %q", idx, v))
			}
		}
	}
	if n := len(rec.bodies[fmt.Sprintf("/explorer/entries/%d", cp.Size-1)]); n == 0 {
		t.Fatal("the explorer served no entry page")
	}
	sort.Strings(found)
	for i, f := range found {
		if i == 60 {
			t.Errorf("… and %d more", len(found)-20)
			break
		}
		t.Error(f)
	}
	for i, l := range leaves {
		if len(l.County) > 6 {
			t.Errorf("leaf %d names %q, finer than a county", i, l.County)
		}
	}
	t.Logf("%d responses searched for %d personal values; %d leaves, %d about residents", len(rec.bodies), len(secrets), len(leaves), len(subjects))

	// The grouping test.
	for _, g := range linkingGroups(leaves, subjects) {
		t.Error(g)
	}
}

// linkingGroups groups the leaves about residents by every combination of
// their public fields but the time (entries written in one transaction
// share it: a fact and the code change it causes): of the header fields
// across all kinds, and of the header and payload fields within each kind.
// It returns each group of two or more leaves that holds one resident's
// entries only, where the leaves of that county and kind are not already
// all that resident's, and which is not a hand-entered fact with its
// decision (linked on purpose: the two-person rule).
func linkingGroups(leaves []*tlog.Entry, subjects map[int64]string) []string {
	type leaf struct {
		subject string
		fields  map[string]string
	}
	header := []string{"actor.id", "actor.kind", "actor.post", "county", "kind"}
	var about []leaf
	payloadFields := map[string]map[string]bool{} // kind → payload fields
	for i, l := range leaves {
		s, ok := subjects[int64(i)]
		if !ok || l.County == "" {
			continue
		}
		f := map[string]string{"kind": string(l.Kind), "actor.kind": l.Actor.Kind, "actor.id": l.Actor.ID, "actor.post": l.Actor.Post, "county": l.County}
		var payload map[string]json.RawMessage
		if json.Unmarshal(l.Payload, &payload) == nil {
			for k, v := range payload {
				f["payload."+k] = string(v)
				if payloadFields[string(l.Kind)] == nil {
					payloadFields[string(l.Kind)] = map[string]bool{}
				}
				payloadFields[string(l.Kind)]["payload."+k] = true
			}
		}
		about = append(about, leaf{s, f})
	}
	byCountyKind := map[string]map[string]bool{} // county and kind → residents
	for _, l := range about {
		k := l.fields["county"] + "|" + l.fields["kind"]
		if byCountyKind[k] == nil {
			byCountyKind[k] = map[string]bool{}
		}
		byCountyKind[k][l.subject] = true
	}
	// A hand-entered fact and its decision are linked on purpose: the
	// decision names the official who recorded it (recorded_by), so the
	// two-person rule is auditable. Where only one resident's hand-entered
	// facts are decided in a county and hour, that pairs their leaves.
	approvalPair := func(g []int) bool {
		recorders := map[string]bool{}
		for _, i := range g {
			if f := about[i].fields; f["kind"] == string(tlog.KindFactRecorded) && f["actor.kind"] == tlog.ActorOfficial {
				recorders[`"`+f["actor.id"]+`"`] = true
			}
		}
		for _, i := range g {
			switch f := about[i].fields; f["kind"] {
			case string(tlog.KindFactRecorded):
				if f["actor.kind"] != tlog.ActorOfficial {
					return false
				}
			case string(tlog.KindFactApproved), string(tlog.KindFactRejected):
				if !recorders[f["payload.recorded_by"]] {
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	var out []string
	check := func(set []int, fields []string) {
		for mask := 1; mask < 1<<len(fields); mask++ {
			groups := map[string][]int{}
			for _, i := range set {
				var key strings.Builder
				for j, f := range fields {
					if mask&(1<<j) != 0 {
						v, ok := about[i].fields[f]
						if !ok {
							v = "(absent)"
						}
						key.WriteString(f + "=" + v + " ")
					}
				}
				groups[key.String()] = append(groups[key.String()], i)
			}
			for key, g := range groups {
				if len(g) < 2 {
					continue
				}
				s := about[g[0]].subject
				one, implied := true, true
				for _, i := range g {
					if about[i].subject != s {
						one = false
						break
					}
					if len(byCountyKind[about[i].fields["county"]+"|"+about[i].fields["kind"]]) > 1 {
						implied = false
					}
				}
				if one && !implied && !approvalPair(g) && len(out) < 20 {
					var what []string
					for _, i := range g {
						what = append(what, about[i].fields["kind"]+" by "+about[i].fields["actor.id"]+" "+about[i].fields["payload.recorded_by"])
					}
					out = append(out, fmt.Sprintf("public fields %slink %d leaves of one resident only: %s", key, len(g), strings.Join(what, ", ")))
				}
			}
		}
	}
	all := make([]int, len(about))
	for i := range all {
		all[i] = i
	}
	check(all, header)
	for _, kind := range slices.Sorted(maps.Keys(payloadFields)) {
		var set []int
		for i, l := range about {
			if l.fields["kind"] == kind {
				set = append(set, i)
			}
		}
		check(set, append(slices.Clone(header), slices.Sorted(maps.Keys(payloadFields[kind]))...))
	}
	return out
}
