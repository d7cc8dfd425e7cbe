package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// tokenCmds are the testscript commands of the token scripts.
var tokenCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// httpget BEARER URL FILE: GET URL (with a bearer token unless BEARER
	// is "-") and write the body to FILE; fails unless the status is 200.
	"httpget": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: httpget BEARER URL FILE")
		}
		req, err := http.NewRequest("GET", args[1], nil)
		ts.Check(err)
		if args[0] != "-" {
			req.Header.Set("Authorization", "Bearer "+args[0])
		}
		resp, err := http.DefaultClient.Do(req)
		ts.Check(err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ts.Check(err)
		if (resp.StatusCode == 200) == neg {
			ts.Fatalf("GET %s: %s %s", args[1], resp.Status, b)
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), b, 0o644))
	},
	// login URL LOGIN PASSWORD VAR: start a session and set VAR to its token.
	"login": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 4 {
			ts.Fatalf("usage: login URL LOGIN PASSWORD VAR")
		}
		body, _ := json.Marshal(map[string]string{"login": args[1], "password": args[2]})
		resp, err := http.Post(args[0]+"/v1/sessions", "application/json", bytes.NewReader(body))
		ts.Check(err)
		defer resp.Body.Close()
		var m struct{ Token string }
		ts.Check(json.NewDecoder(resp.Body).Decode(&m))
		if resp.StatusCode != 201 || m.Token == "" {
			ts.Fatalf("login %s: %s", args[1], resp.Status)
		}
		ts.Setenv(args[3], m.Token)
	},
	// forge TOKEN VAR: set VAR to TOKEN with one signature character
	// changed (to '0', which keeps the Base45 valid).
	"forge": func(ts *testscript.TestScript, neg bool, args []string) {
		b := []byte(args[0])
		for i := len(b) - 20; i > 0; i-- {
			if b[i] != '0' {
				b[i] = '0'
				break
			}
		}
		ts.Setenv(args[1], string(b))
	},
	// regexvar FILE REGEXP VAR: set VAR to the first group of REGEXP's
	// first match in FILE.
	"regexvar": func(ts *testscript.TestScript, neg bool, args []string) {
		m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile(args[0]))
		if len(m) < 2 {
			ts.Fatalf("%s: no match for %s", args[0], args[1])
		}
		ts.Setenv(args[2], m[1])
	},
	// freeport VAR: set VAR to a free TCP port on 127.0.0.1.
	"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		ts.Setenv(args[0], strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		ln.Close()
	},
}

func TestKeySecretFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	e := &env{getenv: func(string) string { return "" }}
	// Without create and without a file: no secret.
	if s, _, err := keySecret(e, db, false); s != nil || err != nil {
		t.Fatalf("no file: %q %v", s, err)
	}
	s, from, err := keySecret(e, db, true)
	if err != nil || len(s) < 32 || from != filepath.Join(dir, keySecretFile) {
		t.Fatalf("create: %q %s %v", s, from, err)
	}
	st, err := os.Stat(from)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	again, _, err := keySecret(e, db, true)
	if err != nil || !bytes.Equal(again, s) {
		t.Errorf("second read: %q %v", again, err)
	}
	// The environment wins; a file others can read is refused.
	e.getenv = func(k string) string {
		if k == envKeySecret {
			return "from the environment"
		}
		return ""
	}
	if got, from, _ := keySecret(e, db, false); string(got) != "from the environment" || from != envKeySecret {
		t.Errorf("env: %q %s", got, from)
	}
	e.getenv = func(string) string { return "" }
	if err := os.Chmod(filepath.Join(dir, keySecretFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keySecret(e, db, false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: %v", err)
	}
}

// withCmds adds extra testscript commands to cmds.
func withCmds(extra, cmds map[string]func(ts *testscript.TestScript, neg bool, args []string)) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	for k, v := range extra {
		cmds[k] = v
	}
	return cmds
}
