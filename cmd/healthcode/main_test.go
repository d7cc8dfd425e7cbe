package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"healthcode": main,
	})
}

// TestScripts runs the CLI scripts in testdata/script against the real
// binary.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			ln2, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return errors.Join(err, ln.Close())
			}
			env.Setenv("PORT2", strconv.Itoa(ln2.Addr().(*net.TCPAddr).Port))
			return errors.Join(ln.Close(), ln2.Close())
		},
		Cmds: withCmds(tokenCmds, map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// waithttp URL: wait up to 90 s for URL to answer 200 (a
			// demo server's start-up takes over 30 s on a loaded CI
			// machine).
			"waithttp": func(ts *testscript.TestScript, neg bool, args []string) {
				deadline := time.Now().Add(90 * time.Second)
				for {
					resp, err := http.Get(args[0])
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == 200 {
							return
						}
					}
					if time.Now().After(deadline) {
						ts.Fatalf("%s did not answer: %v", args[0], err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			},
			// waitfor URL REGEXP: wait up to 30 s for URL's body (any
			// status) to match REGEXP.
			"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
				re := regexp.MustCompile(args[1])
				deadline := time.Now().Add(30 * time.Second)
				for {
					if resp, err := http.Get(args[0]); err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if re.Match(b) {
							return
						}
					}
					if time.Now().After(deadline) {
						ts.Fatalf("%s did not match %s", args[0], args[1])
					}
					time.Sleep(100 * time.Millisecond)
				}
			},
			// jsonlines stdout|stderr: every line of the last command's
			// output is a JSON object with time, level and msg.
			"jsonlines": func(ts *testscript.TestScript, neg bool, args []string) {
				out := ts.ReadFile(args[0])
				for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						ts.Fatalf("%s line %d is not a JSON record: %q", args[0], i+1, line)
					}
					for _, k := range []string{"time", "level", "msg"} {
						if _, ok := rec[k]; !ok {
							ts.Fatalf("%s line %d has no %q: %q", args[0], i+1, k, line)
						}
					}
				}
			},
			// jsonfield FILE KEY... VAR: set VAR to a value in a JSON file,
			// following keys (numbers index arrays).
			"jsonfield": func(ts *testscript.TestScript, neg bool, args []string) {
				var v any
				if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
					ts.Fatalf("%s: %v", args[0], err)
				}
				for _, k := range args[1 : len(args)-1] {
					switch x := v.(type) {
					case map[string]any:
						v = x[k]
					case []any:
						i, _ := strconv.Atoi(k)
						v = x[i]
					}
				}
				ts.Setenv(args[len(args)-1], fmt.Sprint(v))
			},
		}),
	})
}
