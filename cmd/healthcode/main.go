// Command healthcode is the one binary of the healthcode platform: the
// server, the demo seeder, and the tools for rule authors, data sources,
// operators and auditors.
//
// Results go to stdout; diagnostics go to stderr as "healthcode: error: ..."
// and "healthcode: hint: ...". The exit code is 0 on success, 1 on error and
// 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	_ "time/tzdata" // the pages' time zone (serve --time-zone) on systems without a zone database

	"github.com/healthcode/healthcode"
)

// env is what a command runs with: arguments, streams, the environment.
type env struct {
	args   []string
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env) error
}

// commands is the table of subcommands.
func commands() map[string]command {
	return map[string]command{
		"serve":   {"run the server", runServe},
		"demo":    {"seed a demo province into a database", runDemo},
		"log":     {"verify, monitor and prove the transparency log", runLog},
		"keys":    {"create, list, rotate and revoke the token signing keys", runKeys},
		"trust":   {"fetch, import and export signed trust lists", runTrust},
		"token":   {"verify a health code token offline", runToken},
		"bench":   {"measure the token route under load (loopback)", runBench},
		"rules":   {"check ruleset files: compile, type-check, run the examples", runRules},
		"facts":   {"import facts into a server from an NDJSON or JSON file", runFacts},
		"code":    {"explain a resident's code from the database", runCode},
		"erase":   {"erase a resident's personal data (two data operators)", runErase},
		"sunset":  {"end the programme: erase every resident's personal data", runSunset},
		"witness": {"run a C2SP witness that cosigns other logs' checkpoints; make its key", runWitness},
		"version": {"print the version and VCS revision (also --version)", runVersion},
	}
}

// runVersion prints the binary's build: module version, VCS revision,
// commit time and whether the tree was modified, Go version.
func runVersion(_ context.Context, e *env) error {
	if err := parseNoArgs(e, newFlags(e, "version", "version"), e.args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, healthcode.ReadBuild())
	return nil
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, &env{args: os.Args[1:], stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

func realMain(ctx context.Context, e *env) int {
	cmds := commands()
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" || e.args[0] == "help" {
		printUsage(e.stderr, cmds)
		if len(e.args) == 0 {
			return 2
		}
		return 0
	}
	if e.args[0] == "--version" || e.args[0] == "-version" {
		e.args[0] = "version"
	}
	c, ok := cmds[e.args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "healthcode: error: unknown command %q\n", e.args[0])
		fmt.Fprintf(e.stderr, "healthcode: hint: run 'healthcode help' for the list of commands\n")
		return 2
	}
	sub := *e
	sub.args = e.args[1:]
	err := c.run(ctx, &sub)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "healthcode: error: %s\n", ue.msg)
		fmt.Fprintf(e.stderr, "healthcode: hint: run 'healthcode %s -h' for usage\n", e.args[0])
		return 2
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintf(e.stderr, "healthcode: error: %s\n", message(err))
	return 1
}

// errSilent is returned by a command that has already reported its failure.
var errSilent = errors.New("failed")

// message is what a user sees of an error: the domain message for domain
// errors, the whole chain otherwise.
func message(err error) string {
	var he *healthcode.Error
	if errors.As(err, &he) {
		return strings.TrimPrefix(err.Error(), he.Code+": ")
	}
	return err.Error()
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: healthcode COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'healthcode COMMAND -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: healthcode %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(e *env, fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stderr)
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		return usagef("%v", err)
	}
	return nil
}

// parseNoArgs is parseFlags for commands that take no positional arguments.
func parseNoArgs(e *env, fs *flag.FlagSet, args []string) error {
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// envOr returns the environment variable's value, or def.
func (e *env) envOr(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// cliLogger is the progress of a one-shot command on stderr: text
// records without the time.
func cliLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
}

// quietLogger logs warnings and errors only, for one-shot commands.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// subcommand is one of a command's subcommands.
type subcommand struct {
	name string
	run  func(context.Context, *env) error
}

// runSubcommand runs the subcommand e.args[0] names, with the rest of the
// arguments, or reports a usage error listing the subcommands.
func runSubcommand(ctx context.Context, e *env, command string, subs []subcommand) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	list := names[0]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	if len(e.args) == 0 {
		return usagef("%s needs a subcommand: %s", command, list)
	}
	if a := e.args[0]; a == "-h" || a == "--help" || a == "help" {
		fmt.Fprintf(e.stderr, "usage: healthcode %s SUBCOMMAND [flags]\n\nsubcommands: %s\nRun 'healthcode %s SUBCOMMAND -h' for its flags.\n", command, list, command)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == e.args[0] {
			sub := *e
			sub.args = e.args[1:]
			return s.run(ctx, &sub)
		}
	}
	return usagef("unknown %s subcommand %q (want %s)", command, e.args[0], list)
}
