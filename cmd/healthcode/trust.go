package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/atomicfile"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
	"github.com/healthcode/healthcode/token"
)

func runTrust(ctx context.Context, e *env) error {
	return runSubcommand(ctx, e, "trust", []subcommand{{"fetch", runTrustFetch}, {"import", runTrustImport}, {"export", runTrustExport}})
}

func runTrustExport(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "trust export", "trust export --db DB")
	db := dbFlag(e, fs)
	if err := parseNoArgs(e, fs, e.args); err != nil {
		return err
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	m, err := st.Trust(ctx)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(m.List)
	return err
}

func runTrustImport(ctx context.Context, e *env) (err error) {
	fs := newFlags(e, "trust import", "trust import --db DB --key TRUSTKEY FILE")
	db := dbFlag(e, fs)
	key := fs.String("key", "", "the other issuer's trust-list public key (hex or base64), obtained out of band")
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("trust import takes one file: the other issuer's signed trust list")
	}
	if *key == "" {
		return usagef("--key is required: the trust-list key of the issuer whose list you import")
	}
	pin, err := token.ParsePublicKey(*key)
	if err != nil {
		return usagef("bad --key: %v", err)
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	secret, err := mustKeySecret(e, *db)
	if err != nil {
		return err
	}
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	tl, err := st.ImportTrustList(operatorContext(ctx), secret, data, pin)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported trust list %s version %d (%d keys); its tokens now verify against our trust material\n", tl.Issuer, tl.Version, len(tl.Keys))
	return nil
}

// pinsFile is the verifier's state beside the cached lists: which issuer is
// ours and each issuer's pinned trust-list key, and the newest recognition
// statement version seen (refusing rollback).
const pinsFile = "pins.json"

type pinsState struct {
	Issuer             string            `json:"issuer"`
	Pins               map[string]string `json:"pins"` // issuer → hex trust-list key
	RecognitionVersion uint64            `json:"recognition_version"`
}

func readPins(dir string) (*pinsState, error) {
	b, err := os.ReadFile(filepath.Join(dir, pinsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &pinsState{Pins: map[string]string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var p pinsState
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, pinsFile), err)
	}
	if p.Pins == nil {
		p.Pins = map[string]string{}
	}
	return &p, nil
}

func (p *pinsState) keys() (map[string]ed25519.PublicKey, error) {
	out := make(map[string]ed25519.PublicKey, len(p.Pins))
	for is, k := range p.Pins {
		pub, err := token.ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("pin of %s: %w", is, err)
		}
		out[is] = pub
	}
	return out, nil
}

func writePins(dir string, p *pinsState) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, pinsFile), append(b, '\n'), 0o644)
}

func httpGetBody(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func runTrustFetch(ctx context.Context, e *env) error {
	fs := newFlags(e, "trust fetch", "trust fetch --url URL --key TRUSTKEY --dir DIR")
	url := fs.String("url", "", "the server, e.g. http://127.0.0.1:8080")
	key := fs.String("key", "", "the server's trust-list public key (hex or base64), obtained out of band ('healthcode keys list')")
	dir := fs.String("dir", "", "directory of the verifier's cached trust lists")
	logKey := fs.String("log-key", e.getenv("HEALTHCODE_LOG_KEY"), "the server's log verifier key: also check that its log is append-only since the last fetch and, with --witness, cosigned by a quorum (env HEALTHCODE_LOG_KEY)")
	policy := policyFlags(fs)
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", fs.Arg(0))
	case *url == "" || *key == "" || *dir == "":
		return usagef("--url, --key and --dir are required")
	}
	p, err := policy()
	if err != nil {
		return err
	}
	if p != nil && *logKey == "" {
		return usagef("--witness needs --log-key: the witnesses cosign the server's log")
	}
	pin, err := token.ParsePublicKey(*key)
	if err != nil {
		return usagef("bad --key: %v", err)
	}
	base := strings.TrimSuffix(*url, "/")
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if *logKey != "" {
		if err := monitorTrustLog(ctx, e, base, *logKey, p, filepath.Join(*dir, "log")); err != nil {
			return err
		}
	}
	state, err := readPins(*dir)
	if err != nil {
		return err
	}
	env, err := httpGetBody(ctx, base+"/v1/trust")
	if err != nil {
		return err
	}
	ours, err := token.ParseTrustList(env, pin)
	if err != nil {
		return fmt.Errorf("trust list from %s: %w", base, err)
	}
	if old, ok := state.Pins[ours.Issuer]; ok {
		if p, err := token.ParsePublicKey(old); err != nil || !p.Equal(pin) {
			return healthcode.Errorf(healthcode.ECONFLICT, "%s is pinned to another trust-list key in %s: a changed trust-list key needs a deliberate new pin (remove the directory)", ours.Issuer, *dir)
		}
	}
	state.Pins[ours.Issuer] = hex.EncodeToString(pin)
	if state.Issuer == "" {
		state.Issuer = ours.Issuer
	}
	pins, err := state.keys()
	if err != nil {
		return err
	}
	cache := &token.Cache{Dir: *dir, Pins: pins}
	if _, err := cache.Put(env); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s version %d (%d keys)\n", ours.Issuer, ours.Version, len(ours.Keys))

	// The issuers we recognise, vouched for by our trust-list key.
	recData, err := httpGetBody(ctx, base+"/v1/trust/recognised")
	if err != nil {
		return err
	}
	rec, err := store.ParseRecognition(recData, pin)
	if err != nil {
		return err
	}
	if rec.Issuer != ours.Issuer {
		return fmt.Errorf("recognition statement is by %q, not %q", rec.Issuer, ours.Issuer)
	}
	if rec.Version < state.RecognitionVersion {
		return fmt.Errorf("%w: %w", token.ErrTrustListTooOld, healthcode.Errorf(healthcode.ECONFLICT,
			"trust list too old: recognition statement version %d is older than version %d seen before", rec.Version, state.RecognitionVersion))
	}
	state.RecognitionVersion = rec.Version
	sort.Slice(rec.Issuers, func(i, j int) bool { return rec.Issuers[i].Issuer < rec.Issuers[j].Issuer })
	for _, ri := range rec.Issuers {
		if ri.Issuer == ours.Issuer {
			continue
		}
		cache.Pins[ri.Issuer] = ri.TrustKey
		state.Pins[ri.Issuer] = hex.EncodeToString(ri.TrustKey)
		data, err := httpGetBody(ctx, base+"/v1/trust/lists/"+ri.Issuer)
		if err != nil {
			return err
		}
		tl, err := cache.Put(data)
		if err != nil {
			return fmt.Errorf("recognised issuer %s: %w", ri.Issuer, err)
		}
		fmt.Fprintf(e.stdout, "%s version %d (%d keys), recognised by %s\n", tl.Issuer, tl.Version, len(tl.Keys), ours.Issuer)
	}
	return writePins(*dir, state)
}

// monitorTrustLog is trust fetch's log check: the server's log, as
// log monitor sees it with state in dir, must have grown append-only since
// the last fetch and meet the witness policy p (if any).
func monitorTrustLog(ctx context.Context, e *env, base, logKey string, p *tlog.Policy, dir string) error {
	c, err := logClient(base, logKey, p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	res, err := tlog.Monitor(ctx, c, dir)
	if err != nil {
		return fmt.Errorf("the server's log: %w", err)
	}
	fmt.Fprintf(e.stdout, "log of size %d, append-only since the last fetch\n", res.New.Size)
	printCosignatures(e, res.Cosignatures)
	return nil
}
