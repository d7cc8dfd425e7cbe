package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/healthcode/healthcode/internal/testdb"
)

// The packaging (Dockerfile, compose.yaml, deploy/nginx.conf) is checked
// here without a container runtime: the compose file parses and names only
// services, volumes, networks and files that exist; the binary is built
// with the Dockerfile's own go build line and is static; and the compose
// stack runs as processes: PostgreSQL, two replicas, nginx, the two
// witnesses and deploy/witnesses.sh, which prepares them.

const repoRoot = "../.."

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]any            `yaml:"networks"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       composeBuild      `yaml:"build"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   yaml.Node         `yaml:"depends_on"` // a list or a map
	Volumes     []string          `yaml:"volumes"`
	Networks    yaml.Node         `yaml:"networks"` // a list or a map
	Ports       []string          `yaml:"ports"`
}

// composeBuild is a service's build: a context directory, or a mapping
// with a context and a target stage.
type composeBuild struct {
	Context, Target string
}

func (b *composeBuild) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	var m struct{ Context, Target string }
	if err := n.Decode(&m); err != nil {
		return err
	}
	b.Context, b.Target = m.Context, m.Target
	return nil
}

// names returns the names a list-or-map node holds.
func names(n yaml.Node) []string {
	var out []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
	case yaml.MappingNode:
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

func mustCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// TestComposeFile: compose.yaml runs PostgreSQL, two healthcode replicas,
// the proxy and two witnesses with the services that prepare them, and
// every name it uses exists: services, networks, volumes, files, the
// Dockerfile's stages and the scripts the build stage holds.
func TestComposeFile(t *testing.T) {
	c := mustCompose(t)
	var svcs []string
	for name := range c.Services {
		svcs = append(svcs, name)
	}
	slices.Sort(svcs)
	if want := []string{"healthcode-1", "healthcode-2", "postgres", "proxy", "witness-a", "witness-b", "witness-keys", "witness-log"}; !slices.Equal(svcs, want) {
		t.Errorf("services %v, want %v", svcs, want)
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build.Context == "" {
			t.Errorf("%s: neither image nor build", name)
		}
		if s.Build.Context != "" {
			df, err := os.ReadFile(filepath.Join(repoRoot, s.Build.Context, "Dockerfile"))
			if err != nil {
				t.Errorf("%s: build %s: %v", name, s.Build.Context, err)
			}
			if s.Build.Target != "" && !regexp.MustCompile(`(?m)^FROM \S+ AS `+regexp.QuoteMeta(s.Build.Target)+`$`).Match(df) {
				t.Errorf("%s: build target %q is not a stage of the Dockerfile", name, s.Build.Target)
			}
		}
		// A script the build stage runs is the repository's (COPY . /src).
		for _, arg := range s.Entrypoint {
			if rel, ok := strings.CutPrefix(arg, "/src/"); ok {
				if _, err := os.Stat(filepath.Join(repoRoot, rel)); err != nil {
					t.Errorf("%s runs %s: %v", name, arg, err)
				}
			}
		}
		for _, d := range names(s.DependsOn) {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("%s depends on %q, which is not a service", name, d)
			}
		}
		for _, n := range names(s.Networks) {
			if _, ok := c.Networks[n]; !ok {
				t.Errorf("%s: network %q is not declared", name, n)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %q is not declared", name, src)
			}
		}
		if strings.HasPrefix(name, "witness-") && s.Build.Target == "" && !slices.Equal(s.Command[:min(2, len(s.Command))], []string{"witness", "serve"}) {
			t.Errorf("%s: command %v, want witness serve ...", name, s.Command)
		}
		if strings.HasPrefix(name, "healthcode-") {
			if len(s.Command) == 0 || s.Command[0] != "serve" {
				t.Errorf("%s: command %v, want serve ...", name, s.Command)
			}
			for k := range s.Environment {
				if !strings.HasPrefix(k, "HEALTHCODE_") {
					t.Errorf("%s: environment %s is not a HEALTHCODE_ variable", name, k)
				}
			}
		}
	}
}

// dockerfileBuild returns the arguments of the Dockerfile's go build line
// (after "go build") and the environment it sets before it.
func dockerfileBuild(t *testing.T) (env, args []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN ((?:[A-Z_]+=\S+ )*)go build (.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Dockerfile has no RUN [VAR=value ...] go build line")
	}
	env = strings.Fields(string(m[1]))
	args, err = shellFields(string(m[2]))
	if err != nil {
		t.Fatalf("Dockerfile go build line: %v", err)
	}
	return env, args
}

// shellFields splits a command line as sh would, for words and single
// quotes (all the Dockerfile's build line uses).
func shellFields(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune(`"\$`+"`", r):
			return nil, fmt.Errorf("unsupported shell syntax %q in %q", r, s)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// mustImageBinary builds cmd/healthcode as the Dockerfile does (same
// environment and flags, the output path aside), once per test binary.
func mustImageBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	env, args := dockerfileBuild(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "healthcode-image-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "healthcode")
		for i := range args {
			if args[i] == "-o" && i+1 < len(args) {
				args[i+1] = builtBin
			}
		}
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Dir = repoRoot
		// The image's builder has no GOFLAGS, so VCS stamping is auto;
		// this machine's may turn it off.
		cmd.Env = append(append(os.Environ(), "GOFLAGS=-buildvcs=auto"), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build %v: %v\n%s", args, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// TestImageBinary: the Dockerfile's build is static (no interpreter, no
// shared library: it runs on distroless/static or scratch), says its
// version and serves.
func TestImageBinary(t *testing.T) {
	env, _ := dockerfileBuild(t)
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the Dockerfile builds with %v, want CGO_ENABLED=0", env)
	}
	bin := mustImageBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read only
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary names a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}

	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	if !strings.HasPrefix(string(out), "healthcode ") {
		t.Errorf("--version: %q", out)
	}
	if rev, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output(); err == nil {
		if !strings.Contains(string(out), "revision "+strings.TrimSpace(string(rev))) {
			t.Errorf("--version %q does not name the revision %s", out, rev)
		}
	}

	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startProcess(t, "serve", dir, bin, []string{"HEALTHCODE_DB=" + filepath.Join(dir, "s.db"), "HEALTHCODE_ADDR=" + addr, "HEALTHCODE_KEY_SECRET=" + randomSecret(t)}, "serve")
	waitReady(t, "http://"+addr+"/readyz", srv)
}

// TestComposeStackAsProcesses runs compose.yaml's stack without
// containers: a fresh database on the local PostgreSQL, deploy/witnesses.sh
// as its one-shot services run it, the two replicas and the two witnesses
// with the compose file's commands and environment (addresses, paths and
// secrets replaced), and nginx with deploy/nginx.conf (upstreams, listen
// address and /tmp replaced). Through the proxy, a resident logs in and
// fetches a token, from each replica, and each replica serves a
// checkpoint both witnesses cosigned.
func TestComposeStackAsProcesses(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed (apt-get install nginx; .ci/run installs it): the compose smoke test is skipped")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (deploy/witnesses.sh needs it; .ci/run installs it): the compose smoke test is skipped")
	}
	dsn := testdb.Postgres(t)
	bin := mustImageBinary(t)
	c := mustCompose(t)
	secret := randomSecret(t)

	// The witnesses' keys and the policy, as the witness-keys service
	// makes them, for witnesses at these addresses.
	wdir := t.TempDir()
	waddr := map[string]string{"witness-a": freeAddr(t), "witness-b": freeAddr(t)}
	script := func(args ...string) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{filepath.Join(repoRoot, "deploy", "witnesses.sh")}, args...)...)
		cmd.Env = append(os.Environ(), "HEALTHCODE="+bin, "WITNESS_DIR="+wdir, "WITNESS_OWNER=",
			"WITNESS_A_URL=http://"+waddr["witness-a"], "WITNESS_B_URL=http://"+waddr["witness-b"])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("deploy/witnesses.sh %v: %v\n%s", args, err, out)
		}
	}
	if c := c.Services["witness-keys"]; !slices.Equal(c.Command, []string{"keys"}) {
		t.Fatalf("witness-keys: command %v, want [keys]", c.Command)
	}
	script("keys")
	inWitnessDir := func(v string) string { return strings.ReplaceAll(v, "/witnesses/", wdir+"/") }

	var upstreams []string
	var replicas []*process
	for _, name := range []string{"healthcode-1", "healthcode-2"} {
		s := c.Services[name]
		addr := freeAddr(t)
		upstreams = append(upstreams, addr)
		var env []string
		for k, v := range s.Environment {
			switch k {
			case "HEALTHCODE_DB":
				v = dsn
			case "HEALTHCODE_ADDR":
				v = addr
			case "HEALTHCODE_KEY_SECRET":
				v = secret
			case "HEALTHCODE_PUBLIC_URL":
				v = "http://healthcode.test"
			case "HEALTHCODE_TRUSTED_PROXIES":
				v = "127.0.0.1"
			case "HEALTHCODE_WITNESSES":
				v = inWitnessDir(v)
			}
			env = append(env, k+"="+v)
		}
		// Each replica's auditor keeps its projection in the replica's
		// own directory, as each container's /tmp is its own (on one
		// host the default path, named by the origin, would be shared
		// by both replicas and by earlier runs).
		rdir := t.TempDir()
		env = append(env, "HEALTHCODE_AUDIT_PATH="+filepath.Join(rdir, "audit.db"))
		// Both start at once, as compose starts them: the first seeds
		// the empty database while the second opens it.
		replicas = append(replicas, startProcess(t, name, rdir, bin, env, s.Command...))
	}
	for i, r := range replicas {
		waitReady(t, "http://"+upstreams[i]+"/readyz", r)
	}
	// The log's key from the first replica (the witness-log service), then
	// the witnesses.
	if cmd := c.Services["witness-log"].Command; len(cmd) != 2 || cmd[0] != "log" || cmd[1] != "http://healthcode-1:8080" {
		t.Fatalf("witness-log: command %v, want [log http://healthcode-1:8080]", cmd)
	}
	script("log", "http://"+upstreams[0])
	for _, name := range []string{"witness-a", "witness-b"} {
		state := t.TempDir()
		var args []string
		for _, a := range c.Services[name].Command {
			switch a {
			case "/data":
				a = state
			case "0.0.0.0:8090":
				a = waddr[name]
			}
			args = append(args, inWitnessDir(a))
		}
		startProcess(t, name, state, bin, nil, args...)
	}

	proxyAddr := freeAddr(t)
	nginxDir := t.TempDir()
	if err := os.Chmod(nginxDir, 0o755); err != nil { // nginx's workers may run as nobody
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	gen := string(conf)
	// In order: /tmp first, as the test's own directory may be under it.
	for _, r := range [][2]string{
		{"/tmp/", nginxDir + "/"},
		{"server healthcode-1:8080", "server " + upstreams[0]},
		{"server healthcode-2:8080", "server " + upstreams[1]},
		{"listen 8080;", "listen " + proxyAddr + ";"},
		{"access_log /dev/stdout;", "access_log " + nginxDir + "/access.log;"},
	} {
		if !strings.Contains(gen, r[0]) {
			t.Fatalf("deploy/nginx.conf has no %q to replace", r[0])
		}
		gen = strings.ReplaceAll(gen, r[0], r[1])
	}
	confPath := filepath.Join(nginxDir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := startProcess(t, "nginx", nginxDir, nginx, nil, "-e", "stderr", "-p", nginxDir, "-c", confPath, "-g", "daemon off;")
	base := "http://" + proxyAddr
	waitReady(t, base+"/readyz", proxy)

	// The demo logins are in the first replica's working directory.
	var creds struct {
		Residents []struct{ Login, Password, ID string }
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(replicas[0].dir, "demo-credentials.json"))), &creds); err != nil || len(creds.Residents) == 0 {
		t.Fatalf("demo credentials: %v", err)
	}
	res := creds.Residents[0]
	// Logins until each replica has answered one, then tokens with the
	// first session until each has signed one (a session made on one
	// replica is good on the other: sessions are in the database).
	logins, tokens := map[string]bool{}, map[string]bool{}
	var session string
	for i := 0; i < 20 && len(logins) < 2; i++ {
		body, _ := json.Marshal(map[string]string{"login": res.Login, "password": res.Password})
		status, from, b := request(t, "POST", base+"/v1/sessions", "", body)
		if status != http.StatusCreated {
			t.Fatalf("login through the proxy (replica %s): %d %s", from, status, b)
		}
		logins[from] = true
		if session == "" {
			var sess struct{ Token string }
			if err := json.Unmarshal(b, &sess); err != nil {
				t.Fatalf("login answer: %v: %s", err, b)
			}
			session = sess.Token
		}
	}
	for i := 0; i < 20 && len(tokens) < 2; i++ {
		status, from, b := request(t, "GET", base+"/v1/residents/"+res.ID+"/token", session, nil)
		var tok struct{ Token, Colour string }
		if err := json.Unmarshal(b, &tok); err != nil || status != http.StatusOK || tok.Token == "" {
			t.Fatalf("token through the proxy (replica %s): %d %s", from, status, b)
		}
		tokens[from] = true
	}
	for _, u := range upstreams {
		if !logins[u] || !tokens[u] {
			t.Errorf("replica %s: login %v, token %v through the proxy (logins from %v, tokens from %v)", u, logins[u], tokens[u], logins, tokens)
		}
	}
	// One log, written by both: the log's size is the same on each.
	sizes := map[string]bool{}
	for _, u := range upstreams {
		_, _, b := request(t, "GET", "http://"+u+"/log/checkpoint", "", nil)
		lines := strings.Split(string(b), "\n")
		if len(lines) > 1 {
			sizes[lines[1]] = true
		}
	}
	if len(sizes) != 1 {
		t.Errorf("the replicas' checkpoints differ in size: %v", sizes)
	}
	// Each replica serves a checkpoint both witnesses cosigned (their
	// cosigners retry the witnesses, unreachable until now, with backoff).
	for _, u := range upstreams {
		var cp []byte
		for deadline := time.Now().Add(90 * time.Second); ; {
			_, _, cp = request(t, "GET", "http://"+u+"/log/checkpoint", "", nil)
			if strings.Contains(string(cp), "\n— witness-a.healthcode.local ") && strings.Contains(string(cp), "\n— witness-b.healthcode.local ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s: no checkpoint cosigned by both witnesses within 90 s:\n%s", u, cp)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// process is a started command whose output is kept for failure reports.
type process struct {
	name string
	dir  string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess starts bin with args in dir, with env added to this
// process's environment; it is interrupted (then killed) when the test
// ends, and its output shown if the test failed.
func startProcess(t *testing.T, name, dir, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, dir: dir, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt) // it may have exited already
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, lastLines(p.out.String(), 40))
		}
	})
	return p
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitReady waits up to 60 s for url to answer 200, failing early if p
// exits.
func waitReady(t *testing.T, url string, p *process) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s answered:\n%s", p.name, url, lastLines(p.out.String(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 60 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// request sends a request, returning the status, the replica that
// answered (the proxy's X-Upstream) and the body.
func request(t *testing.T, method, url, bearer string, body []byte) (int, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Upstream"), b
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func randomSecret(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerfileStages: the image is built in one stage and runs in
// another, a small base without a shell (distroless static or scratch),
// as a user other than root.
func TestDockerfileStages(t *testing.T) {
	df := readFile(t, filepath.Join(repoRoot, "Dockerfile"))
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a build stage and a final one", len(froms))
	}
	if base := froms[len(froms)-1][1]; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("the final stage is FROM %s, want distroless/static or scratch", base)
	}
	final := df[strings.LastIndex(df, "\nFROM "):]
	m := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if m == nil {
		t.Fatal("the final stage sets no USER: it would run as root")
	}
	if user, _, _ := strings.Cut(m[1], ":"); user == "root" || user == "0" {
		t.Errorf("the final stage runs as USER %s", m[1])
	}
}

// TestSystemdUnit: the unit docs/operations.md gives is one systemd reads
// without a warning (systemd-analyze verify; skipped without it).
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	doc := readFile(t, filepath.Join(repoRoot, "docs", "operations.md"))
	_, rest, ok := strings.Cut(doc, "```ini\n# /etc/systemd/system/healthcode.service\n")
	unit, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/operations.md has no ```ini block for healthcode.service")
	}
	// The binary it starts must exist for verify: any will do.
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/healthcode serve\n") {
		t.Fatal("the unit does not start /usr/local/bin/healthcode serve")
	}
	unit = strings.Replace(unit, "/usr/local/bin/healthcode", os.Args[0], 1)
	path := filepath.Join(t.TempDir(), "healthcode.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
