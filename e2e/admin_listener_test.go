package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
)

// getStatus GETs url and returns the status and body.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// checkAdmin fails the test unless the admin listener at addr answers /healthz, /readyz and /metrics (with
// the role's build info), and the REST listener at public (when given) answers 404 for /metrics.
func checkAdmin(t *testing.T, what, admin, public, role string) {
	t.Helper()
	for _, p := range []string{"/healthz", "/readyz"} {
		eventually(t, 10*time.Second, what+" admin "+p, func() bool {
			code, _ := getStatus(t, "http://"+admin+p)
			return code == http.StatusOK
		})
	}
	code, body := getStatus(t, "http://"+admin+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `authsuite_build_info{role="`+role+`"`) || !strings.Contains(body, "go_goroutines ") {
		t.Errorf("%s admin /metrics: %d, want 200 with the %s role's build info:\n%.300s", what, code, role, body)
	}
	if public == "" {
		return
	}
	if code, body := getStatus(t, public+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "authsuite_") {
		t.Errorf("%s REST /metrics: %d %.200s, want 404 without metrics", what, code, body)
	}
	// Load balancers often probe the public port: liveness and readiness stay there too.
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := getStatus(t, public+p); code != http.StatusOK {
			t.Errorf("%s REST %s: %d, want 200", what, p, code)
		}
	}
}

// TestAdminListenerOneProcess: in one-process mode /metrics is served only on the admin listener
// (--admin-addr), which also answers /healthz and /readyz; the public REST port answers 404 for /metrics.
func TestAdminListenerOneProcess(t *testing.T) {
	s := startSuite(t)
	clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	if s.running.AdminAddr.String() == s.running.HTTPAddr.String() {
		t.Fatalf("admin and REST listeners share %s", s.running.HTTPAddr)
	}
	checkAdmin(t, "one process", s.running.AdminAddr.String(), s.base, "all")
	// The scrape sees the token just issued.
	if m := string(s.adminGet("/metrics").body); !strings.Contains(m, `authsuite_tokens_issued_total{grant_type="client_credentials"} 1`) {
		t.Errorf("admin /metrics does not count the issued token")
	}
}

// TestAdminListenerSplitRoles: every role of a split deployment serves /metrics, /healthz and /readyz on its
// own admin listener; the gateway's REST port answers 404 for /metrics.
func TestAdminListenerSplitRoles(t *testing.T) {
	dir := t.TempDir()
	addr := map[string]string{}
	for _, n := range []string{"token", "registry", "provider"} {
		addr[n] = freeAddr(t)
	}
	remote := []string{"--token-addr", addr["token"], "--registry-addr", addr["registry"], "--provider-addr", addr["provider"]}
	env := []string{"AUTHSUITE_MASTER_KEY=" + suitekey.Generate(), "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	running := map[config.Role]*app.Suite{}
	for _, role := range []config.Role{config.RoleRegistry, config.RoleToken, config.RoleProvider, config.RoleGateway} {
		args := append([]string{"--admin-addr", "127.0.0.1:0"}, remote...)
		if role == config.RoleGateway {
			args = append(args, "--http-addr", "127.0.0.1:0")
		} else {
			args = append(args, "--grpc-addr", addr[string(role)], "--data-dir", filepath.Join(dir, string(role)))
		}
		cfg, err := config.Load(role, args, env, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		s, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		running[role] = s
	}
	for role, s := range running {
		public := ""
		if role == config.RoleGateway {
			public = "http://" + s.HTTPAddr.String()
		} else if s.HTTPAddr != nil {
			t.Errorf("%s role has a REST listener at %s", role, s.HTTPAddr)
		}
		checkAdmin(t, string(role), s.AdminAddr.String(), public, string(role))
	}
}

// TestServeHelp: `authsuite serve --help` (and -h, for a role too) prints every flag with its variable, and
// the environment-only settings, to stdout and exits 0.
func TestServeHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"serve", "token", "--help"}} {
		stdout, stderr, err := runBinary(t, 15*time.Second, nil, args...)
		if err != nil {
			t.Fatalf("authsuite %v: %v\nstderr: %s", args, err, stderr)
		}
		for _, want := range []string{"--http-addr  AUTHSUITE_HTTP_ADDR", "--admin-addr  AUTHSUITE_ADMIN_ADDR", "--data-dir  AUTHSUITE_DATA_DIR  (default ./data)",
			"--allow-private-outbound  AUTHSUITE_ALLOW_PRIVATE_OUTBOUND", "Environment only", "AUTHSUITE_MASTER_KEY", "AUTHSUITE_BOOTSTRAP_SECRET",
			"AUTHSUITE_BOOTSTRAP_PASSWORD", "AUTHSUITE_GATEWAY_CREDENTIAL"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("authsuite %v lacks %q:\n%s", args, want, stdout)
			}
		}
		if stderr != "" {
			t.Errorf("authsuite %v wrote to stderr: %s", args, stderr)
		}
	}
	// A wrong flag is still a one-line error that points at the help.
	oneLine(t, runFailing(t, nil, "serve", "--no-such-flag"), "serve -h")
}

// TestBootstrapSecretIgnoredWarning: restarting a bootstrapped data directory with a different
// AUTHSUITE_BOOTSTRAP_SECRET logs exactly one warning saying it is ignored (never the secret); the old secret
// still authenticates the admin client and the new one does not.
func TestBootstrapSecretIgnoredWarning(t *testing.T) {
	s := startSuite(t)
	clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	s.stop()

	const other = "another-bootstrap-secret-0123456789abcdef"
	logs := &syncBuffer{}
	cfg, err := config.Load(config.RoleAll, []string{"--http-addr", s.httpAddr, "--grpc-addr", s.grpcAddr, "--admin-addr", "127.0.0.1:0", "--data-dir", s.dataDir},
		[]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + other}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	running, err := app.Start(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s.running = running
	clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	expect(t, "the ignored secret", s.form("/connect/token", "grant_type=client_credentials&scope=adminapi", "admin", other), 401, "invalid_client")
	var warnings []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Level == "WARN" {
			warnings = append(warnings, rec.Msg)
		}
	}
	if len(warnings) != 1 || warnings[0] != registry.IgnoredSecretWarning {
		t.Errorf("warnings %q, want exactly %q", warnings, registry.IgnoredSecretWarning)
	}
	if strings.Contains(logs.String(), other) || strings.Contains(logs.String(), bootstrapSecret) {
		t.Error("the log holds a bootstrap secret")
	}
}
