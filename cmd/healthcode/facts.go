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
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(*url, "/")+"/v1/facts", &body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+*key)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("post facts %d–%d: %w", i+1, i+len(part), err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var eb struct {
				Error struct {
					Code, Message string
					Details       []struct {
						Line           int
						Field, Message string
					}
				}
			}
			json.Unmarshal(b, &eb)
			for _, d := range eb.Error.Details {
				where := fmt.Sprintf("%s:%d", fs.Arg(0), part[d.Line-1].line)
				if d.Field != "" {
					where += ": " + d.Field
				}
				fmt.Fprintf(e.stderr, "%s: %s\n", where, d.Message)
			}
			if len(eb.Error.Details) == 0 {
				fmt.Fprintf(e.stderr, "healthcode: error: server said %d: %s\n", resp.StatusCode, eb.Error.Message)
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
			json.Compact(&c, it)
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
