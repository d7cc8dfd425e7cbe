package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/healthcode/healthcode/tlog"
)

func runWitness(ctx context.Context, e *env) error {
	return runSubcommand(ctx, e, "witness", []subcommand{{"keygen", runWitnessKeygen}, {"key", runWitnessKey}, {"serve", runWitnessServe}})
}

func runWitnessKeygen(ctx context.Context, e *env) error {
	fs := newFlags(e, "witness keygen", "witness keygen --key FILE --name NAME")
	file := fs.String("key", "", "file to create with the witness's private key (mode 0600; must not exist)")
	name := fs.String("name", "", "the witness's name, e.g. witness.hc.hubei.gov.cn: its cosignature lines carry it")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	if *file == "" || *name == "" {
		return usagef("--key and --name are required")
	}
	skey, _, err := note.GenerateKey(rand.Reader, *name)
	if err != nil {
		return usagef("bad --name %q: %v", *name, err)
	}
	_, vkey, err := tlog.NewWitnessSigner(skey)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create witness key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "witness key written to %s\nwitness verifier key (give it to the log's operator and to verifiers): %s\n", *file, vkey)
	return nil
}

func runWitnessKey(ctx context.Context, e *env) error {
	fs := newFlags(e, "witness key", "witness key --key FILE")
	file := fs.String("key", "", "the witness's private key file")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	_, vkey, err := readWitnessKey(e, *file)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, vkey)
	return nil
}

// readWitnessKey reads a witness key file; a file others can read is
// refused.
func readWitnessKey(e *env, file string) (note.Signer, string, error) {
	if file == "" {
		return nil, "", usagef("--key is required: the witness's key file ('healthcode witness keygen')")
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, "", fmt.Errorf("witness key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("witness key %s is readable by others (mode %04o): chmod 600 %s", file, st.Mode().Perm(), file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("witness key: %w", err)
	}
	return tlog.NewWitnessSigner(strings.TrimSpace(string(b)))
}

// readLogKeys reads a --logs file: log verifier keys, one a line; blank
// lines and text after '#' are ignored. A key that does not parse is an
// error naming its line.
func readLogKeys(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--logs: %w", err)
	}
	var keys []string
	for i, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if _, err := note.NewVerifier(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %q is not a log verifier key: %v", file, i+1, line, err)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no log verifier key in it", file)
	}
	return keys, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runWitnessServe(ctx context.Context, e *env) error {
	fs := newFlags(e, "witness serve", "witness serve --state DIR --key FILE (--log VKEY... | --logs FILE) [--addr HOST:PORT]")
	state := fs.String("state", "", "directory keeping, per log, the last checkpoint cosigned, and evidence of forks")
	file := fs.String("key", "", "the witness's private key file ('healthcode witness keygen')")
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	var logs listFlag
	fs.Var(&logs, "log", "verifier key of a log to witness (its name is the log's origin; repeat for each log, e.g. each province recognised)")
	logsFile := fs.String("logs", "", "file of verifier keys of logs to witness, one a line ('#' starts a comment), besides any --log")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "", "log format: json, or text (key=value); default text when stderr is a terminal, JSON otherwise")
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	if *state == "" {
		return usagef("--state is required: the witness's state directory")
	}
	if *logsFile != "" {
		keys, err := readLogKeys(*logsFile)
		if err != nil {
			return err
		}
		logs = append(logs, keys...)
	}
	if len(logs) == 0 {
		return usagef("--log or --logs is required: the verifier key of each log to witness")
	}
	signer, vkey, err := readWitnessKey(e, *file)
	if err != nil {
		return err
	}
	ws := &tlog.WitnessServer{Signer: signer, Logs: map[string]note.Verifier{}, Dir: *state}
	for _, k := range logs {
		v, err := note.NewVerifier(k)
		if err != nil {
			return usagef("bad --log %q: %v", k, err)
		}
		ws.Logs[v.Name()] = v
	}
	unlock, err := ws.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	logger, err := newLogger(e, *level, *format)
	if err != nil {
		return err
	}
	ws.Logger = logger
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	origins := make([]string, 0, len(ws.Logs))
	for o := range ws.Logs {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	logger.Info("witness serving", "url", "http://"+ln.Addr().String(), "verifier_key", vkey, "logs", origins)
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			logger.Warn("witness: shutdown", "err", err)
		}
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("witness shut down")
	return nil
}

// policyFlags adds the verifier's witness policy flags to fs: --witness
// (repeatable), --quorum and --witnesses. The returned function gives the
// policy, nil if no witness was named.
func policyFlags(fs *flag.FlagSet) func() (*tlog.Policy, error) {
	var keys listFlag
	fs.Var(&keys, "witness", "a witness whose cosignature counts towards the quorum: [NAME=]VKEY (repeat for each)")
	quorum := fs.Int("quorum", 0, "cosignatures required of the --witness keys (default: all of them)")
	file := fs.String("witnesses", "", "witness policy file (lines 'witness NAME VKEY [URL]' and 'quorum K|all'), instead of --witness and --quorum")
	maxAge := fs.Duration("max-age", 0, "refuse a checkpoint whose quorum of cosignatures is older than this, e.g. 10m (default: any age)")
	return func() (*tlog.Policy, error) {
		p, err := parsePolicyFlags(keys, *quorum, *file)
		if p == nil || err != nil {
			if err == nil && *maxAge != 0 {
				return nil, usagef("--max-age needs --witness keys or --witnesses")
			}
			return p, err
		}
		p.MaxAge = *maxAge
		return p, nil
	}
}

// parsePolicyFlags builds the policy of --witness, --quorum and --witnesses.
func parsePolicyFlags(keys []string, quorum int, file string) (*tlog.Policy, error) {
	if file != "" {
		if len(keys) > 0 || quorum != 0 {
			return nil, usagef("give either --witnesses or --witness and --quorum, not both")
		}
		return readPolicy(file)
	}
	if len(keys) == 0 {
		if quorum != 0 {
			return nil, usagef("--quorum needs --witness keys")
		}
		return nil, nil
	}
	var ws []tlog.Witness
	for _, k := range keys {
		w, err := tlog.ParseWitness(k)
		if err != nil {
			return nil, usagef("bad --witness: %v", err)
		}
		ws = append(ws, w)
	}
	k := quorum
	if k == 0 {
		k = len(ws)
	}
	p, err := tlog.NewPolicy(ws, k)
	if err != nil {
		return nil, usagef("witness policy: %v", err)
	}
	return p, nil
}

// readPolicy reads a witness policy file.
func readPolicy(file string) (*tlog.Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("witness policy: %w", err)
	}
	p, err := tlog.ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("witness policy %s: %w", file, err)
	}
	return p, nil
}

// printCosignatures lists a checkpoint's cosignatures, as evidence.
func printCosignatures(e *env, cs []tlog.Cosignature) {
	for _, c := range cs {
		fmt.Fprintf(e.stdout, "  cosigned by %s at %s\n", c.Witness, c.Time.Format(time.RFC3339))
	}
}

// demoWitnessNames are the in-process witnesses of serve --demo.
var demoWitnessNames = []string{"witness-a.demo.healthcode.local", "witness-b.demo.healthcode.local"}

// startDemoWitnesses runs, for serve --demo without a policy, two
// in-process witnesses of the log on loopback, keeping their keys and
// state in a demo-witnesses directory beside the database (as the demo
// credentials are), and returns the policy "2 of both".
func startDemoWitnesses(ctx context.Context, e *env, logger *slog.Logger, dsn, logVKey string) (*tlog.Policy, error) {
	dir := filepath.Join(filepath.Dir(credentialsPath(dsn)), "demo-witnesses")
	lv, err := note.NewVerifier(logVKey)
	if err != nil {
		return nil, err
	}
	var witnesses []tlog.Witness
	for _, name := range demoWitnessNames {
		keyFile := filepath.Join(dir, name+".key")
		if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
			skey, _, err := note.GenerateKey(rand.Reader, name)
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
				return nil, err
			}
		}
		signer, vkey, err := readWitnessKey(e, keyFile)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ws := &tlog.WitnessServer{Signer: signer, Logs: map[string]note.Verifier{lv.Name(): lv}, Dir: filepath.Join(dir, name), Logger: logger}
		unlock, err := ws.Lock()
		if err != nil {
			_ = ln.Close() // the error is the lock's
			return nil, err
		}
		hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				logger.Error("demo witness stopped", "witness", name, "err", err)
			}
		}()
		go func() {
			<-ctx.Done()
			defer unlock()
			if err := hs.Close(); err != nil {
				logger.Warn("demo witness: close", "witness", name, "err", err)
			}
		}()
		w, err := tlog.ParseWitness(vkey)
		if err != nil {
			return nil, err
		}
		w.URL = "http://" + ln.Addr().String()
		witnesses = append(witnesses, w)
	}
	return tlog.NewPolicy(witnesses, len(witnesses))
}
