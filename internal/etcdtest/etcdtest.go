// Package etcdtest starts real etcd clusters for tests: each member is a separate etcd server process (the
// release pinned as a Go tool in tools/go.mod, go.etcd.io/etcd/server/v3), so Kill is a real kill -9 and the
// cluster runs the real Raft implementation, not an imitation of it.
//
// Members listen on 127.0.0.1 with ports the kernel chose and keep their data in the test's temporary
// directory; everything is stopped and removed when the test ends. Readiness is waited for by a successful
// linearizable read through the member (or by the process exiting, which fails the test with its log), never
// by sleeping.
//
// The binary is found, in order, from the environment variable AUTHSUITE_ETCD_BIN (a path to an etcd
// executable, e.g. Debian's /usr/bin/etcd), or by `go tool -n go.etcd.io/etcd/server/v3` in the repository's
// tools module, which builds it once into the Go build cache.
package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EnvBinary names the environment variable that, when set, is the path of the etcd executable to run instead
// of the one pinned in tools/go.mod.
const EnvBinary = "AUTHSUITE_ETCD_BIN"

// readyTimeout bounds how long a member may take to answer its first linearizable read. It is generous because
// the test machine may be shared; a member that exits fails at once instead.
const readyTimeout = 60 * time.Second

// startAttempts is how often Start picks fresh ports when a member could not bind the ones picked for it
// (another process took a port between our probe and etcd's bind).
const startAttempts = 3

// Cluster is a running etcd cluster of real etcd processes. Its methods must be called from the test's
// goroutine (they fail the test with t.Fatal).
type Cluster struct {
	t       testing.TB
	bin     string
	members []*member
}

type member struct {
	name      string
	dir       string // data directory
	logPath   string // the process's stdout and stderr
	clientURL string
	peerURL   string
	args      []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once the running process has exited and been reaped
}

// Start starts an n-member etcd cluster (n ≥ 1) and returns when every member has answered a linearizable
// read. The cluster is killed and its data removed when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("etcdtest.Start: n = %d, want at least 1", n)
	}
	c := &Cluster{t: t, bin: binary(t)}
	t.Cleanup(c.kill)
	root := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		err := c.start(root, attempt, n)
		if err == nil {
			return c
		}
		c.kill()
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("etcdtest.Start(%d): %v", n, lastErr)
	return nil
}

var errAddrInUse = errors.New("address already in use")

func (c *Cluster) start(root string, attempt, n int) error {
	ports, err := freePorts(2 * n)
	if err != nil {
		return err
	}
	token := make([]byte, 8)
	rand.Read(token)
	c.members = make([]*member, n)
	initial := make([]string, n)
	for i := range c.members {
		name := "m" + strconv.Itoa(i)
		m := &member{
			name:      name,
			dir:       filepath.Join(root, fmt.Sprintf("try%d-%s", attempt, name)),
			clientURL: "http://127.0.0.1:" + strconv.Itoa(ports[2*i]),
			peerURL:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
		}
		if err := os.MkdirAll(m.dir, 0o700); err != nil {
			return err
		}
		m.logPath = filepath.Join(m.dir, "etcd.log")
		c.members[i] = m
		initial[i] = name + "=" + m.peerURL
	}
	for _, m := range c.members {
		m.args = []string{
			"--name", m.name,
			"--data-dir", filepath.Join(m.dir, "data"),
			"--listen-client-urls", m.clientURL,
			"--advertise-client-urls", m.clientURL,
			"--listen-peer-urls", m.peerURL,
			"--initial-advertise-peer-urls", m.peerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", "etcdtest-" + hex.EncodeToString(token),
			// Short Raft timers so an election after Kill takes well under a second, yet loose enough not to
			// flap on a loaded two-core machine.
			"--heartbeat-interval", "50",
			"--election-timeout", "500",
			// Skipping fsync keeps tests fast. It does not weaken Kill: a killed process's writes are in the
			// page cache, which survives it; only a machine crash would lose them.
			"--unsafe-no-fsync",
			"--log-level", "warn",
		}
	}
	// Members of a new cluster wait for each other, so all are started before any is waited for.
	for _, m := range c.members {
		if err := c.startProcess(m); err != nil {
			return err
		}
	}
	for _, m := range c.members {
		if err := m.waitReady(); err != nil {
			return err
		}
	}
	return nil
}

// Endpoints returns the client URLs of all members, in member order.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.clientURL
	}
	return eps
}

// Endpoint returns the client URL of member i.
func (c *Cluster) Endpoint(i int) string { return c.member(i).clientURL }

// Client returns a client balancing over all members; it is closed when the test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return newClient(t, c.Endpoints())
}

// ClientAt returns a client that talks to member i only; it is closed when the test ends.
func (c *Cluster) ClientAt(t testing.TB, i int) *clientv3.Client {
	t.Helper()
	return newClient(t, []string{c.member(i).clientURL})
}

func newClient(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: client for %v: %v", endpoints, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Kill kills member i with SIGKILL (no shutdown, no flush) and returns once the process is gone. Its data
// directory is kept for Restart. If it was the leader, the others notice only after an election timeout
// (0.5–1 s); a write sent through them before a new leader is elected can fail with "request timed out,
// possibly due to previous leader failure" (outcome unknown), while a linearizable read is retried by the
// client until the new leader answers.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	m := c.member(i)
	if !m.running() {
		c.t.Fatalf("etcdtest.Kill(%d): member is not running", i)
	}
	m.signal(syscall.SIGKILL)
}

// Restart starts a stopped or killed member i again with its data directory and its ports, and returns once it
// has answered a linearizable read through itself, which means it has applied everything the cluster committed
// before that read.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.member(i)
	if m.running() {
		c.t.Fatalf("etcdtest.Restart(%d): member is still running", i)
	}
	if err := c.startProcess(m); err != nil {
		c.t.Fatalf("etcdtest.Restart(%d): %v", i, err)
	}
	if err := m.waitReady(); err != nil {
		c.t.Fatalf("etcdtest.Restart(%d): %v", i, err)
	}
}

// Stop shuts every running member down gracefully (SIGTERM; SIGKILL if one has not exited after 10 s) and
// returns once all processes are gone. Members can be started again with Restart.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.stop()
		}()
	}
	wg.Wait()
}

// Running reports whether member i's process is running.
func (c *Cluster) Running(i int) bool { return c.member(i).running() }

// Log returns what member i has written to its log so far (for failure messages).
func (c *Cluster) Log(i int) string { return c.member(i).logTail(1 << 20) }

func (c *Cluster) member(i int) *member {
	c.t.Helper()
	if i < 0 || i >= len(c.members) {
		c.t.Fatalf("etcdtest: member %d out of range [0, %d)", i, len(c.members))
	}
	return c.members[i]
}

// kill SIGKILLs every running member; used at cleanup, where the data is thrown away anyway.
func (c *Cluster) kill() {
	for _, m := range c.members {
		m.signal(syscall.SIGKILL)
	}
}

func (c *Cluster) startProcess(m *member) error {
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, m.args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", m.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	return nil
}

func (m *member) proc() (*exec.Cmd, chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd, m.done
}

func (m *member) running() bool {
	cmd, done := m.proc()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// signal sends sig to the member's process, if it runs, and waits until it has exited.
func (m *member) signal(sig os.Signal) {
	cmd, done := m.proc()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	<-done
}

func (m *member) stop() {
	cmd, done := m.proc()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		m.signal(syscall.SIGKILL)
	}
}

// waitReady returns nil once a linearizable Get through this member alone succeeds; an error if the process
// exits first or readyTimeout passes.
func (m *member) waitReady() error {
	_, done := m.proc()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{m.clientURL},
		DialTimeout: readyTimeout,
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
	if err != nil {
		return fmt.Errorf("%s: client: %w", m.name, err)
	}
	defer cli.Close()
	for {
		// The client retries unavailable endpoints with its own backoff, so this loop does not spin while the
		// member is still binding or electing a leader.
		_, err := cli.Get(ctx, "etcdtest/ready")
		if err == nil {
			return nil
		}
		select {
		case <-done:
			log := m.logTail(4096)
			if strings.Contains(log, "address already in use") {
				return fmt.Errorf("%s: %w:\n%s", m.name, errAddrInUse, log)
			}
			return fmt.Errorf("%s exited before it was ready:\n%s", m.name, log)
		default:
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s not ready after %v (last error %v):\n%s", m.name, readyTimeout, err, m.logTail(4096))
		}
	}
}

// logTail returns the last max bytes of the member's log.
func (m *member) logTail(max int64) string {
	f, err := os.Open(m.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that nothing listens on, chosen below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range). Ports in that range are also handed out as the local end of
// outgoing connections, so a killed member's port could be taken by any client's connection before Restart
// binds it again; below the range only another listener can take it. All n listeners are held open until every
// port is chosen, so the ports differ from each other; another process may still take one before etcd binds
// it, which Start detects and answers with fresh ports.
func freePorts(n int) ([]int, error) {
	low := ephemeralLow()
	const first = 10000
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 || low-first < 2*n {
			// No room below the ephemeral range: fall back to ports the kernel chooses.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			defer l.Close()
			ports = append(ports, l.Addr().(*net.TCPAddr).Port)
			continue
		}
		port := first + mrand.IntN(low-first)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken: try another
		}
		defer l.Close()
		ports = append(ports, port)
	}
	return ports, nil
}

// ephemeralLow returns the first port of the kernel's ephemeral range, or 32768 (Linux's default) when it
// cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil && low > 1024 && low <= 65535 {
				return low
			}
		}
	}
	return 32768
}

var bin struct {
	once sync.Once
	path string
	err  error
}

// binary returns the path of the etcd executable, building the pinned one on first use.
func binary(t testing.TB) string {
	t.Helper()
	bin.once.Do(func() { bin.path, bin.err = findBinary() })
	if bin.err != nil {
		t.Fatalf("etcdtest: %v", bin.err)
	}
	return bin.path
}

func findBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source tree to find tools/go.mod; set " + EnvBinary)
	}
	tools := filepath.Join(filepath.Dir(file), "..", "..", "tools")
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goCmd, "tool", "-n", "go.etcd.io/etcd/server/v3")
	cmd.Dir = tools
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("build etcd in %s: %v: %s (or set %s)", tools, err, stderr, EnvBinary)
	}
	return strings.TrimSpace(string(out)), nil
}
