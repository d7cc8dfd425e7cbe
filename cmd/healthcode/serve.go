package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

func runServe(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "serve", "serve [--db DB] [--addr HOST:PORT] [--demo] [--residents N] [--seed N]")
	db := dbFlag(e, fs)
	addr := fs.String("addr", e.envOr("HEALTHCODE_ADDR", "127.0.0.1:8080"), "address to listen on (env HEALTHCODE_ADDR)")
	demoFlag := fs.Bool("demo", false, "seed a demo province if the database is empty")
	residents := fs.Int("residents", 10000, "residents in the demo province (with --demo)")
	seed := fs.Int64("seed", 1, "seed of the demo province (with --demo)")
	level := fs.String("log-level", e.envOr("HEALTHCODE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env HEALTHCODE_LOG_LEVEL)")
	origin := fs.String("log-origin", e.envOr("HEALTHCODE_LOG_ORIGIN", ""), "origin line of the transparency log's checkpoints; default: the database's own, or for a new one derived from --public-url or --issuer (env HEALTHCODE_LOG_ORIGIN)")
	publicURL := fs.String("public-url", e.envOr("HEALTHCODE_PUBLIC_URL", ""), "the URL under which this server is published, e.g. https://hc.example.gov.cn; names a new log (env HEALTHCODE_PUBLIC_URL)")
	issuer := fs.String("issuer", e.envOr("HEALTHCODE_ISSUER", store.DefaultIssuer), "issuer name of a new deployment's trust list, e.g. cn-41 (env HEALTHCODE_ISSUER)")
	proxies := fs.String("trusted-proxies", e.envOr("HEALTHCODE_TRUSTED_PROXIES", ""),
		"comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For names the client, for per-address login limits (env HEALTHCODE_TRUSTED_PROXIES)")
	limits := limitFlags(e, fs)
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	lim, err := limits()
	if err != nil {
		return err
	}
	trusted, err := parsePrefixes("trusted-proxies", *proxies)
	if err != nil {
		return err
	}
	logger, err := newLogger(e, *level)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)

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
	if err := st.CanSign(); err != nil {
		logger.Error("writes disabled: the log cannot sign", "err", err)
	}

	var logins []server.DemoLogin
	if *demoFlag {
		creds, err := seedDemo(ctx, e, st, *db, *seed, *residents)
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(creds)
		fmt.Fprintf(e.stdout, "demo credentials: %s\n", abs)
		if logins, err = demoLogins(creds); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "log origin: %s\n", st.LogOrigin())
	fmt.Fprintf(e.stdout, "log verifier key: %s\n", st.LogVerifierKey())
	srv := server.New(st, server.Config{Logger: logger, Demo: *demoFlag, DemoLogins: logins, KeySecret: secret, Issuer: *issuer,
		TrustedProxies: trusted})
	if secret == nil {
		logger.Warn("token issuing disabled: no key secret (set " + envKeySecret + ")")
	} else {
		if err := srv.StartTokens(ctx); err != nil {
			return fmt.Errorf("token keys: %w", err)
		}
		if m, err := st.Trust(ctx); err == nil {
			fmt.Fprintf(e.stdout, "trust-list key: %x (issuer %s, trust list version %d; key secret from %s)\n", []byte(m.TrustKey), m.Issuer, m.Version, from)
		}
	}
	// Due re-evaluation jobs and codes whose facts age out run in the
	// background for as long as the server does.
	go st.Schedule(ctx, 2*time.Second)
	return srv.ListenAndServe(ctx, *addr, func(bound string) {
		fmt.Fprintf(e.stdout, "healthcode serving on http://%s (%s database %s)\n", bound, st.Engine(), *db)
		logger.Info("serving", "addr", bound, "engine", st.Engine())
	})
}

func newLogger(e *env, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, usagef("bad --log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l})), nil
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
