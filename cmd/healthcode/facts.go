package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func runFacts(ctx context.Context, e *env) error {
	if len(e.args) == 0 || e.args[0] != "import" {
		return usagef("usage: healthcode facts import --url URL --key KEY FILE")
	}
	fs := newFlags(e, "facts import", "facts import --url URL --key KEY [--batch N] FILE")
	url := fs.String("url", "", "the server, e.g. http://127.0.0.1:8080")
	key := fs.String("key", e.getenv("HEALTHCODE_API_KEY"), "the source's API key, or an official's session token (env HEALTHCODE_API_KEY)")
	batch := fs.Int("batch", 1000, "facts per request (1 to 10000); each request is accepted or rejected whole")
	if err := parseFlags(e, fs, e.args[1:]); err != nil {
		return err
	}
	switch {
	case *url == "":
		return usagef("--url is required")
	case *key == "":
		return usagef("--key is required (or set HEALTHCODE_API_KEY)")
	case *batch < 1 || *batch > 10000:
		return usagef("--batch must be between 1 and 10000")
	case fs.NArg() != 1:
		return usagef("facts import needs exactly one FILE (NDJSON, one fact per line, or a JSON array)")
	}
	lines, err := readFactLines(fs.Arg(0))
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	total, stored, pending, dup, changed := len(lines), 0, 0, 0, 0
	start := time.Now()
	for i := 0; i < total; i += *batch {
		part := lines[i:min(i+*batch, total)]
		var body bytes.Buffer
		for _, l := range part {
			body.Write(l.data)
			body.WriteByte('\n')
		}
		status, b, err := postBatch(ctx, e, client, strings.TrimSuffix(*url, "/")+"/v1/facts", *key, body.Bytes())
		if err != nil {
			return fmt.Errorf("post the facts of lines %d–%d: %w; %d facts imported before them (running the import again is safe: facts already stored are skipped)",
				part[0].line, part[len(part)-1].line, err, i)
		}
		if status != http.StatusOK {
			var eb struct {
				Error struct {
					Code, Message string
					Details       []struct {
						Line           int
						Field, Message string
					}
					DetailsTotal int `json:"details_total"`
				}
			}
			if err := json.Unmarshal(b, &eb); err != nil {
				return fmt.Errorf("batch of lines %d–%d: server said %d with a body that is not a JSON error (%v): %.200s", part[0].line, part[len(part)-1].line, status, err, b)
			}
			for _, d := range eb.Error.Details {
				where := fmt.Sprintf("%s:%d", fs.Arg(0), part[d.Line-1].line)
				if d.Field != "" {
					where += ": " + d.Field
				}
				fmt.Fprintf(e.stderr, "%s: %s\n", where, d.Message)
			}
			if more := eb.Error.DetailsTotal - len(eb.Error.Details); more > 0 {
				fmt.Fprintf(e.stderr, "healthcode: error: and %d more error(s) in the batch\n", more)
			}
			if len(eb.Error.Details) == 0 {
				fmt.Fprintf(e.stderr, "healthcode: error: server said %d: %s\n", status, eb.Error.Message)
			}
			return fmt.Errorf("batch of lines %d–%d rejected (nothing of it stored); %d facts imported before it", part[0].line, part[len(part)-1].line, i)
		}
		var res struct {
			Facts []struct {
				Status string
			}
			CodesChanged int `json:"codes_changed"`
		}
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("server's answer: %w", err)
		}
		for _, f := range res.Facts {
			switch f.Status {
			case "active":
				stored++
			case "pending":
				pending++
			case "duplicate":
				dup++
			}
		}
		changed += res.CodesChanged
		done := i + len(part)
		fmt.Fprintf(e.stderr, "\rhealthcode: %s %d/%d facts (%.0f/s)", bar(done, total), done, total, float64(done)/time.Since(start).Seconds())
	}
	fmt.Fprintln(e.stderr)
	fmt.Fprintf(e.stdout, "%d facts: %d stored, %d pending approval, %d already there; %d codes changed\n", total, stored, pending, dup, changed)
	return nil
}

// importRetries are the waits before each new try of a batch after a
// failure that may pass (a network error, 429, 502, 503 or 504): five
// tries more at most. A batch sent again is harmless, since facts already
// stored are skipped.
var importRetries = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// postBatch posts one NDJSON batch, retrying failures that may pass
// (waiting as long as a Retry-After header asks, up to a minute). It
// returns the status and body of the answer that is not such a failure,
// or an error once the retries are spent.
func postBatch(ctx context.Context, e *env, client *http.Client, url, key string, body []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		var b []byte
		status := 0
		wait := time.Duration(0)
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
			if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
				wait = min(time.Duration(secs)*time.Second, time.Minute)
			}
		}
		transient := err != nil || status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
			status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
		if !transient {
			return status, b, nil
		}
		if attempt == len(importRetries) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("the server answered %d %s", status, http.StatusText(status))
			}
			return status, b, fmt.Errorf("%w, %d tries", err, attempt+1)
		}
		wait = max(wait, importRetries[attempt])
		why := fmt.Sprint("HTTP ", status)
		if err != nil {
			why = err.Error()
		}
		fmt.Fprintf(e.stderr, "\nhealthcode: %s; trying again in %s\n", why, wait)
		select {
		case <-ctx.Done():
			return status, b, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// bar draws a 20-character progress bar.
func bar(done, total int) string {
	n := 20 * done / max(total, 1)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 20-n) + "]"
}

type factLine struct {
	line int
	data []byte
}

// readFactLines reads NDJSON (one fact per line) or a JSON array.
func readFactLines(name string) ([]factLine, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, fmt.Errorf("%s: not a JSON array of facts: %v", name, err)
		}
		out := make([]factLine, len(items))
		for i, it := range items {
			var c bytes.Buffer
			if err := json.Compact(&c, it); err != nil {
				return nil, fmt.Errorf("%s: fact %d: %v", name, i+1, err)
			}
			out[i] = factLine{i + 1, c.Bytes()}
		}
		return out, nil
	}
	var out []factLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, factLine{n, append([]byte(nil), l...)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, n+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no facts", name)
	}
	return out, nil
}
