package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// TestComposeStack brings up docker-compose.yml through scripts/stack.sh (one container per role, images FROM
// scratch) with no AUTHSUITE_MASTER_KEY: the first `up` creates the key file (mode 0600). It runs the
// machine-to-machine walk-through through the published gateway, SIGKILLs the registry container mid-way and
// shows nothing was lost; a second `up` recreating every container reuses the key file, so the secret
// created before still works; `down` then works with no variable set. It skips, saying so, where no Docker
// engine answers.
func TestComposeStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and runs containers")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skip("SKIP compose stack test: no Docker engine answers `docker info` on this machine")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	publish := freeAddr(t)
	base := "http://" + publish
	project := "authsuite-e2e-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	keyFile := filepath.Join(t.TempDir(), "keys", "master.key")
	// No AUTHSUITE_* variable of this process reaches the stack: the master key must come from the key file.
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHSUITE_") {
			clean = append(clean, kv)
		}
	}
	env := append(clean,
		"AUTHSUITE_MASTER_KEY_FILE="+keyFile,
		"AUTHSUITE_BOOTSTRAP_SECRET="+bootstrapSecret,
		"AUTHSUITE_PUBLISH="+publish,
		"AUTHSUITE_PUBLIC_URL="+base,
	)
	run := func(env []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "scripts", "stack.sh"), "-p", project}, args...)...)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	stack := func(args ...string) string {
		t.Helper()
		out, err := run(env, args...)
		if err != nil {
			t.Fatalf("stack.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	down := false
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := run(env, "logs", "--no-color", "--tail", "50")
			t.Logf("logs:\n%s", out)
		}
		if !down {
			if out, err := run(env, "down", "-v", "--remove-orphans"); err != nil {
				t.Errorf("stack.sh down: %v\n%s", err, out)
			}
		}
	})
	if out := stack("up", "-d", "--build"); !strings.Contains(out, keyFile) {
		t.Errorf("the first up does not say where it put the master key:\n%s", out)
	}
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := suitekey.Parse(strings.TrimSpace(string(key))); err != nil {
		t.Fatalf("the created key file does not hold a master key: %v", err)
	}
	waitReadyWithin(t, base+"/readyz", 3*time.Minute)

	s := &suite{t: t, base: base}
	admin, tenant, secret := setupBilling(t, s, 30*time.Second)
	tok := expect(t, "token", s.form("/connect/token", "grant_type=client_credentials", "billing", secret), 200)["access_token"].(string)

	// Kill the registry container: tokens keep working; after it is back, the client is still there.
	stack("kill", "-s", "SIGKILL", "registry")
	expect(t, "token while the registry is down", s.form("/connect/token", "grant_type=client_credentials", "billing", secret), 200)
	stack("up", "-d", "registry")
	eventually(t, 2*time.Minute, "registry back with the client", func() bool {
		return s.call("GET", "/api/adminapi2/v1/tenants/"+tenant+"/clients/billing", admin, nil).status == 200
	})
	expect(t, "check", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 200)
	expect(t, "revoke", s.call("GET", "/api/oauth2/server/tokens/revoke?token="+tok, "", nil), 200)
	expect(t, "check revoked", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 400, "invalid_token")

	// A second up recreates every container from the same key file: the data opens, the secret still works.
	stack("up", "-d", "--force-recreate")
	if again, err := os.ReadFile(keyFile); err != nil || string(again) != string(key) {
		t.Fatalf("the second up changed the key file (%v)", err)
	}
	waitReadyWithin(t, base+"/readyz", 3*time.Minute)
	eventually(t, time.Minute, "the old secret after the second up", func() bool {
		return s.form("/connect/token", "grant_type=client_credentials", "billing", secret).status == 200
	})

	// down works as written: no variable at all, not even where the key lives.
	if out, err := run(clean, "down", "-v", "--remove-orphans"); err != nil {
		t.Fatalf("stack.sh down without variables: %v\n%s", err, out)
	}
	down = true
	ids, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project).Output()
	if err != nil || strings.TrimSpace(string(ids)) != "" {
		t.Fatalf("containers left after down: %q, %v", ids, err)
	}
}

func waitReadyWithin(t *testing.T, url string, within time.Duration) {
	t.Helper()
	eventually(t, within, url+" ready", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
