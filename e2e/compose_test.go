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

// TestComposeStack brings up docker-compose.yml (one container per role, images FROM scratch), runs the
// machine-to-machine walk-through through the published gateway, SIGKILLs the registry container mid-way,
// shows nothing was lost, and brings the stack down. It skips, saying so, where no Docker engine answers.
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
	env := append(os.Environ(),
		"AUTHSUITE_MASTER_KEY="+suitekey.Generate(),
		"AUTHSUITE_BOOTSTRAP_SECRET="+bootstrapSecret,
		"AUTHSUITE_PUBLISH="+publish,
		"AUTHSUITE_PUBLIC_URL="+base,
	)
	stack := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "scripts", "stack.sh"), "-p", project}, args...)...)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stack.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", stack("logs", "--no-color", "--tail", "50"))
		}
		stack("down", "-v", "--remove-orphans")
	})
	stack("up", "-d", "--build")
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
