package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// authsuiteBinary builds cmd/authsuite once per test run.
func authsuiteBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authsuite-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "authsuite")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/authsuite/authsuite/cmd/authsuite").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building authsuite: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// freeAddr reserves a loopback port for a role that other roles must know before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is one role of a split deployment.
type process struct {
	t    *testing.T
	args []string
	env  []string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

func (p *process) start() {
	p.t.Helper()
	p.logs = &lockedBuffer{}
	p.cmd = exec.Command(authsuiteBinary(p.t), p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

// kill9 ends the process with SIGKILL: no shutdown code runs.
func (p *process) kill9() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *process) stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.cmd.Wait()
}

func waitReady(t *testing.T, url string, procs ...*process) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			for _, p := range procs {
				t.Logf("%v:\n%s", p.args, p.logs)
			}
			t.Fatalf("%s not ready", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSplitRoles runs each role as its own process, does the walk-through through the gateway, and kills
// the registry and then the token service with SIGKILL mid-way: nothing acknowledged is lost, and known
// clients keep getting tokens while the registry is down.
func TestSplitRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := t.TempDir()
	key := suitekey.Generate()
	addr := map[string]string{}
	for _, n := range []string{"gateway", "token", "registry", "provider", "token-http", "registry-http", "provider-http"} {
		addr[n] = freeAddr(t)
	}
	base := "http://" + addr["gateway"]
	common := []string{"--token-addr", addr["token"], "--registry-addr", addr["registry"], "--provider-addr", addr["provider"], "--issuer", base}
	env := []string{"AUTHSUITE_MASTER_KEY=" + key, "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	role := func(name string) *process {
		args := append([]string{"serve", name, "--log-format", "json"}, common...)
		if name == "gateway" {
			args = append(args, "--http-addr", addr["gateway"], "--admin-addr", "127.0.0.1:0")
		} else {
			args = append(args, "--grpc-addr", addr[name], "--http-addr", addr[name+"-http"], "--data-dir", filepath.Join(data, name))
		}
		return &process{t: t, args: args, env: env}
	}
	procs := map[string]*process{}
	for _, n := range []string{"registry", "token", "provider", "gateway"} {
		procs[n] = role(n)
		procs[n].start()
		p := procs[n]
		t.Cleanup(func() { p.kill9() })
	}
	all := []*process{procs["registry"], procs["token"], procs["provider"], procs["gateway"]}
	waitReady(t, base+"/readyz", all...)

	s := &suite{t: t, base: base}
	admin, tenant, secret := setupBilling(t, s, 10*time.Second)

	// The registry dies: the token service keeps issuing and checking for known clients.
	procs["registry"].kill9()
	tok := expect(t, "token while the registry is down", s.form("/connect/token", "grant_type=client_credentials", "billing", secret), 200)["access_token"].(string)
	expect(t, "check while the registry is down", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 200)
	procs["registry"].start()
	waitReady(t, "http://"+addr["registry-http"]+"/readyz", procs["registry"])
	eventually(t, 10*time.Second, "admin API back", func() bool {
		return s.call("GET", "/api/adminapi2/v1/tenants/"+tenant+"/clients/billing", admin, nil).status == 200
	})
	// A write after the restart reaches the token service through its re-established change feed.
	second := expect(t, "second secret", s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/billing/secrets/", admin, map[string]any{}), 201)["value"].(string)
	expect(t, "second secret usable (the request carries the secret's revision)", s.form("/connect/token", "grant_type=client_credentials", "billing", second), 200)

	// An acknowledged revocation survives SIGKILL of the token service.
	expect(t, "revoke", s.call("GET", "/api/oauth2/server/tokens/revoke?token="+tok, "", nil), 200)
	procs["token"].kill9()
	procs["token"].start()
	waitReady(t, "http://"+addr["token-http"]+"/readyz", procs["token"])
	eventually(t, 10*time.Second, "token service back", func() bool {
		return s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil).status == 400
	})
	expect(t, "revoked after restart", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 400, "invalid_token")
	expect(t, "new token after restart", s.form("/connect/token", "grant_type=client_credentials", "billing", second), 200)

	// Graceful shutdown on SIGTERM, the registry first: it must not wait for the token service's watch
	// stream (which a separate process holds open) until the grace period runs out.
	for _, n := range []string{"registry", "token", "provider", "gateway"} {
		began := time.Now()
		if err := procs[n].stop(); err != nil {
			t.Errorf("%s did not exit cleanly on SIGTERM: %v\n%s", n, err, procs[n].logs)
		}
		if took := time.Since(began); took > 10*time.Second {
			t.Errorf("%s took %s to stop", n, took)
		}
		if n == "gateway" && strings.Contains(procs[n].logs.String(), `"level":"ERROR"`) {
			t.Errorf("gateway logged errors:\n%s", procs[n].logs)
		}
	}
}
