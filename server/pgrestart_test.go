package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/verify"
)

// The PostgreSQL restart test restarts a real cluster, so it runs only
// when asked: HEALTHCODE_TEST_PG_RESTART=1, with HEALTHCODE_TEST_POSTGRES
// naming a database on that cluster. HEALTHCODE_TEST_PG_STOP and
// HEALTHCODE_TEST_PG_START are the shell commands that stop and start it
// (by default the local Debian cluster's pg_ctlcluster). Nothing else may
// use the cluster while it runs (.ci/run runs it alone, after the other
// tests).
const (
	envPGRestart = "HEALTHCODE_TEST_PG_RESTART"
	envPGStop    = "HEALTHCODE_TEST_PG_STOP"
	envPGStart   = "HEALTHCODE_TEST_PG_START"
)

// pgControl returns the commands that stop and start the test cluster.
func pgControl(t *testing.T) (stop, start string) {
	stop, start = os.Getenv(envPGStop), os.Getenv(envPGStart)
	if stop != "" && start != "" {
		return stop, start
	}
	versions, err := filepath.Glob("/etc/postgresql/*")
	if err != nil || len(versions) != 1 {
		t.Fatalf("set %s and %s: cannot tell the local cluster (/etc/postgresql holds %v)", envPGStop, envPGStart, versions)
	}
	ctl := "pg_ctlcluster --skip-systemctl-redirect " + filepath.Base(versions[0]) + " main "
	return ctl + "stop", ctl + "start"
}

func runShell(t *testing.T, what, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	if err != nil {
		t.Fatalf("%s (%s): %v\n%s", what, command, err, out)
	}
}

// outcome is one request's answer during the restart test.
type outcome struct {
	what       string
	status     int
	retryAfter string
	took       time.Duration
	body       string
	err        error
}

// TestPostgresRestart runs a server on PostgreSQL under concurrent source
// batches, official writes and token reads, and stops the cluster for a
// few seconds, then starts it again. During the outage writes are refused
// with 503 and Retry-After (never 500, never a hang), readiness says not
// ready, and what needs no database (liveness, the trust list, the log's
// checkpoint) goes on; after it the server serves again by itself within
// a bound, with no restart of healthcode. Every acknowledged write is
// there, the log verifies, and resubmitting every batch with the same
// fact ids adds nothing twice.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv(envPGRestart) != "1" {
		t.Skip("restarts the PostgreSQL cluster: set " + envPGRestart + "=1 (and " + testdb.EnvPostgres + ") to run it alone")
	}
	stopCmd, startCmd := pgControl(t)
	dsn := testdb.Postgres(t)
	stopped := false
	t.Cleanup(func() {
		// The cluster is up again whatever happened (the database is
		// dropped after this runs: cleanups run last-in first-out).
		if stopped {
			runShell(t, "start the cluster", startCmd)
		}
	})

	f := mustFixture(t, dsn)
	ts := mustTokenServer(t, f.db, "cn-41")
	f.mustDefaultPublished(t, healthcode.Official{ID: "o_tracer", Name: "吴十", Role: healthcode.RoleTracer, Jurisdiction: "410105"})
	src := healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"test_result", "case_status"}, Jurisdiction: "410000"}
	const key = "hck_0123456789abcdef0123456789ab"
	if err := f.db.CreateSource(system, src, key); err != nil {
		t.Fatal(err)
	}
	lab := healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_lab"})
	if _, err := f.db.RecordFacts(lab, []healthcode.Fact{{ID: "case", Kind: "case_status", Subject: "r_res2", ObservedAt: time.Now().Add(-48 * time.Hour),
		Payload: json.RawMessage(`{"status":"confirmed","case_id":"C-1"}`)}}); err != nil {
		t.Fatal(err)
	}
	res1 := f.login(t, "login-r_res1")
	tracer := f.login(t, "login-o_tracer")
	day := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	batch := func(g, n int) string {
		var b strings.Builder
		for k := 0; k < 8; k++ {
			fmt.Fprintf(&b, `{"id":"pr-%d-%d-%d","kind":"test_result","subject":"r_res%d","observed_at":%q,"payload":{"method":"pcr","result":"negative","sampled_at":%q,"lab":"郑州市疾控中心实验室"}}`+"\n",
				g, n, k, 1+k%2, day, day)
		}
		return b.String()
	}
	contact := func(n int) string {
		return fmt.Sprintf(`[{"id":"pc-%d","kind":"contact","subject":"r_res1","observed_at":%q,"evidence":"flow report %d","payload":{"level":"close","case_id":"C-1","exposed_at":%q}}]`, n, day, n, day)
	}

	// No request may take longer than this, database down or not.
	const hangBound = 10 * time.Second
	client := &http.Client{Timeout: 2 * hangBound}
	do := func(what, method, path, bearer, body string) outcome {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		start := time.Now()
		resp, err := client.Do(req)
		o := outcome{what: what + " " + method + " " + path, err: err}
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.status, o.retryAfter, o.body = resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
		}
		o.took = time.Since(start)
		return o
	}

	var (
		mu       sync.Mutex
		outcomes []outcome
		down     atomic.Bool // the cluster is (being) stopped
		// Batches by generator, each acknowledged (200) or not.
		acked   = map[string]bool{}
		bodies  = map[string]string{}
		downOK  = map[string]int{} // successes while the cluster was down, by kind
		downAll = map[string]int{} // answers while the cluster was down, by kind
		downBy  = map[string]int{} // and by kind and status
	)
	record := func(kind, id, body string, o outcome) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, o)
		if id != "" {
			bodies[id] = body
			acked[id] = acked[id] || o.status == 200
		}
		if down.Load() {
			downAll[kind]++
			downBy[fmt.Sprint(kind, " ", o.status)]++
			if o.status == 200 {
				downOK[kind]++
			}
		}
	}
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Each client retries after a refusal as Retry-After would have it
	// (faster, to keep the test short).
	loop := func(f func(n int) outcome) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				pause := 10 * time.Millisecond
				if f(n).status != 200 {
					pause = 200 * time.Millisecond
				}
				time.Sleep(pause)
			}
		}()
	}
	for g := 0; g < 2; g++ {
		loop(func(n int) outcome {
			id, body := fmt.Sprintf("batch %d-%d", g, n), batch(g, n)
			o := do(id, "POST", "/v1/facts", key, body)
			record("batch", id, body, o)
			return o
		})
	}
	loop(func(n int) outcome {
		id, body := fmt.Sprintf("contact %d", n), contact(n)
		o := do(id, "POST", "/v1/facts", tracer, body)
		record("contact", id, body, o)
		return o
	})
	loop(func(int) outcome {
		o := do("token", "GET", "/v1/residents/r_res1/token", res1, "")
		record("token", "", "", o)
		return o
	})
	// The log's first entry bundle reads the database: 503 while it is down.
	for _, p := range []string{"/healthz", "/v1/trust", "/log/checkpoint", "/log/tile/entries/000.p/1"} {
		loop(func(int) outcome {
			o := do("public", "GET", p, "", "")
			record(p, "", "", o)
			return o
		})
	}
	ready := func() int { return do("ready", "GET", "/readyz", "", "").status }

	time.Sleep(1 * time.Second) // under load before the fault
	stopped = true
	runShell(t, "stop the cluster", stopCmd)
	deadline := time.Now().Add(5 * time.Second)
	for ready() == 200 {
		if time.Now().After(deadline) {
			t.Fatal("readiness still says ready 5 s after the cluster stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	down.Store(true)            // answers from here on are counted as the outage's
	time.Sleep(3 * time.Second) // held down, under load
	down.Store(false)
	runShell(t, "start the cluster", startCmd)
	stopped = false
	restarted := time.Now()
	const recoverBound = 15 * time.Second
	for ready() != 200 {
		if time.Since(restarted) > recoverBound {
			t.Fatalf("not ready %v after the cluster started", recoverBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	readyAfter := time.Since(restarted)
	// Every kind of write succeeds again by itself.
	for _, w := range []struct{ what, bearer, body string }{
		{"batch", key, batch(9, 0)},
		{"contact", tracer, contact(1 << 20)},
	} {
		for {
			o := do("probe "+w.what, "POST", "/v1/facts", w.bearer, w.body)
			if o.status == 200 {
				break
			}
			if time.Since(restarted) > recoverBound {
				t.Fatalf("%s still refused %v after the cluster started: %d %.300s", w.what, recoverBound, o.status, o.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	writesAfter := time.Since(restarted)
	time.Sleep(1 * time.Second) // load after the fault
	stopLoad()
	wg.Wait()

	// Every answer was a success or a clean 503 with Retry-After, in time.
	counts := map[string]int{}
	for _, o := range outcomes {
		counts[fmt.Sprint(o.status)]++
		switch {
		case o.err != nil:
			t.Errorf("%s: %v after %v", o.what, o.err, o.took)
		case o.took > hangBound:
			t.Errorf("%s: answered %d after %v, want within %v", o.what, o.status, o.took, hangBound)
		case o.status == 503 && o.retryAfter == "":
			t.Errorf("%s: 503 without Retry-After: %.300s", o.what, o.body)
		case o.status != 200 && o.status != 503:
			t.Errorf("%s: %d %.300s, want 200 or 503", o.what, o.status, o.body)
		}
	}
	// What needs no database went on during the outage: every answer a
	// success.
	for _, p := range []string{"/healthz", "/v1/trust", "/log/checkpoint"} {
		if downOK[p] == 0 || downOK[p] != downAll[p] {
			t.Errorf("GET %s while the cluster was down: %d of %d answers 200, want all", p, downOK[p], downAll[p])
		}
	}
	if counts["503"] == 0 {
		t.Errorf("no request was refused while the cluster was down: %v", counts)
	}

	// Nothing acknowledged is lost and nothing is stored twice:
	// resubmitting every batch stores what was not acknowledged at most
	// once (it may have been committed with its answer lost), and every
	// acknowledged one is a duplicate; a second round adds nothing.
	logSize := func() string {
		o := do("checkpoint", "GET", "/log/checkpoint", "", "")
		if o.status != 200 {
			t.Fatalf("checkpoint: %d %s", o.status, o.body)
		}
		return strings.SplitN(o.body, "\n", 3)[1]
	}
	resubmitOne := func(round int, id string) {
		body := bodies[id]
		bearer := key
		if strings.HasPrefix(id, "contact") {
			bearer = tracer
		}
		o := do(id, "POST", "/v1/facts", bearer, body)
		if o.status != 200 {
			t.Errorf("%s resubmitted (round %d): %d %s", id, round, o.status, o.body)
			return
		}
		var res struct {
			Facts []struct {
				Status string `json:"status"`
			} `json:"facts"`
		}
		if err := json.Unmarshal([]byte(o.body), &res); err != nil {
			t.Errorf("%s resubmitted: %v", id, err)
			return
		}
		for _, fo := range res.Facts {
			if (acked[id] || round > 1) && fo.Status != "duplicate" {
				t.Errorf("%s resubmitted (round %d, acknowledged %v): a fact is %s, want duplicate", id, round, acked[id], fo.Status)
			}
		}
	}
	resubmit := func(round int) {
		ids := make(chan string)
		var rw sync.WaitGroup
		for range 4 {
			rw.Go(func() {
				for id := range ids {
					resubmitOne(round, id)
				}
			})
		}
		for id := range bodies {
			ids <- id
		}
		close(ids)
		rw.Wait()
	}
	resubmit(1)
	size := logSize()
	resubmit(2)
	if again := logSize(); again != size {
		t.Errorf("log grew from %s to %s on resubmitting batches already stored", size, again)
	}
	rep, err := verify.Log(context.Background(), f.db.VerifyView(), verify.Options{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %v", p)
	}
	nacked := 0
	for _, a := range acked {
		if a {
			nacked++
		}
	}
	t.Logf("%d requests (%v), %d of %d writes acknowledged; while down: %v; ready %v and writing %v after the cluster started",
		len(outcomes), counts, nacked, len(acked), downBy, readyAfter.Round(time.Millisecond), writesAfter.Round(time.Millisecond))
}
