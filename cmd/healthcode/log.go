package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/verify"
)

func runLog(ctx context.Context, e *env) error {
	return runSubcommand(ctx, e, "log", []subcommand{{"verify", runLogVerify}, {"rebuild", runLogRebuild}, {"move-origin", runLogMoveOrigin}, {"monitor", runLogMonitor}, {"prove", runLogProve}})
}

func runLogVerify(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "log verify", "log verify --db DB")
	db := dbFlag(e, fs)
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	start := time.Now()
	// Once a second: the entries checked and projected into a scratch
	// database, then the rows of each table compared.
	rep, err := verify.Log(ctx, st.VerifyView(), verify.Options{Logger: quietLogger(), Progress: copyProgress(e)})
	if err != nil {
		return err
	}
	// Nothing personal may outlive a log.erased entry (store/erase.go).
	outlived, err := st.CheckErasures(ctx)
	if err != nil {
		return err
	}
	rep.Problems = append(rep.Problems, outlived...)
	fmt.Fprintf(e.stdout, "log of %d entries, %d signed checkpoints, %d resident chains, %d projected rows rebuilt from the log and compared, %d code changes replayed, checked in %.1fs\n",
		rep.Size, rep.Checkpoints, rep.Subjects, rep.Projected, rep.CodeChanges, time.Since(start).Seconds())
	if len(rep.Exposed) > 0 {
		kinds := make([]string, 0, len(rep.Exposed))
		var n int64
		for k, c := range rep.Exposed {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, c))
			n += c
		}
		sort.Strings(kinds)
		fmt.Fprintf(e.stdout, "KNOWN EXPOSURE: %d v1 leaves (written before the v2 migration, immutable) name their resident and carry their payload in public: %s\n",
			n, strings.Join(kinds, ", "))
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(e.stdout, "OK: the log is intact and matches the state")
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "FAIL: %s\n", p)
	}
	return fmt.Errorf("log verification found %d problem(s)", len(rep.Problems))
}

// logClient builds a client for a server's log from --url, --key and the
// witness policy (nil: none required).
func logClient(url, key string, policy *tlog.Policy) (*tlog.Client, error) {
	if url == "" {
		return nil, usagef("--url is required (the server, e.g. http://127.0.0.1:8080)")
	}
	if key == "" {
		return nil, usagef("--key is required: the log's verifier key (name+hash+base64), obtained out of band")
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, usagef("bad --key %q: %v", key, err)
	}
	return &tlog.Client{BaseURL: logBaseURL(url), HTTP: &http.Client{Timeout: 30 * time.Second}, Verifier: v, Origin: v.Name(), Policy: policy}, nil
}

// logBaseURL is the log's base URL, the prefix of its tlog-tiles paths,
// for a --url value: a URL with a path (https://mirror.example/hc-41/log,
// or https://host/log) is taken as given, so that a mirror anywhere works;
// a bare server address (http://127.0.0.1:8080, with no path) means its
// /log, as before.
func logBaseURL(raw string) string {
	base := strings.TrimSuffix(raw, "/")
	if u, err := neturl.Parse(base); err == nil && u.Host != "" && u.Path == "" && u.RawQuery == "" {
		base += "/log"
	}
	return base
}

func runLogMonitor(ctx context.Context, e *env) error {
	fs := newFlags(e, "log monitor", "log monitor --url URL --key VERIFIER_KEY --state DIR [--witness VKEY]... [--quorum K]")
	url := fs.String("url", "", "the server's address, e.g. http://127.0.0.1:8080")
	key := fs.String("key", e.getenv("HEALTHCODE_LOG_KEY"), "the log's verifier key (env HEALTHCODE_LOG_KEY)")
	state := fs.String("state", "", "directory keeping the last verified checkpoint")
	policy := policyFlags(fs)
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if *state == "" {
		return usagef("--state is required: a directory for the last verified checkpoint")
	}
	p, err := policy()
	if err != nil {
		return err
	}
	c, err := logClient(*url, *key, p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	res, err := tlog.Monitor(ctx, c, *state)
	var ie *tlog.InconsistencyError
	if errors.As(err, &ie) {
		fmt.Fprintf(e.stdout, "INCONSISTENT: %v\n\nstored checkpoint:\n%s\nserved checkpoint:\n%s", ie.Err, ie.Old, ie.New)
		if p != nil {
			for _, m := range []struct {
				what string
				msg  []byte
			}{{"stored", ie.Old}, {"served", ie.New}} {
				cs, _ := p.Cosignatures(m.msg)
				fmt.Fprintf(e.stdout, "\n%s checkpoint: %d witness cosignature(s)\n", m.what, len(cs))
				printCosignatures(e, cs)
			}
		}
		return fmt.Errorf("the log is not append-only: keep both signed checkpoints above as evidence")
	}
	if err != nil {
		return err
	}
	if res.First {
		fmt.Fprintf(e.stdout, "first checkpoint stored: size %d, root %s\n", res.New.Size, res.New.Root)
	} else {
		fmt.Fprintf(e.stdout, "consistent: size %d → %d, root %s\n", res.Old.Size, res.New.Size, res.New.Root)
	}
	printCosignatures(e, res.Cosignatures)
	return nil
}

func runLogProve(ctx context.Context, e *env) error {
	fs := newFlags(e, "log prove", "log prove --url URL --key VERIFIER_KEY --index N [--witness VKEY]... [--quorum K]")
	url := fs.String("url", "", "the server's address, e.g. http://127.0.0.1:8080")
	key := fs.String("key", e.getenv("HEALTHCODE_LOG_KEY"), "the log's verifier key (env HEALTHCODE_LOG_KEY)")
	index := fs.Int64("index", -1, "the entry's index")
	policy := policyFlags(fs)
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if *index < 0 {
		return usagef("--index is required and must not be negative")
	}
	p, err := policy()
	if err != nil {
		return err
	}
	c, err := logClient(*url, *key, p)
	if err != nil {
		return err
	}
	cp, msg, err := c.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("fetch checkpoint: %w", err)
	}
	if *index >= cp.Size {
		return fmt.Errorf("entry %d is beyond the log's signed size %d", *index, cp.Size)
	}
	entry, err := c.ProveInclusion(ctx, *index, cp)
	if err != nil {
		return fmt.Errorf("entry %d: %w", *index, err)
	}
	text, _ := entry.MarshalText()
	fmt.Fprintf(e.stdout, "entry %d is in the log of size %d (root %s), signed by %s:\n%s", *index, cp.Size, cp.Root, c.Verifier.Name(), text)
	if p != nil {
		cs, _ := p.Cosignatures(msg)
		printCosignatures(e, cs)
	}
	return nil
}
