package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/token"
)

func runToken(ctx context.Context, e *env) error {
	if len(e.args) == 0 {
		return usagef("token needs a subcommand: verify")
	}
	sub := *e
	sub.args = e.args[1:]
	switch e.args[0] {
	case "verify":
		return runTokenVerify(ctx, &sub)
	}
	return usagef("unknown token subcommand %q (want verify)", e.args[0])
}

// runTokenVerify verifies a token offline, as a checkpoint does: it never
// contacts a server.
func runTokenVerify(ctx context.Context, e *env) error {
	fs := newFlags(e, "token verify", "token verify --trust DIR_OR_FILE [--key TRUSTKEY] [TOKEN | --image QR.png]")
	trust := fs.String("trust", "", "trust material: a directory written by 'healthcode trust fetch', or one signed trust list file (with --key)")
	key := fs.String("key", "", "the trust-list key of a --trust file (hex or base64)")
	image := fs.String("image", "", "read the token from a QR code image (PNG, JPEG or GIF)")
	if err := parseFlags(e, fs, e.args); err != nil {
		return err
	}
	if *trust == "" {
		return usagef("--trust is required")
	}
	var text string
	switch {
	case *image != "" && fs.NArg() == 0:
		f, err := os.Open(*image)
		if err != nil {
			return err
		}
		text, err = token.Decode(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("read QR code from %s: %w", *image, err)
		}
	case *image == "" && fs.NArg() == 1:
		text = strings.TrimSpace(fs.Arg(0))
	default:
		return usagef("give one token, or --image")
	}
	lists, err := loadTrust(*trust, *key)
	if err != nil {
		return err
	}
	v := &token.Verifier{Lists: lists}
	c, err := v.Verify(text)
	if err != nil {
		return fmt.Errorf("token refused: %w", err)
	}
	issuer, kid := "", ""
	if t, err := token.Parse(text); err == nil {
		kid = t.KeyID
		for _, tl := range lists {
			if tl.Key(kid) != nil {
				issuer = tl.Issuer
			}
		}
	}
	fmt.Fprintf(e.stdout, "VALID %s (%s)\n", c.Colour.Label(web.DefaultLang), c.Colour)
	fmt.Fprintf(e.stdout, "name:      %s\n", c.Name)
	fmt.Fprintf(e.stdout, "valid:     %s to %s\n", c.IssuedAt.UTC().Format(time.RFC3339), c.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "key:       %s (issuer %s)\n", kid, issuer)
	return nil
}

// loadTrust reads trust lists from a directory written by trust fetch
// (pins.json and one verified list per issuer) or from one list file
// verified against key.
func loadTrust(path, key string) ([]*token.TrustList, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trust material: %w", err)
	}
	if st.IsDir() {
		state, err := readPins(path)
		if err != nil {
			return nil, err
		}
		if len(state.Pins) == 0 {
			return nil, fmt.Errorf("no trust lists in %s: run 'healthcode trust fetch' first", path)
		}
		pins, err := state.keys()
		if err != nil {
			return nil, err
		}
		return (&token.Cache{Dir: path, Pins: pins}).Load()
	}
	if key == "" {
		return nil, usagef("--key is required with a trust list file")
	}
	pin, err := token.ParsePublicKey(key)
	if err != nil {
		return nil, usagef("bad --key: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tl, err := token.ParseTrustList(data, ed25519.PublicKey(pin))
	if err != nil {
		return nil, err
	}
	return []*token.TrustList{tl}, nil
}
