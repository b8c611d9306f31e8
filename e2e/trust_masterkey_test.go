package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// runBinary runs the built binary with args and env (added to this process's) within limit and returns its
// stdout, stderr and exit error. On the deadline it sends SIGQUIT, so the Go runtime prints every goroutine's
// stack to stderr.
func runBinary(t *testing.T, limit time.Duration, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := authsuiteBinary(t) // built before the deadline starts: a build may take a while
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel, cmd.WaitDelay = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }, 5*time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// runFailing runs the built binary, expecting a non-zero exit within 15 s, and returns its stderr.
func runFailing(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runBinary(t, 15*time.Second, env, args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("authsuite %v: want a non-zero exit, got %v\nstdout: %s\nstderr: %s", args, err, stdout, stderr)
	}
	return stderr
}

// oneLine checks that out is exactly one line naming want and no panic trace.
func oneLine(t *testing.T, out, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) || strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("want one line naming %q, got:\n%s", want, out)
	}
}

// TestStartupFailuresAreOneLine: a start-up failure (item 26) — an occupied HTTP or gRPC port, a malformed
// AUTHSUITE_MASTER_KEY, a data directory that cannot be used — prints one line naming the setting and exits
// non-zero; it never panics.
func TestStartupFailuresAreOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"http port in use", env, []string{"--http-addr", busy.Addr().String()}, "--http-addr"},
		{"grpc port in use", env, []string{"--grpc-addr", busy.Addr().String()}, "--grpc-addr"},
		{"malformed master key", append([]string{"AUTHSUITE_MASTER_KEY=not-a-key"}, env...), nil, "AUTHSUITE_MASTER_KEY"},
		{"data dir is a file", env, []string{"--data-dir", filepath.Join(notADir, "data")}, "--data-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}
			if !hasArg(tc.args, "--data-dir") {
				args = append(args, "--data-dir", t.TempDir())
			}
			out := runFailing(t, tc.env, append(args, tc.args...)...)
			oneLine(t, out, tc.want)
			if strings.Contains(out, "not-a-key") {
				t.Errorf("the error quotes the key: %s", out)
			}
		})
	}
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		if a == name {
			return true
		}
	}
	return false
}

// node is one all-in-one authsuite process of the built binary on a data directory, with fixed loopback
// addresses so that restarts keep the issuer.
type node struct {
	t              *testing.T
	dir, http, rpc string
}

func newNode(t *testing.T) *node {
	return &node{t: t, dir: t.TempDir(), http: freeAddr(t), rpc: freeAddr(t)}
}

func (n *node) args() []string {
	return []string{"serve", "--http-addr", n.http, "--grpc-addr", n.rpc, "--admin-addr", "127.0.0.1:0", "--data-dir", n.dir, "--log-format", "json"}
}

// serve starts the binary with env and waits until it is ready; the caller stops it.
func (n *node) serve(env ...string) *process {
	n.t.Helper()
	p := &process{t: n.t, args: n.args(), env: append([]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}, env...)}
	p.start()
	n.t.Cleanup(func() { p.kill9() })
	waitReady(n.t, "http://"+n.http+"/readyz", p)
	return p
}

// fail runs the binary with env, expecting a start-up failure, and returns its stderr.
func (n *node) fail(t *testing.T, env ...string) string {
	t.Helper()
	return runFailing(t, append([]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}, env...), n.args()...)
}

// fileHashes maps each file of dir to the SHA-256 of its content.
func fileHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][32]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

// checked is the answer of the simple token API's check endpoint.
type checked struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// tokenChecks fails the test unless the check endpoint calls tok live.
func tokenChecks(t *testing.T, s *suite, tok string) {
	t.Helper()
	r := s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(tok), "", nil)
	var c checked
	if r.status != 200 || json.Unmarshal(r.body, &c) != nil || c.ExpiresIn <= 0 {
		t.Fatalf("check: %d %s", r.status, r.body)
	}
}

// TestMasterKeyMismatchRefusesToStart: on existing data, a missing, wrong or malformed master key (item 14)
// is a start-up error naming the setting and the key id the data was sealed under; no file changes, no
// master.key is generated, and the right key afterwards starts the suite with every secret and token intact.
func TestMasterKeyMismatchRefusesToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	n := newNode(t)
	p := n.serve()
	s := &suite{t: t, base: "http://" + n.http}
	_, _, secret := setupBilling(t, s, 10*time.Second)
	tok := clientToken(t, s, "billing", secret, "orders.read")
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.logs)
	}
	keyFile := filepath.Join(n.dir, "master.key")
	rightKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := suitekey.Parse(string(rightKey))
	if err != nil {
		t.Fatal(err)
	}
	wantID := kr.PrimaryID()
	otherKey := suitekey.Generate()
	otherRing, _ := suitekey.Parse(otherKey)

	for _, tc := range []struct {
		name    string
		setup   func() // changes the key setting before the start
		env     []string
		want    []string // what the error line names
		keyFile bool     // whether master.key exists during the start
	}{
		{"missing key file", func() { os.Remove(keyFile) }, nil, []string{"--master-key-file", "does not exist", wantID}, false},
		{"wrong key file", func() { os.WriteFile(keyFile, []byte(otherKey+"\n"), 0o600) }, nil, []string{"--master-key-file", wantID, otherRing.PrimaryID()}, true},
		{"malformed key file", func() { os.WriteFile(keyFile, []byte("not a key\n"), 0o600) }, nil, []string{"--master-key-file"}, true},
		{"wrong AUTHSUITE_MASTER_KEY", func() {}, []string{"AUTHSUITE_MASTER_KEY=" + otherKey}, []string{"AUTHSUITE_MASTER_KEY", wantID}, true},
		{"malformed AUTHSUITE_MASTER_KEY", func() {}, []string{"AUTHSUITE_MASTER_KEY=" + otherKey[:20]}, []string{"AUTHSUITE_MASTER_KEY"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(keyFile, rightKey, 0o600); err != nil {
				t.Fatal(err)
			}
			tc.setup()
			before := fileHashes(t, n.dir)
			out := n.fail(t, tc.env...)
			oneLine(t, out, tc.want[0])
			for _, w := range tc.want[1:] {
				if !strings.Contains(out, w) {
					t.Errorf("the error does not name %q: %s", w, out)
				}
			}
			if strings.Contains(out, otherKey[:20]) || strings.Contains(out, strings.TrimSpace(string(rightKey))) {
				t.Errorf("the error quotes a key: %s", out)
			}
			after := fileHashes(t, n.dir)
			if len(after) != len(before) {
				t.Errorf("files before %d, after %d", len(before), len(after))
			}
			for name, h := range before {
				if after[name] != h {
					t.Errorf("%s changed", name)
				}
			}
			if _, err := os.Stat(keyFile); (err == nil) != tc.keyFile {
				t.Errorf("master.key exists: %v, want %v", err == nil, tc.keyFile)
			}
		})
	}

	// Files from before key records were kept: the token service still refuses a key that cannot open its
	// signing key, instead of retiring it, and no store records the wrong key.
	t.Run("wrong key on files without a key record", func(t *testing.T) {
		for _, f := range []string{"registry.db", "token.db", "provider.db"} {
			stripKeyRecord(t, filepath.Join(n.dir, f))
		}
		if err := os.WriteFile(keyFile, []byte(otherKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := n.fail(t)
		oneLine(t, out, "signing key")
		if !strings.Contains(out, otherRing.PrimaryID()) {
			t.Errorf("the error does not name the key id: %s", out)
		}
	})

	// The right key: the suite starts, the old secret and token work, and the signing key was not retired.
	if err := os.WriteFile(keyFile, rightKey, 0o600); err != nil {
		t.Fatal(err)
	}
	p = n.serve()
	defer p.stop()
	tokenChecks(t, s, tok)
	if got := clientToken(t, s, "billing", secret, "orders.read"); got == "" {
		t.Fatal("no token with the old secret")
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	r := s.call("GET", "/.well-known/openid-configuration/jwks", "", nil)
	if err := json.Unmarshal(r.body, &jwks); err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("jwks after restarts: %s (want the one original key)", r.body)
	}
}

// stripKeyRecord deletes the master-key record of a bbolt file, as files written before records existed.
func stripKeyRecord(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("master_keys")) }); err != nil {
		t.Fatal(err)
	}
}
