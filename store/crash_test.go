package store_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/verify"
)

// Environment of the writer helper process (TestCrashHelper).
const (
	envHelperDSN     = "HEALTHCODE_LOG_HELPER_DSN"     // the database to append to; unset: the helper does nothing
	envHelperWriter  = "HEALTHCODE_LOG_HELPER_WRITER"  // the writer's name, in every payload it writes
	envHelperWorkers = "HEALTHCODE_LOG_HELPER_WORKERS" // appending goroutines
	envHelperAppends = "HEALTHCODE_LOG_HELPER_APPENDS" // appends per goroutine; 0: until killed
)

// helperPayload is what the writers put in each entry, so that a reader
// can tell who wrote an entry and check it is exactly what was written.
type helperPayload struct {
	W string `json:"w"` // writer (process) name
	G int    `json:"g"` // goroutine
	N int    `json:"n"` // the goroutine's append number
	K int    `json:"k"` // the entry's place in the append
}

// helperBatch is the number of entries in a goroutine's append number n:
// 1 to 5, so that group commits mix small batches of different sizes.
func helperBatch(g, n int) int { return 1 + (g+n)%5 }

// An ack is one append a writer saw acknowledged: AppendEvents returned
// first for the events of (writer, goroutine, append number).
type ack struct {
	w            string
	g, n         int
	first, count int64
}

// runWriter appends from workers goroutines, appends each (forever if
// appends is 0), and reports each acknowledged append to out as
// "ack W G N FIRST COUNT" the moment AppendEvents returns.
func runWriter(ctx context.Context, db *store.DB, w string, workers, appends int, out func(ack)) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; appends == 0 || n < appends; n++ {
				evs := make([]store.Event, helperBatch(g, n))
				for k := range evs {
					evs[k] = store.Event{Kind: tlog.KindJobProgressed, Payload: helperPayload{w, g, n, k}}
				}
				first, err := db.AppendEvents(ctx, evs)
				if err != nil {
					errs <- fmt.Errorf("writer %s goroutine %d append %d: %w", w, g, n, err)
					return
				}
				out(ack{w, g, n, first, int64(len(evs))})
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestCrashHelper is the writer process of the crash and multi-process
// tests: with HEALTHCODE_LOG_HELPER_DSN set it opens that store and runs
// runWriter, printing acks on stdout (unbuffered: one write per line).
func TestCrashHelper(t *testing.T) {
	dsn := os.Getenv(envHelperDSN)
	if dsn == "" {
		t.Skip("helper process for TestCrash and TestConcurrentAppends")
	}
	workers, _ := strconv.Atoi(os.Getenv(envHelperWorkers))
	appends, _ := strconv.Atoi(os.Getenv(envHelperAppends))
	db, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	err = runWriter(system, db, os.Getenv(envHelperWriter), max(workers, 1), appends, func(a ack) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "ack %s %d %d %d %d\n", a.w, a.g, a.n, a.first, a.count)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	if err := db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "helper: close:", err)
		os.Exit(3)
	}
	os.Exit(0) // not through the test framework, whose "PASS" would go to stdout
}

// helperProc is a running writer process.
type helperProc struct {
	cmd    *exec.Cmd
	acks   chan ack // closed at the end of the child's stdout
	stderr *bytes.Buffer
	bad    chan string // stdout lines that are not acks
}

// startHelper starts a writer process (TestCrashHelper) on dsn.
func startHelper(t *testing.T, dsn, writer string, workers, appends int) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envHelperDSN+"="+dsn,
		envHelperWriter+"="+writer,
		envHelperWorkers+"="+strconv.Itoa(workers),
		envHelperAppends+"="+strconv.Itoa(appends))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &helperProc{cmd: cmd, acks: make(chan ack, 1024), stderr: new(bytes.Buffer), bad: make(chan string, 16)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		defer close(p.acks)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			a, ok := parseAck(sc.Text())
			if !ok {
				select {
				case p.bad <- sc.Text():
				default:
				}
				continue
			}
			p.acks <- a
		}
		_, _ = io.Copy(io.Discard, stdout) // drain; the helper's exit is what the test checks
	}()
	return p
}

func parseAck(line string) (ack, bool) {
	f := strings.Fields(line)
	if len(f) != 6 || f[0] != "ack" {
		return ack{}, false
	}
	var a ack
	var err [4]error
	a.w = f[1]
	a.g, err[0] = strconv.Atoi(f[2])
	a.n, err[1] = strconv.Atoi(f[3])
	a.first, err[2] = strconv.ParseInt(f[4], 10, 64)
	a.count, err[3] = strconv.ParseInt(f[5], 10, 64)
	for _, e := range err {
		if e != nil {
			return ack{}, false
		}
	}
	return a, true
}

// mustCheckAcks checks that the acknowledged appends are in the log,
// disjoint, each entry holding exactly the payload its writer wrote.
func mustCheckAcks(t *testing.T, db *store.DB, acks []ack) {
	t.Helper()
	owner := make(map[int64]ack)
	var end int64
	for _, a := range acks {
		for i := a.first; i < a.first+a.count; i++ {
			if o, ok := owner[i]; ok {
				t.Fatalf("index %d acknowledged twice: to %+v and to %+v", i, o, a)
			}
			owner[i] = a
		}
		end = max(end, a.first+a.count)
	}
	leaves, err := db.ReadLeaves(context.Background(), 0, end)
	if err != nil {
		t.Fatalf("read acknowledged entries [0, %d): %v", end, err)
	}
	for i, a := range owner {
		e, err := tlog.ParseEntry(leaves[i])
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		want, _ := json.Marshal(helperPayload{a.w, a.g, a.n, int(i - a.first)})
		if e.Index != i || e.Kind != tlog.KindJobProgressed || !bytes.Equal(e.Payload, want) {
			t.Errorf("entry %d acknowledged to %+v is index %d, %s %s; want %s %s", i, a, e.Index, e.Kind, e.Payload, tlog.KindJobProgressed, want)
		}
	}
}

func mustVerifyLog(t *testing.T, db *store.DB) *verify.Report {
	t.Helper()
	rep, err := verify.Log(context.Background(), db.VerifyView(), verify.Options{})
	if err != nil {
		t.Fatalf("verify log: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify log: %v", p)
	}
	return rep
}

// TestCrash kills a process appending under load with SIGKILL, twice, and
// checks that the log verifies and holds every append it acknowledged.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	testdb.Engines(t, func(t *testing.T, dsn string) {
		mustOpen(t, dsn).Close() // migrate once, before the writers race to
		const rounds, wantAcks = 2, 300
		var acks []ack
		for round := 0; round < rounds; round++ {
			p := startHelper(t, dsn, fmt.Sprint("crash", round), 8, 0)
			seen := 0
			timeout := time.After(60 * time.Second)
		read:
			for seen < wantAcks {
				select {
				case a, ok := <-p.acks:
					if !ok {
						break read
					}
					acks = append(acks, a)
					seen++
				case <-timeout:
					break read
				}
			}
			p.cmd.Process.Kill() // SIGKILL
			// Acks the child printed before it died are acknowledged too.
			for a := range p.acks {
				acks = append(acks, a)
				seen++
			}
			p.cmd.Wait()
			select {
			case line := <-p.bad:
				t.Errorf("helper printed %q", line)
			default:
			}
			if seen < wantAcks {
				t.Fatalf("round %d: helper acknowledged %d appends, want %d; stderr:\n%s", round, seen, wantAcks, p.stderr)
			}
		}

		db := mustOpen(t, dsn)
		rep := mustVerifyLog(t, db)
		mustCheckAcks(t, db, acks)
		// The log goes on from where the crash left it.
		next, err := db.AppendEvents(system, []store.Event{{Kind: tlog.KindJobProgressed, Payload: map[string]string{"after": "crash"}}})
		if err != nil {
			t.Fatalf("append after crash: %v", err)
		}
		if next != rep.Size {
			t.Errorf("first append after crash at index %d, want %d (the verified size)", next, rep.Size)
		}
		mustVerifyLog(t, db)
		t.Logf("%d acknowledged appends, %d entries in the log after the crash", len(acks), rep.Size)
	})
}
