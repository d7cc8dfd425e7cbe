package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestImportRetries: facts import sends a batch again after a failure
// that may pass (here 503 and 429), the same bytes each time, and gives
// up after its retries with a message that says a rerun is safe; a
// refusal (400) is not retried.
func TestImportRetries(t *testing.T) {
	defer func(d []time.Duration) { importRetries = d }(importRetries)
	importRetries = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	file := filepath.Join(t.TempDir(), "facts.ndjson")
	lines := `{"id":"pcr-1","kind":"test_result","subject":"r_1","payload":{"method":"pcr","result":"negative","sampled_at":"2022-06-13T08:00:00+08:00","lab":"x"}}
{"id":"pcr-2","kind":"test_result","subject":"r_2","payload":{"method":"pcr","result":"negative","sampled_at":"2022-06-13T08:00:00+08:00","lab":"x"}}
`
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		statuses []int // the server's answers in turn; 200 after them
		wantReqs int
		wantErr  string // "" for success
	}{
		{"passes after two failures", []int{503, 429}, 3, ""},
		{"gives up", []int{503, 503, 502, 504}, 4, "running the import again is safe"},
		{"refusal is final", []int{400}, 1, "rejected (nothing of it stored)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				n := len(bodies)
				bodies = append(bodies, string(b))
				mu.Unlock()
				if n < len(tc.statuses) {
					w.WriteHeader(tc.statuses[n])
					w.Write([]byte(`{"error":{"code":"unavailable","message":"busy"}}`))
					return
				}
				w.Write([]byte(`{"facts":[{"status":"active"},{"status":"active"}],"codes_changed":0}`))
			}))
			defer ts.Close()
			var stdout, stderr bytes.Buffer
			e := &env{args: []string{"import", "--url", ts.URL, "--key", "hck_test", file}, stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			err := runFacts(context.Background(), e)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("import: %v, want %q (stderr %s)", err, tc.wantErr, stderr.String())
			}
			if len(bodies) != tc.wantReqs {
				t.Errorf("%d requests, want %d", len(bodies), tc.wantReqs)
			}
			for i, b := range bodies {
				if b != lines {
					t.Errorf("request %d sent %q, want the batch as read", i, b)
				}
			}
			if tc.wantErr == "" && !strings.Contains(stdout.String(), "2 facts: 2 stored") {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}
