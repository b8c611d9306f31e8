package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The README's promise is that every ```sh block runs, copy-pasted top to bottom, on a fresh machine against a
// fresh `authsuite serve`. TestREADME keeps it: it extracts the blocks and runs them, in order, in one bash
// session with `set -euo pipefail`.
//
// How the blocks map onto a test run:
//   - The first block (the quick start) must hold exactly two commands: `VAR=… go run ./cmd/authsuite serve …`
//     and `bash scripts/test.sh`. The test starts the freshly built binary the way the first line says (its
//     variables, `serve` and its arguments) and does not run the second: it is the command running this test.
//   - The server listens on free loopback ports, not 8080/9090: the blocks' `127.0.0.1:8080` and
//     `127.0.0.1:9090` are rewritten to the bound addresses, and AUTHSUITE_GRPC_ADDR (the operator commands'
//     documented setting) names the bound gRPC address in place of the default.
//   - A line `# stop authsuite serve, then` stops the server (SIGTERM, graceful) and a line
//     `# then start authsuite serve again` starts it again on the same data and addresses.
//   - A command followed by a comment that is a JSON object (`curl … # {"code":0,"msg":"success"}`) must print
//     a JSON object with those members.
//   - Blocks that drive docker-compose.yml (they call scripts/stack.sh) are left to TestREADMECompose.
//
// The blocks run in a new directory holding only a link to the repository's docs/ (the example files the
// README loads), so `./data`, cookie jars and backups written by the blocks stay in the test's directory.

const (
	readmeStopMarker  = "# stop authsuite serve, then"
	readmeStartMarker = "# then start authsuite serve again"
	readmeHTTPAddr    = "127.0.0.1:8080"
	readmeGRPCAddr    = "127.0.0.1:9090"
)

// readmeBlock is one fenced ```sh block of README.md.
type readmeBlock struct {
	line  int      // README line of the first line inside the fence
	lines []string // the block's lines, without the fences
}

// readmeShellBlocks returns the ```sh blocks of a Markdown document in order. An unterminated fence is an error.
func readmeShellBlocks(doc string) ([]readmeBlock, error) {
	var blocks []readmeBlock
	var cur *readmeBlock
	fence := ""
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if fence == "" && strings.HasPrefix(trimmed, "```") {
				info := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
				if info == "sh" || info == "bash" || info == "shell" {
					cur = &readmeBlock{line: i + 2}
				} else {
					fence = "other"
				}
				continue
			}
			if fence != "" && trimmed == "```" {
				fence = ""
			}
			continue
		}
		if trimmed == "```" {
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		cur.lines = append(cur.lines, line)
	}
	if cur != nil {
		return nil, fmt.Errorf("README.md line %d: the shell block is not closed", cur.line-1)
	}
	if fence != "" {
		return nil, errors.New("README.md: a code block is not closed")
	}
	return blocks, nil
}

// commands returns the block's lines that are neither blank nor comments, with trailing comments removed.
func (b readmeBlock) commands() []string {
	var out []string
	for _, l := range b.lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.Index(l, " #"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		out = append(out, l)
	}
	return out
}

func (b readmeBlock) usesCompose() bool {
	return strings.Contains(strings.Join(b.lines, "\n"), "scripts/stack.sh")
}

// quickStart checks the first block: exactly the two commands of the README's first screen. It returns the
// variables and the serve arguments of the first line.
func quickStart(b readmeBlock) (env, args []string, err error) {
	cmds := b.commands()
	if len(cmds) != 2 {
		return nil, nil, fmt.Errorf("README.md line %d: the quick start holds %d commands, want 2 (run the suite, pass the tests): %q", b.line, len(cmds), cmds)
	}
	fields := strings.Fields(cmds[0])
	i := 0
	for ; i < len(fields) && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(fields[i]); i++ {
		env = append(env, fields[i])
	}
	run := fields[i:]
	if len(run) < 4 || strings.Join(run[:4], " ") != "go run ./cmd/authsuite serve" {
		return nil, nil, fmt.Errorf("README.md line %d: the quick start's first command is %q, want [VAR=value …] go run ./cmd/authsuite serve", b.line, cmds[0])
	}
	if cmds[1] != "bash scripts/test.sh" {
		return nil, nil, fmt.Errorf("README.md: the quick start's second command is %q, want bash scripts/test.sh", cmds[1])
	}
	return env, run[4:], nil
}

// expectComment splits `command  # {json}` into the command and the JSON object its output must contain. ok is
// false for any other line (no such comment, a continued line, a comment that is not a JSON object).
func expectComment(line string) (command, want string, ok bool) {
	i := strings.LastIndex(line, " # {")
	if i < 0 {
		return "", "", false
	}
	command, want = strings.TrimRight(line[:i], " \t"), strings.TrimSpace(line[i+3:])
	if strings.TrimSpace(command) == "" || strings.HasSuffix(command, "\\") || strings.HasPrefix(strings.TrimSpace(command), "#") {
		return "", "", false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(want), &obj) != nil || len(obj) == 0 {
		return "", "", false
	}
	return command, want, true
}

// shellQuote quotes s for bash as one word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// readmePrelude runs before the blocks: strict mode, the server control over fds 3 and 4, the output check.
const readmePrelude = `set -euo pipefail
__readme_server() {
  printf '%s\n' "$1" >&3
  local ack
  IFS= read -r ack <&4
  [ "$ack" = ok ] || { printf 'test: %s authsuite serve failed: %s\n' "$1" "$ack" >&2; return 1; }
}
__readme_expect() {
  local out
  out=$(cat)
  printf '%s\n' "$out"
  if ! jq -e --argjson want "$1" '. as $got | $want | to_entries | all(.value == $got[.key])' <<<"$out" >/dev/null 2>&1; then
    printf 'README.md line %s: want a JSON object with the members %s\n' "$2" "$1" >&2
    return 1
  fi
}
trap 'printf "README script line %s failed (exit %s)\n" "$LINENO" "$?" >&2' ERR
`

// readmeScript joins the blocks into one bash script. lineOf maps a script line (1-based) to its README line,
// or 0 for the test's own lines.
func readmeScript(blocks []readmeBlock, httpAddr, grpcAddr string) (script string, lineOf []int) {
	var b strings.Builder
	lineOf = []int{0}
	add := func(readmeLine int, s string) {
		b.WriteString(s)
		b.WriteByte('\n')
		lineOf = append(lineOf, readmeLine)
	}
	for _, l := range strings.Split(strings.TrimSuffix(readmePrelude, "\n"), "\n") {
		add(0, l)
	}
	for _, blk := range blocks {
		add(0, fmt.Sprintf("# README.md line %d", blk.line))
		for i, l := range blk.lines {
			n := blk.line + i
			switch strings.TrimSpace(l) {
			case readmeStopMarker:
				add(n, "__readme_server stop")
				continue
			case readmeStartMarker:
				add(n, "__readme_server start")
				continue
			}
			l = strings.ReplaceAll(l, readmeHTTPAddr, httpAddr)
			l = strings.ReplaceAll(l, readmeGRPCAddr, grpcAddr)
			if cmd, want, ok := expectComment(l); ok {
				l = fmt.Sprintf("%s | __readme_expect %s %d", cmd, shellQuote(want), n)
			}
			add(n, l)
		}
	}
	return b.String(), lineOf
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// readmeServer is `authsuite serve` as the README's quick start runs it, in the blocks' working directory.
type readmeServer struct {
	bin, dir           string
	env, args          []string
	httpAddr, grpcAddr string // 127.0.0.1:0 until the first start, then the bound addresses
	cmd                *exec.Cmd
	exited             chan struct{}
	logs               *lockedBuffer
}

var servingLine = regexp.MustCompile(`authsuite serving.*\bhttp_addr"?[=:]"?([0-9.]+:[0-9]+).*\bgrpc_addr"?[=:]"?([0-9.]+:[0-9]+)`)

// start runs the server and returns once it logged that it is serving (after its listeners are bound and the
// token service has the registry's clients), or with the reason it did not.
func (s *readmeServer) start() error {
	s.cmd = exec.Command(s.bin, append([]string{"serve"}, s.args...)...)
	s.cmd.Dir = s.dir
	// The admin listener (/metrics) is not the README's business: always a free port, also on a restart,
	// where the REST port is the bound one and the admin default would be the fixed 127.0.0.1:8084.
	s.cmd.Env = append(append([]string{}, s.env...), "AUTHSUITE_HTTP_ADDR="+s.httpAddr, "AUTHSUITE_GRPC_ADDR="+s.grpcAddr,
		"AUTHSUITE_ADMIN_ADDR=127.0.0.1:0")
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	serving := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(s.logs, sc.Text())
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case serving <- m:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		s.cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	select {
	case m := <-serving:
		s.httpAddr, s.grpcAddr = m[1], m[2]
	case <-s.exited:
		return fmt.Errorf("authsuite serve exited: %v", s.cmd.ProcessState)
	case <-time.After(45 * time.Second):
		s.kill()
		return errors.New("authsuite serve did not report serving within 45s")
	}
	resp, err := http.Get("http://" + s.httpAddr + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s after the serving line", resp.Status)
	}
	return nil
}

// stop ends the server with SIGTERM, as Ctrl-C or a service manager would, and waits for it to exit.
func (s *readmeServer) stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
		return errors.New("authsuite serve did not exit within 30s of SIGTERM")
	}
	if !s.cmd.ProcessState.Success() {
		return fmt.Errorf("authsuite serve exited with %v on SIGTERM", s.cmd.ProcessState)
	}
	return nil
}

func (s *readmeServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
}

// freshEnv is this process's environment without any AUTHSUITE_* setting and without what makes a
// non-interactive bash run other files first: the blocks run as on a fresh machine.
func freshEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTHSUITE_") || name == "BASH_ENV" || name == "ENV" || name == "CDPATH" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// readmeTools are the commands the README's blocks use besides authsuite (scripts/test.sh installs them).
var readmeTools = []string{"bash", "curl", "jq", "openssl"}

func needReadmeTools(t *testing.T) {
	t.Helper()
	for _, tool := range readmeTools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: the README's blocks need %v (scripts/test.sh installs them)", tool, readmeTools)
			}
			t.Skipf("%s is not on PATH: the README's blocks need %v (scripts/test.sh installs them)", tool, readmeTools)
		}
	}
}

// loadReadme returns README.md's shell blocks and checks its first screen: the title, then prose, then the
// quick start, before any section.
func loadReadme(t *testing.T) []readmeBlock {
	t.Helper()
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeShellBlocks(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```sh block")
	}
	lines := strings.Split(string(doc), "\n")
	if !strings.HasPrefix(lines[0], "# ") {
		t.Errorf("README.md starts with %q, not the title", lines[0])
	}
	const firstScreen = 25
	if blocks[0].line > firstScreen {
		t.Errorf("README.md: the quick start begins on line %d, not on the first screen (%d lines)", blocks[0].line, firstScreen)
	}
	for i := 1; i < blocks[0].line-1 && i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "#") {
			t.Errorf("README.md line %d: a heading (%q) before the quick start", i+1, lines[i])
		}
	}
	return blocks
}

// TestREADME runs every shell block of README.md, in order, against a fresh authsuite serve (see the comment
// at the top of this file for how the blocks map onto the run).
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and the README's shell blocks")
	}
	needReadmeTools(t)
	blocks := loadReadme(t)
	env, serveArgs, err := quickStart(blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	var run []readmeBlock
	for _, b := range blocks[1:] {
		if b.usesCompose() {
			t.Logf("README.md line %d: a docker-compose block, run by TestREADMECompose", b.line)
			continue
		}
		run = append(run, b)
	}

	bin := authsuiteBinary(t)
	dir := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(repo, "docs"), filepath.Join(dir, "docs")); err != nil {
		t.Fatal(err)
	}
	srv := &readmeServer{bin: bin, dir: dir, env: freshEnv(env...), args: serveArgs,
		httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0", logs: &lockedBuffer{}}
	t.Cleanup(srv.kill)
	if err := srv.start(); err != nil {
		t.Fatalf("quick start: %v\n%s", err, srv.logs)
	}

	script, lineOf := readmeScript(run, srv.httpAddr, srv.grpcAddr)
	if err := os.WriteFile(filepath.Join(dir, "readme.sh"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}

	// fd 3: the script's requests (stop, start); fd 4: the test's answers.
	reqR, reqW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ackR, ackW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sh, out := readmeShell(ctx, dir, freshEnv("PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AUTHSUITE_GRPC_ADDR="+srv.grpcAddr))
	sh.ExtraFiles = []*os.File{reqW, ackR}
	began := time.Now()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	reqW.Close()
	ackR.Close()
	var stops, starts int
	control := make(chan error, 1)
	go func() {
		defer ackW.Close()
		sc := bufio.NewScanner(reqR)
		for sc.Scan() {
			var err error
			switch sc.Text() {
			case "stop":
				stops++
				err = srv.stop()
			case "start":
				starts++
				if srv.cmd != nil {
					err = errors.New("it is already running: the README starts it without stopping it first")
				} else {
					err = srv.start()
				}
			default:
				err = fmt.Errorf("unknown request %q", sc.Text())
			}
			ack := "ok"
			if err != nil {
				ack = strings.ReplaceAll(err.Error(), "\n", " ")
			}
			if _, werr := fmt.Fprintln(ackW, ack); werr != nil {
				control <- werr
				return
			}
		}
		control <- nil
	}()
	runErr := sh.Wait()
	reqR.Close()
	<-control
	took := time.Since(began)
	if runErr != nil {
		t.Fatalf("the README's shell blocks failed: %v\n--- output\n%s\n--- authsuite serve\n%s", runErr, withReadmeLine(out.String(), lineOf), srv.logs)
	}
	t.Logf("ran %d README blocks in %s (the server stopped %d and started %d times)", len(run), took.Round(time.Millisecond), stops, starts)
	if srv.cmd == nil {
		t.Fatal("the README leaves authsuite serve stopped: a block stops it without starting it again")
	}
	resp, err := http.Get("http://" + srv.httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the README: /readyz %s", resp.Status)
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("%v\n%s", err, srv.logs)
	}
}

// copyTree copies the repository's working tree to dst, as a fresh clone would hold it: without .git and
// without what builds and runs leave behind (build/, data/, .authsuite/ with a stack's master key).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	skip := map[string]bool{".git": true, "build": true, "data": true, "bin": true, ".authsuite": true}
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel != "." && d.IsDir() && skip[filepath.ToSlash(rel)] {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestREADMECompose runs the README's docker-compose blocks (those calling scripts/stack.sh), in order, in one
// bash session, where a Docker engine answers. They run in a copy of the repository, as in a fresh clone, so
// the stack's key file (.authsuite/master.key) and build/ are the copy's, never a developer's; the stack gets
// its own compose project and a free published address in place of 127.0.0.1:8080 (AUTHSUITE_PUBLISH and
// AUTHSUITE_PUBLIC_URL, the documented settings), and is removed with its volumes afterwards.
func TestREADMECompose(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and runs containers")
	}
	blocks := loadReadme(t)
	var run []readmeBlock
	for _, b := range blocks[1:] {
		if b.usesCompose() {
			run = append(run, b)
		}
	}
	if len(run) == 0 {
		t.Skip("README.md has no docker-compose block")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("SKIP the README's %d docker-compose blocks: no Docker engine answers `docker info` on this machine", len(run))
	}
	needReadmeTools(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "authsuite")
	copyTree(t, repo, dir)
	publish := freeAddr(t)
	env := freshEnv(
		"COMPOSE_PROJECT_NAME=authsuite-readme-"+strconv.FormatInt(time.Now().UnixNano()%1e9, 36),
		"AUTHSUITE_PUBLISH="+publish,
		"AUTHSUITE_PUBLIC_URL=http://"+publish,
	)
	stack := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{"scripts/stack.sh"}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := stack("logs", "--no-color", "--tail", "50")
			clusterLogs, _ := stack("-f", "docker-compose.cluster.yml", "logs", "--no-color", "--tail", "30")
			logs += clusterLogs
			t.Logf("stack logs:\n%s", logs)
		}
		// The blocks may leave either compose file's stack running (the cluster replaces the one-node stack):
		// both come down with their volumes.
		for _, file := range [][]string{{"-f", "docker-compose.cluster.yml"}, nil} {
			if out, err := stack(append(file, "down", "-v", "--remove-orphans")...); err != nil {
				t.Errorf("stack.sh %v down: %v\n%s", file, err, out)
			}
		}
	})

	script, lineOf := readmeScript(run, publish, readmeGRPCAddr)
	if err := os.WriteFile(filepath.Join(dir, "readme.sh"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sh, out := readmeShell(ctx, dir, env)
	began := time.Now()
	if err := sh.Run(); err != nil {
		t.Fatalf("the README's docker-compose blocks failed: %v\n%s", err, withReadmeLine(out.String(), lineOf))
	}
	t.Logf("ran %d README docker-compose blocks in %s", len(run), time.Since(began).Round(time.Second))

	// The stack the blocks leave behind serves: the bootstrap admin still gets a token.
	s := &suite{t: t, base: "http://" + publish}
	eventually(t, 2*time.Minute, "the stack answers after the README's blocks", func() bool {
		resp, err := http.Get(s.base + "/.well-known/openid-configuration")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	expect(t, "admin token from the stack", s.form("/connect/token", "grant_type=client_credentials&scope=adminapi", "admin", "change-me"), 200)
}

// withReadmeLine appends, to a failed script's output, the README line of the script line it names.
func withReadmeLine(msg string, lineOf []int) string {
	if m := regexp.MustCompile(`(?:README script line|readme\.sh: line) (\d+)`).FindStringSubmatch(msg); m != nil {
		if n, _ := strconv.Atoi(m[1]); n > 0 && n < len(lineOf) && lineOf[n] > 0 {
			msg += fmt.Sprintf("\n(script line %s is README.md line %d)", m[1], lineOf[n])
		}
	}
	return msg
}

// readmeShell is bash running dir/readme.sh in its own process group, killed whole when ctx ends, with
// stdout and stderr collected in one buffer.
func readmeShell(ctx context.Context, dir string, env []string) (*exec.Cmd, *lockedBuffer) {
	sh := exec.CommandContext(ctx, "bash", "readme.sh")
	sh.Dir, sh.Env = dir, env
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh.Cancel = func() error { return syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) }
	sh.WaitDelay = 5 * time.Second
	out := &lockedBuffer{}
	sh.Stdout, sh.Stderr = out, out
	return sh, out
}
