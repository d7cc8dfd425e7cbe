package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// The fault matrix: a child process (TestFaultHelper) writes through the
// store with a failpoint hook (store/failpoint.go) that SIGKILLs it the
// n-th time it passes one step of the write path; the test then restarts
// on the same database and checks what survived. -faults.full runs every
// failpoint at many hit counts (every statement of the first batches);
// the default runs each failpoint once.
var faultsFull = flag.Bool("faults.full", false, "run the full fault matrix (every failpoint at many hit counts)")

// Environment of the fault helper process.
const (
	envFaultDSN       = "HEALTHCODE_FAULT_DSN"       // the database; unset: the helper does nothing
	envFaultPoint     = "HEALTHCODE_FAULT_POINT"     // the failpoint to die at
	envFaultHit       = "HEALTHCODE_FAULT_HIT"       // die the n-th time it is passed
	envFaultMode      = "HEALTHCODE_FAULT_MODE"      // facts: record fact batches; job: run the jobs due
	envFaultNow       = "HEALTHCODE_FAULT_NOW"       // the store's clock, RFC 3339
	envFaultRound     = "HEALTHCODE_FAULT_ROUND"     // a tag making this round's fact ids new
	envFaultResidents = "HEALTHCODE_FAULT_RESIDENTS" // comma-separated residents the facts are about
)

// faultWorkers is how many goroutines of the helper record facts at once,
// so that group commits hold several requests; faultBatches bounds the
// batches each records (a point never reached ends the helper).
const faultWorkers, faultBatches = 3, 40

// faultBatch is the facts of goroutine g's batch n in round round: one to
// three PCR results, positive for the round's residents (whose codes turn
// red) and negative for the others.
func faultBatch(round string, residents []string, now time.Time, g, n int) []healthcode.Fact {
	var out []healthcode.Fact
	for k := 0; k < 1+(g+n)%3; k++ {
		subject := residents[(g*7+n*3+k)%len(residents)]
		result := "negative"
		if (n+k)%2 == 0 {
			result = "positive"
		}
		sampled := now.Add(-time.Duration(1+n%5) * time.Hour)
		id := fmt.Sprintf("f-%s-%d-%d-%d", round, g, n, k)
		out = append(out, healthcode.Fact{ID: id, Kind: "test_result", Subject: subject, ObservedAt: sampled, Evidence: "report " + id,
			Payload: []byte(fmt.Sprintf(`{"method":"pcr","result":%q,"sampled_at":%q,"lab":"郑州市疾控中心"}`, result, sampled.Format(time.RFC3339)))})
	}
	return out
}

// TestFaultHelper is the child process of TestFaultMatrix.
func TestFaultHelper(t *testing.T) {
	dsn := os.Getenv(envFaultDSN)
	if dsn == "" {
		t.Skip("helper process for TestFaultMatrix")
	}
	die := func(code int, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "fault helper: "+format+"\n", args...)
		os.Exit(code)
	}
	now, err := time.Parse(time.RFC3339Nano, os.Getenv(envFaultNow))
	if err != nil {
		die(3, "%s: %v", envFaultNow, err)
	}
	point := os.Getenv(envFaultPoint)
	hit, _ := strconv.Atoi(os.Getenv(envFaultHit))
	db, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, Now: func() time.Time { return now }})
	if err != nil {
		die(3, "open: %v", err)
	}
	store.SetJobChunk(db, 3)
	passed := 0
	store.SetFailpoint(db, func(name string) {
		if name != point {
			return
		}
		// Only the committer goroutine (and, in job mode, the one job
		// runner) passes failpoints: no lock needed.
		if passed++; passed == hit {
			// Let writers already answered print their acks first, so
			// that an answer given too early shows as an acknowledged
			// write missing after the restart (the test of this test).
			time.Sleep(50 * time.Millisecond)
			fmt.Fprintf(os.Stdout, "kill %s %d\n", name, hit)
			if err := syscall.Kill(os.Getpid(), syscall.SIGKILL); err != nil {
				die(3, "kill: %v", err)
			}
			select {} // the signal is on its way; go no further
		}
	})
	switch os.Getenv(envFaultMode) {
	case "job":
		if _, err := db.RunJobs(context.Background(), nil); err != nil {
			die(3, "run jobs: %v", err)
		}
	case "facts":
		residents := strings.Split(os.Getenv(envFaultResidents), ",")
		round := os.Getenv(envFaultRound)
		done := make(chan error, faultWorkers)
		for g := 0; g < faultWorkers; g++ {
			go func() {
				for n := 0; n < faultBatches; n++ {
					fmt.Fprintf(os.Stdout, "try %d %d\n", g, n)
					if _, err := db.RecordFacts(as(lab), faultBatch(round, residents, now, g, n)); err != nil {
						done <- fmt.Errorf("goroutine %d batch %d: %w", g, n, err)
						return
					}
					fmt.Fprintf(os.Stdout, "ack %d %d\n", g, n)
				}
				done <- nil
			}()
		}
		for g := 0; g < faultWorkers; g++ {
			if err := <-done; err != nil {
				die(3, "%v", err)
			}
		}
	case "appeals":
		// Each goroutine files appeals for its resident, each with its
		// own Idempotency-Key (idempotency_test.go).
		residents := strings.Split(os.Getenv(envFaultResidents), ",")
		done := make(chan error, faultWorkers)
		for g := 0; g < faultWorkers; g++ {
			go func() {
				for n := 0; n < keyedAppeals; n++ {
					fmt.Fprintf(os.Stdout, "try %d %d\n", g, n)
					if _, err := db.FileAppeal(keyedAppeal(residents[g], g, n)); err != nil {
						done <- fmt.Errorf("goroutine %d appeal %d: %w", g, n, err)
						return
					}
					fmt.Fprintf(os.Stdout, "ack %d %d\n", g, n)
				}
				done <- nil
			}()
		}
		for g := 0; g < faultWorkers; g++ {
			if err := <-done; err != nil {
				die(3, "%v", err)
			}
		}
	default:
		die(3, "%s: want facts, job or appeals", envFaultMode)
	}
	die(4, "failpoint %s was passed %d times, fewer than %d", point, passed, hit)
}

// faultCase is one cell of the matrix: die at the hit-th pass of point
// while recording facts or running a job.
type faultCase struct {
	mode, point string
	hit         int
}

func faultCases(full bool) []faultCase {
	var out []faultCase
	for _, p := range store.Failpoints() {
		job := strings.HasPrefix(p, "job.")
		hits := []int{3}
		switch {
		case full && (p == "stmt.before" || p == "stmt.after"):
			hits = nil
			for h := 1; h <= 40; h++ {
				hits = append(hits, h)
			}
		case full:
			hits = []int{1, 2, 3, 5, 8}
		case p == "stmt.before" || p == "stmt.after":
			hits = []int{2, 30} // in the first batch, then in a later one
		}
		for _, h := range hits {
			if job {
				out = append(out, faultCase{"job", p, h})
			} else {
				out = append(out, faultCase{"facts", p, h})
			}
		}
	}
	// Crashes inside a job's own group commits.
	jobPoints := []string{"commit.before", "commit.after"}
	if full {
		jobPoints = append(jobPoints, "batch.begun", "checkpoint.sign.before", "checkpoint.store.after", "stmt.before", "stmt.after")
	}
	for _, p := range jobPoints {
		out = append(out, faultCase{"job", p, 2})
	}
	return out
}

// TestFaultMatrix kills a writer at each failpoint of the write path, on
// each engine, and after each restart checks that the log verifies, every
// acknowledged batch is there, every unacknowledged one is wholly there or
// wholly absent, a retry with the same fact ids adds nothing twice, and an
// interrupted job resumes and counts each resident once. The cases run in
// turn on one database, each crash on top of the last.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		itin := healthcode.Source{ID: "s_itin", Name: "行程数据平台", Kinds: []string{"area_visit"}, Jurisdiction: "410000"}
		if err := w.db.CreateSource(system, itin, "hck_itinkeyitinkeyitinkeyitin"); err != nil {
			t.Fatal(err)
		}
		day := w.now.Add(-24 * time.Hour)
		if _, err := w.db.RecordFacts(as(lab), []healthcode.Fact{w.fact("case-1", "case_status", "r_test000000", day, `{"status":"confirmed","case_id":"C-1"}`)}); err != nil {
			t.Fatal(err)
		}
		engine := t
		for i, c := range faultCases(*faultsFull) {
			name := fmt.Sprintf("%s/%s/%d", c.mode, c.point, c.hit)
			t.Run(name, func(t *testing.T) {
				// Residents new to this case, so that its facts and
				// designations change codes.
				var fresh []healthcode.Resident
				var ids []string
				for k := 0; k < 3; k++ {
					r := resident(1000+10*i+k, "410105001001")
					fresh = append(fresh, r)
					ids = append(ids, r.ID)
				}
				db := w.db
				if err := db.CreateResidents(system, fresh); err != nil {
					t.Fatal(err)
				}
				if c.mode == "job" {
					mustDesignate(t, w, i, ids[0])
				}
				head, err := db.LogHead(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				round := strconv.Itoa(i)
				out, err := runFaultHelper(t, dsn, c, w.now, round, append(ids, "r_test000001", "r_test000002"))
				if err != nil {
					t.Fatal(err)
				}
				// Restart.
				reopened, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet, Now: func() time.Time { return w.now }})
				if err != nil {
					t.Fatalf("open after the crash: %v", err)
				}
				w.db = reopened
				engine.Cleanup(func() { reopened.Close() }) // the next case goes on with it
				mustVerifyLog(t, w.db)
				if c.mode == "job" {
					mustResumeJob(t, w, head.Size)
				} else {
					mustRetryFacts(t, w, out, round, append(ids, "r_test000001", "r_test000002"), head.Size)
				}
			})
			if t.Failed() {
				return // the next cases build on this one's database
			}
		}
		mustVerifyLog(t, w.db) // after the last case's retries or resumed job
	})
}

// mustDesignate records that resident visited a street, then designates
// the street a high-risk area (two officials), which queues a job.
func mustDesignate(t *testing.T, w *world, i int, resident string) {
	t.Helper()
	day := w.now.Add(-24 * time.Hour)
	visit := w.fact(fmt.Sprint("v-", i), "area_visit", resident, day, fmt.Sprintf(`{"area":"410105001002","arrived_at":%q,"departed_at":%q}`,
		day.Format(time.RFC3339), day.Add(2*time.Hour).Format(time.RFC3339)))
	if _, err := w.db.RecordFacts(as(healthcode.Actor{Kind: healthcode.ActorSource, ID: "s_itin"}), []healthcode.Fact{visit}); err != nil {
		t.Fatal(err)
	}
	area := w.fact(fmt.Sprint("ra-", i), "risk_area", "410105001", day.Add(-time.Hour), fmt.Sprintf(`{"level":"high","from":%q,"until":%q,"case_ids":["C-1"]}`,
		day.Add(-time.Hour).Format(time.RFC3339), w.now.Add(72*time.Hour).Format(time.RFC3339)))
	res, err := w.db.RecordFacts(as(cmdCounty), []healthcode.Fact{area})
	if err != nil {
		t.Fatalf("risk area: %v", err)
	}
	// The first designation raises and waits for a second official; later
	// ones of the area in force are active at once. Either queues a job.
	if res.Facts[0].Status == "pending" {
		if _, err := w.db.DecideFact(as(cmdProvince1), res.Facts[0].Key, true, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// faultOutput is what the helper said before it died.
type faultOutput struct {
	tried, acked map[[2]int]bool // (goroutine, batch)
}

// runFaultHelper runs the helper for case c and checks it died of SIGKILL
// at the failpoint.
func runFaultHelper(t *testing.T, dsn string, c faultCase, now time.Time, round string, residents []string) (*faultOutput, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envFaultDSN+"="+dsn, envFaultPoint+"="+c.point, envFaultHit+"="+strconv.Itoa(c.hit), envFaultMode+"="+c.mode,
		envFaultNow+"="+now.Format(time.RFC3339Nano), envFaultRound+"="+round, envFaultResidents+"="+strings.Join(residents, ","))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return nil, fmt.Errorf("helper did not die at %s: %v; stderr:\n%s", c.point, err, stderr.String())
	}
	out := &faultOutput{tried: map[[2]int]bool{}, acked: map[[2]int]bool{}}
	killed := false
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "kill" {
			killed = true
			continue
		}
		if len(f) != 3 || (f[0] != "try" && f[0] != "ack") {
			return nil, fmt.Errorf("helper printed %q", sc.Text())
		}
		g, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("helper printed %q", sc.Text())
		}
		if f[0] == "try" {
			out.tried[[2]int{g, n}] = true
		} else {
			out.acked[[2]int{g, n}] = true
		}
	}
	if !killed {
		return nil, fmt.Errorf("helper died of SIGKILL but not at its failpoint; stderr:\n%s", stderr.String())
	}
	return out, nil
}

// mustRetryFacts retries every batch the helper tried, with the same fact
// ids, as a client whose request failed would: an acknowledged batch must
// be all duplicates, an unacknowledged one all duplicates or all new (it
// committed whole or not at all), and afterwards the log holds one
// fact.recorded entry per fact id tried since size, no more.
func mustRetryFacts(t *testing.T, w *world, out *faultOutput, round string, residents []string, size int64) {
	t.Helper()
	ids := map[string]bool{}
	committed := 0
	for b := range out.tried {
		facts := faultBatch(round, residents, w.now, b[0], b[1])
		res, err := w.db.RecordFacts(as(lab), facts)
		if err != nil {
			t.Fatalf("retry of batch %v: %v", b, err)
		}
		dup := 0
		for _, f := range res.Facts {
			if f.Status == "duplicate" {
				dup++
			}
		}
		switch {
		case out.acked[b] && dup != len(facts):
			t.Errorf("batch %v was acknowledged, but only %d of its %d facts were stored", b, dup, len(facts))
		case dup != 0 && dup != len(facts):
			t.Errorf("batch %v was stored in part: %d of its %d facts", b, dup, len(facts))
		}
		if dup > 0 {
			committed++
		}
		for _, f := range facts {
			ids[f.ID] = true
		}
	}
	if len(out.acked) > 0 && committed < len(out.acked) {
		t.Errorf("%d batches acknowledged, %d found stored", len(out.acked), committed)
	}
	if n := mustCountKind(t, w.db, size, tlog.KindFactRecorded); n != len(ids) {
		t.Errorf("after retrying, the log has %d fact.recorded entries since %d for %d fact ids", n, size, len(ids))
	}
	t.Logf("%d batches tried, %d acknowledged, %d committed before the kill or on retry", len(out.tried), len(out.acked), committed)
}

// mustResumeJob runs the interrupted job to its end and checks it counted
// each resident in scope once and each code change once.
func mustResumeJob(t *testing.T, w *world, size int64) {
	t.Helper()
	if _, err := w.db.RunJobs(context.Background(), nil); err != nil {
		t.Fatalf("resume jobs: %v", err)
	}
	jobs, err := w.db.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	j := jobs[0] // this case's: the last queued (they share the clock)
	for _, o := range jobs {
		if o.LogIndex > j.LogIndex {
			j = o
		}
	}
	if j.Status != healthcode.JobDone || j.Done != j.Total {
		t.Errorf("job after the restart: status %s, %d of %d residents done", j.Status, j.Done, j.Total)
	}
	if n := mustCountKind(t, w.db, size, tlog.KindCodeChanged); int64(n) != j.Changed {
		t.Errorf("job counts %d code changes, the log has %d since it was queued", j.Changed, n)
	}
	if j.Changed == 0 {
		t.Errorf("job changed no code; the case's visitor should have turned red")
	}
	if n := mustCountKind(t, w.db, size, tlog.KindJobFinished); n != 1 {
		t.Errorf("%d job.finished entries since the job was queued, want 1", n)
	}
}

// mustCountKind counts the log's entries of kind from index start.
func mustCountKind(t *testing.T, db *store.DB, start int64, kind tlog.Kind) int {
	t.Helper()
	head, err := db.LogHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := db.ReadLeaves(context.Background(), start, head.Size)
	if err != nil {
		t.Fatalf("read entries [%d, %d): %v", start, head.Size, err)
	}
	n := 0
	for i, l := range leaves {
		e, err := tlog.ParseEntry(l)
		if err != nil {
			t.Fatalf("entry %d: %v", start+int64(i), err)
		}
		if e.Kind == kind {
			n++
		}
	}
	return n
}
