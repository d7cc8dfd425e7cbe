package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/verify"
)

// mustSmallFS mounts a tmpfs of size bytes and returns its directory,
// unmounted when the test ends. It skips the test where mounting is not
// allowed (it needs root, or CAP_SYS_ADMIN).
func mustSmallFS(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("disk-full test skipped: cannot mount a %d-byte tmpfs at %s (needs root or CAP_SYS_ADMIN): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// mustFill writes a file in dir until the filesystem is full and returns
// its path.
func mustFill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
	}
	// The last bytes, a page at a time.
	for err == nil || errors.Is(err, syscall.ENOSPC) {
		if _, err = f.Write(chunk[:512]); errors.Is(err, syscall.ENOSPC) {
			break
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	return path
}

// TestDiskFull runs a SQLite server on a small filesystem and fills it:
// writes fail with 503 and a message saying the disk is full, reads and
// tokens go on, and once space is freed the failed batch is retried and
// lands, and the log verifies with every acknowledged write in it.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a filesystem")
	}
	dir := mustSmallFS(t, 24<<20)
	dsn := filepath.Join(dir, "healthcode.db")
	f := mustFixture(t, dsn)
	ts := mustTokenServer(t, f.db, "cn-41")
	f.mustDefaultPublished(t)
	src := healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"test_result"}, Jurisdiction: "410000"}
	const key = "hck_0123456789abcdef0123456789ab"
	if err := f.db.CreateSource(system, src, key); err != nil {
		t.Fatal(err)
	}
	res1 := f.login(t, "login-r_res1")
	day := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	// batch n: 12 negative PCR results (the fixture's body limit is 4 KB).
	batch := func(n int) string {
		var b strings.Builder
		for k := 0; k < 12; k++ {
			fmt.Fprintf(&b, `{"id":"df-%d-%d","kind":"test_result","subject":"r_res%d","observed_at":%q,"payload":{"method":"pcr","result":"negative","sampled_at":%q,"lab":"郑州市疾控中心实验室"}}`+"\n",
				n, k, 1+k%2, day, day)
		}
		return b.String()
	}
	if status, m := f.do(t, "POST", "/v1/facts", key, batch(0)); status != 200 {
		t.Fatalf("batch before the disk is full: %d %v", status, m)
	}

	filler := mustFill(t, dir)
	// Writes go on into space SQLite already holds, then fail.
	acked := []int{0}
	failed := -1
	var failure map[string]any
	for n := 1; n <= 200 && failed < 0; n++ {
		status, m := f.do(t, "POST", "/v1/facts", key, batch(n))
		switch status {
		case 200:
			acked = append(acked, n)
		case 503:
			failed, failure = n, m
		default:
			t.Fatalf("batch %d with the disk full: %d %v, want 200 or 503", n, status, m)
		}
	}
	if failed < 0 {
		t.Fatalf("200 batches written with the disk full")
	}
	msg := fmt.Sprint(failure["error"].(map[string]any)["message"])
	if errCode(failure) != healthcode.EUNAVAIL || !strings.Contains(msg, "disk is full") {
		t.Errorf("write with the disk full: %v, want unavailable saying the disk is full", failure)
	}
	// Reads and tokens go on.
	for _, path := range []string{"/v1/residents/r_res1/code", "/v1/residents/r_res1/token", "/log/checkpoint", "/v1/log/entries/0", "/v1/trust", "/readyz"} {
		if status, b := get(t, ts.URL+path, res1); status != 200 {
			t.Errorf("GET %s with the disk full: %d %.300s", path, status, b)
		}
	}
	// A second write fails the same way, and does not wedge the writer.
	if status, m := f.do(t, "POST", "/v1/facts", key, batch(failed)); status != 503 {
		t.Errorf("retry with the disk still full: %d %v, want 503", status, m)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	status, m := f.do(t, "POST", "/v1/facts", key, batch(failed))
	if status != 200 {
		t.Fatalf("retry once space is freed: %d %v", status, m)
	}
	for _, fo := range m["facts"].([]any) {
		if s := fo.(map[string]any)["status"]; s != "active" {
			t.Errorf("retried batch: a fact is %v, want active (the failed write stored nothing)", s)
		}
	}
	acked = append(acked, failed)
	// Nothing is corrupted: the log verifies and holds every acknowledged
	// batch once.
	rep, err := verify.Log(context.Background(), f.db.VerifyView(), verify.Options{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %v", p)
	}
	for _, n := range acked {
		status, m := f.do(t, "POST", "/v1/facts", key, batch(n))
		if status != 200 {
			t.Fatalf("batch %d resubmitted: %d %v", n, status, m)
		}
		for _, fo := range m["facts"].([]any) {
			if s := fo.(map[string]any)["status"]; s != "duplicate" {
				t.Errorf("batch %d acknowledged before: resubmitted, a fact is %v, want duplicate", n, s)
			}
		}
	}
	if err := f.db.Ready(context.Background()); err != nil {
		t.Errorf("ready after: %v", err)
	}
	t.Logf("%d batches acknowledged with the disk filling, the next refused", len(acked)-2)
}
