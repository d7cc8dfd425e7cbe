package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

func runServe(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "serve", "serve [--db DB] [--addr HOST:PORT] [--demo] [--residents N] [--seed N]")
	db := dbFlag(e, fs)
	addr := fs.String("addr", e.envOr("HEALTHCODE_ADDR", "127.0.0.1:8080"), "address to listen on (env HEALTHCODE_ADDR)")
	demoFlag := fs.Bool("demo", false, "seed a demo province if the database is empty")
	residents := fs.Int("residents", 10000, "residents in the demo province (with --demo)")
	seed := fs.Int64("seed", 1, "seed of the demo province (with --demo)")
	level := fs.String("log-level", e.envOr("HEALTHCODE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env HEALTHCODE_LOG_LEVEL)")
	format := fs.String("log-format", e.envOr("HEALTHCODE_LOG_FORMAT", ""), "log format: json, or text (key=value); default text when stderr is a terminal, JSON otherwise (env HEALTHCODE_LOG_FORMAT)")
	origin := fs.String("log-origin", e.envOr("HEALTHCODE_LOG_ORIGIN", ""), "origin line of the transparency log's checkpoints; default: the database's own, or for a new one derived from --public-url or --issuer (env HEALTHCODE_LOG_ORIGIN)")
	publicURL := fs.String("public-url", e.envOr("HEALTHCODE_PUBLIC_URL", ""), "the URL under which this server is published, e.g. https://hc.example.gov.cn; names a new log (env HEALTHCODE_PUBLIC_URL)")
	issuer := fs.String("issuer", e.envOr("HEALTHCODE_ISSUER", store.DefaultIssuer), "issuer name of a new deployment's trust list, e.g. cn-41 (env HEALTHCODE_ISSUER)")
	metricsAddr := fs.String("metrics-addr", e.envOr("HEALTHCODE_METRICS_ADDR", ""),
		"serve /metrics only on this HOST:PORT, a listener of its own (e.g. 127.0.0.1:9090), not on --addr (env HEALTHCODE_METRICS_ADDR)")
	proxies := fs.String("trusted-proxies", e.envOr("HEALTHCODE_TRUSTED_PROXIES", ""),
		"comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For names the client, for per-address login limits (env HEALTHCODE_TRUSTED_PROXIES)")
	auditEvery := fs.String("audit-interval", e.envOr("HEALTHCODE_AUDIT_INTERVAL", store.DefaultAuditInterval.String()),
		"time between two sweeps of the whole projection by the background auditor; 0 turns the auditor off (env HEALTHCODE_AUDIT_INTERVAL)")
	auditPath := fs.String("audit-path", e.envOr("HEALTHCODE_AUDIT_PATH", ""),
		"the background auditor's own projection of the log, a SQLite file, one per server (locked); default: beside a SQLite database, in the temporary directory for PostgreSQL, numbered for further servers on the host (env HEALTHCODE_AUDIT_PATH)")
	hotline := fs.String("hotline", e.envOr("HEALTHCODE_HOTLINE", "12345"), "telephone number the resident page gives under a yellow or red code (env HEALTHCODE_HOTLINE)")
	office := fs.String("office", e.envOr("HEALTHCODE_OFFICE", ""), "the office responsible for codes, as the resident page names it, e.g. 中原省疫情防控指挥部办公室; default: the command of the resident's county (env HEALTHCODE_OFFICE)")
	witnesses := fs.String("witnesses", e.envOr("HEALTHCODE_WITNESSES", ""), "witness policy file: lines 'witness NAME VKEY URL' and 'quorum K|all'; the server asks them to cosign each checkpoint (env HEALTHCODE_WITNESSES)")
	refresh := fs.Duration("witness-refresh", server.DefaultWitnessRefresh, "renew the witnesses' cosignatures of an unchanged checkpoint this often, to show the log is live")
	alertAfter := fs.Duration("witness-alert-after", server.DefaultWitnessAlertAfter, "raise a 'witness' alert when the witness policy has not been met for this long")
	zone := fs.String("time-zone", e.envOr("HEALTHCODE_TIME_ZONE", web.DefaultTimeZone),
		"IANA time zone in which pages show times and read their forms' date-time fields, e.g. Asia/Urumqi; the store keeps UTC (env HEALTHCODE_TIME_ZONE)")
	admit := fs.String("admission", e.envOr("HEALTHCODE_ADMISSION", ""),
		"bounds of admission classes, CLASS=INFLIGHT/QUEUE/WAIT,... (reads, ingest, writes, logins, expensive, pages), e.g. reads=64/256/20ms; unset parts keep the defaults (docs/operations.md) (env HEALTHCODE_ADMISSION)")
	limits := limitFlags(e, fs)
	retention := retentionFlags(e, fs)
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	admission, err := server.ParseAdmission(*admit)
	if err != nil {
		return usagef("--admission: %v", err)
	}
	var policy *tlog.Policy
	if *witnesses != "" {
		p, err := readPolicy(*witnesses)
		if err != nil {
			return err
		}
		for _, w := range p.Witnesses {
			if w.URL == "" {
				return fmt.Errorf("witness policy %s: witness %s has no URL: the server needs it to ask for cosignatures", *witnesses, w.Name)
			}
		}
		policy = p
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usagef("--time-zone: want an IANA zone such as Asia/Shanghai, not %q", *zone)
	}
	lim, err := limits()
	if err != nil {
		return err
	}
	auditInterval, err := time.ParseDuration(*auditEvery)
	if err != nil || auditInterval < 0 {
		return usagef("--audit-interval: want a duration such as 24h (0: no auditor), not %q", *auditEvery)
	}
	keep, err := retention()
	if err != nil {
		return err
	}
	trusted, err := parsePrefixes("trusted-proxies", *proxies)
	if err != nil {
		return err
	}
	logger, err := newLogger(e, *level, *format)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	b := healthcode.ReadBuild()
	logger.Info("starting", "version", b.Version, "revision", b.Revision, "modified", b.Modified, "go", b.GoVersion)
	gogc, gcDefault := setGC(e.getenv)
	logger.Info("garbage collector", "gogc", gogc, "from_env", !gcDefault, "gomemlimit", e.getenv("GOMEMLIMIT"))

	// The key secret seals the log and ID keys as well as the token keys,
	// so it is read before the database is opened.
	secret, from, err := keySecret(e, *db, *demoFlag)
	if err != nil {
		return err
	}
	newOrigin, err := deriveOrigin(*publicURL, *issuer, rand.Reader)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *db, store.Options{Logger: logger, LogOrigin: *origin, NewLogOrigin: newOrigin, Limits: lim, KeySecret: secret})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer closeStore(st, &err)
	warnLooseModes(logger, privateFiles(*db)...)
	warnKeysInClear(ctx, logger, st)
	if err := st.CanSign(); err != nil {
		logger.Error("writes disabled: the log cannot sign", "err", err)
	}

	var logins []server.DemoLogin
	if *demoFlag {
		creds, err := seedDemo(ctx, logger, st, *db, *seed, *residents)
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(creds)
		logger.Info("demo credentials written", "file", abs)
		if logins, err = demoLogins(creds); err != nil {
			return err
		}
	}
	logger.Info("transparency log", "origin", st.LogOrigin(), "verifier_key", st.LogVerifierKey())
	srv := server.New(st, server.Config{Logger: logger, Demo: *demoFlag, DemoLogins: logins, KeySecret: secret, Issuer: *issuer,
		TrustedProxies: trusted, HTTPS: strings.HasPrefix(strings.ToLower(*publicURL), "https://"), MetricsAddr: *metricsAddr,
		Hotline: *hotline, Office: *office, TimeZone: loc, Admission: admission})
	if secret == nil {
		logger.Warn("token issuing disabled: no key secret (set " + envKeySecret + ")")
	} else {
		if err := srv.StartTokens(ctx); err != nil {
			return fmt.Errorf("token keys: %w", err)
		}
		if m, err := st.Trust(ctx); err == nil {
			logger.Info("token issuing", "trust_list_key", fmt.Sprintf("%x", []byte(m.TrustKey)), "issuer", m.Issuer, "trust_list_version", m.Version, "key_secret_from", from)
		}
	}
	if policy == nil && *demoFlag {
		// A newcomer sees cosigned checkpoints: two in-process witnesses.
		if policy, err = startDemoWitnesses(ctx, e, logger, *db, st.LogVerifierKey()); err != nil {
			return fmt.Errorf("demo witnesses: %w", err)
		}
		for _, w := range policy.Witnesses {
			logger.Info("demo witness", "verifier_key", w.VKey, "url", w.URL)
		}
	}
	if policy != nil {
		if err := srv.StartWitnessing(ctx, server.WitnessConfig{Policy: policy, Refresh: *refresh, AlertAfter: *alertAfter}); err != nil {
			return fmt.Errorf("witnessing: %w", err)
		}
		logger.Info("witness policy", "policy", policy.String())
	}
	// Due re-evaluation jobs and codes whose facts age out run in the
	// background for as long as the server does.
	go st.Schedule(ctx, 2*time.Second)
	startRetention(ctx, logger, st, keep)
	if err := startAuditor(ctx, logger, st, *db, *auditPath, auditInterval); err != nil {
		return err
	}
	err = srv.ListenAndServe(ctx, *addr, func(bound string) {
		logger.Info("serving", "url", "http://"+bound, "engine", st.Engine(), "db", st.Name())
	})
	if err != nil {
		return err
	}
	logger.Info("shut down")
	return nil
}

// startAuditor runs the background auditor (store.Auditor) for as long as
// the server does, unless interval is 0.
func startAuditor(ctx context.Context, logger *slog.Logger, st *store.DB, dsn, path string, interval time.Duration) error {
	if interval == 0 {
		logger.Warn("background auditor off (--audit-interval 0): state rows edited behind the log are found only by log verify and the code routes")
		return nil
	}
	a, path, err := openAuditor(ctx, st, dsn, path, interval)
	if err != nil {
		return fmt.Errorf("background auditor: %w", err)
	}
	logger.Info("background auditor", "projection", path, "sweep_interval", interval.String())
	go func() {
		a.Run(ctx)
		if err := a.Close(); err != nil {
			logger.Warn("background auditor: close its projection", "err", err)
		}
	}()
	return nil
}

// openAuditor opens the auditor on path, or, if path is "", on the first
// default file (auditPathFor) that no other auditor holds: each server on
// a host keeps its own projection, and a restarted one takes the file it
// had (or another's that is free) and catches up from where it stood.
// An explicit path in use is refused (store.ErrAuditPathInUse).
func openAuditor(ctx context.Context, st *store.DB, dsn, path string, interval time.Duration) (*store.Auditor, string, error) {
	if path != "" {
		a, err := st.OpenAuditor(ctx, store.AuditConfig{Path: path, Interval: interval})
		return a, path, err
	}
	for n := range maxAuditSlots {
		path = auditPathFor(dsn, st.LogOrigin(), n)
		a, err := st.OpenAuditor(ctx, store.AuditConfig{Path: path, Interval: interval})
		if !errors.Is(err, store.ErrAuditPathInUse) {
			return a, path, err
		}
	}
	return nil, "", fmt.Errorf("the %d default projection files (%s, ...) are all in use by other servers: give this one its own --audit-path (HEALTHCODE_AUDIT_PATH)",
		maxAuditSlots, auditPathFor(dsn, st.LogOrigin(), 0))
}

// maxAuditSlots is how many default projection files servers on one host
// take, one each, before a server must be given its own --audit-path.
const maxAuditSlots = 16

// auditPathFor is the n-th default file of the auditor's projection:
// beside a SQLite database, else in the temporary directory, named by the
// log's origin (one per deployment); n > 0 numbers the files of further
// servers on the host.
func auditPathFor(dsn, origin string, n int) string {
	slot := ""
	if n > 0 {
		slot = "-" + strconv.Itoa(n+1)
	}
	if engine, target, err := store.ParseDSN(dsn); err == nil && engine == store.SQLite {
		return target + slot + ".audit"
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, origin)
	return filepath.Join(os.TempDir(), "healthcode-audit-"+name+slot+".db")
}

// newLogger is the server's logger on stderr: JSON (one object a line) or
// text (key=value, logfmt-like); format "" picks text when stderr is a
// terminal (a person reads it) and JSON otherwise (a collector does).
func newLogger(e *env, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, usagef("bad --log-level %q: want debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if isTerminal(e.stderr) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	}
	return nil, usagef("bad --log-format %q: want json or text", format)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parsePrefixes reads a comma-separated list of addresses (one host each)
// and CIDR prefixes.
func parsePrefixes(name, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, usagef("--%s: %q is not an address or a CIDR prefix such as 10.0.0.0/8", name, f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// privateFiles are the files of a deployment that only its user may read:
// the SQLite database and its -wal and -shm files, the key-secret file and
// the demo credentials file.
func privateFiles(dsn string) []string {
	files := []string{keySecretPath(dsn), credentialsPath(dsn)}
	if engine, target, err := store.ParseDSN(dsn); err == nil && engine == store.SQLite {
		files = append(files, target, target+"-wal", target+"-shm")
	}
	return files
}

// warnLooseModes logs a warning for each existing file that others than
// its owner may read or write.
func warnLooseModes(logger *slog.Logger, files ...string) {
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm()&0o077 == 0 {
			continue
		}
		logger.Warn("file readable by others: run chmod 600", "file", f, "mode", st.Mode().Perm().String())
	}
}

// warnKeysInClear logs a warning when the database holds its log signing
// key or its ID HMAC key unsealed: it was created, and is still opened,
// without the key secret, so a copy of it can sign forked checkpoints and
// invert ID hashes.
func warnKeysInClear(ctx context.Context, logger *slog.Logger, st *store.DB) {
	keys, err := st.KeysInClear(ctx)
	if err != nil {
		logger.Warn("cannot tell whether the keys are sealed", "err", err)
		return
	}
	if len(keys) > 0 {
		logger.Warn("keys stored in clear in the database: anyone with a copy of it can sign checkpoints and invert ID hashes; set "+envKeySecret+" and restart to seal them",
			"keys", strings.Join(keys, ","))
	}
}

// deriveOrigin names a new deployment's log, so that no two deployments
// share an origin (a witness follows one log per origin): the host and path
// of the public URL followed by /log; else healthcode.local/ISSUER/log for an
// issuer other than the default; else healthcode.local/log-RANDOM with 8
// random hex digits. An existing database keeps the origin it has.
func deriveOrigin(publicURL, issuer string, rand io.Reader) (string, error) {
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || u.Host == "" {
			return "", usagef("bad --public-url %q: want an absolute URL such as https://hc.example.gov.cn", publicURL)
		}
		return u.Host + strings.TrimSuffix(u.Path, "/") + "/log", nil
	}
	if issuer != "" && issuer != store.DefaultIssuer {
		return "healthcode.local/" + issuer + "/log", nil
	}
	var b [4]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("log origin: %w", err)
	}
	return fmt.Sprintf("healthcode.local/log-%x", b), nil
}
