package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// composeProject runs scripts/stack.sh for one compose file under a project name of its own, with no
// AUTHSUITE_* variable of this process but those given, and removes the project with its volumes when the
// test ends (printing the containers' last logs if it failed).
type composeProject struct {
	t    *testing.T
	root string
	file string // the compose file, "" for docker-compose.yml
	env  []string
}

func newComposeProject(t *testing.T, file string, env ...string) *composeProject {
	t.Helper()
	if testing.Short() {
		t.Skip("builds images and runs containers")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skip("SKIP compose test: no Docker engine answers `docker info` on this machine")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHSUITE_") {
			clean = append(clean, kv)
		}
	}
	p := &composeProject{t: t, root: root, file: file, env: append(clean, env...)}
	project := "authsuite-e2e-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	p.env = append(p.env, "COMPOSE_PROJECT_NAME="+project)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.run("logs", "--no-color", "--tail", "40")
			t.Logf("logs:\n%s", out)
		}
		if out, err := p.run("down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("stack.sh down: %v\n%s", err, out)
		}
	})
	return p
}

// run runs stack.sh with args and returns its combined output.
func (p *composeProject) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	full := []string{filepath.Join(p.root, "scripts", "stack.sh")}
	if p.file != "" {
		full = append(full, "-f", p.file)
	}
	cmd := exec.CommandContext(ctx, "bash", append(full, args...)...)
	cmd.Dir, cmd.Env = p.root, p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs stack.sh with args and fails the test if it fails.
func (p *composeProject) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatalf("stack.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestComposeCluster brings up docker-compose.cluster.yml (three etcd members, two replicas of every role,
// two gateways behind the balancer's one published port, all images FROM scratch built here), runs the
// machine-to-machine walk-through through the published port, stops one etcd member and one token replica,
// and runs it again: what was written before is still there and new writes, tokens, checks and revocations
// work. It skips, saying so, where no Docker engine answers.
func TestComposeCluster(t *testing.T) {
	publish := freeAddr(t)
	base := "http://" + publish
	p := newComposeProject(t, "docker-compose.cluster.yml",
		"AUTHSUITE_MASTER_KEY_FILE="+filepath.Join(t.TempDir(), "master.key"),
		"AUTHSUITE_BOOTSTRAP_SECRET="+bootstrapSecret,
		"AUTHSUITE_PUBLISH="+publish,
		"AUTHSUITE_PUBLIC_URL="+base,
	)
	p.must("up", "-d", "--build")
	waitReadyWithin(t, base+"/readyz", 4*time.Minute)

	s := &suite{t: t, base: base}
	admin, tenant, secret := setupBilling(t, s, time.Minute)
	walk := func(when string) {
		t.Helper()
		tok := expect(t, "token "+when, s.form("/connect/token", "grant_type=client_credentials", "billing", secret), 200)["access_token"].(string)
		expect(t, "check "+when, s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 200)
		expect(t, "revoke "+when, s.call("GET", "/api/oauth2/server/tokens/revoke?token="+tok, "", nil), 200)
		// Every check, on whichever gateway and token replica it lands, refuses the revoked token.
		for i := range 6 {
			expect(t, "check revoked "+when+" #"+strconv.Itoa(i), s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 400, "invalid_token")
		}
	}
	walk("with every member up")

	p.must("stop", "etcd-2", "token-1")
	expect(t, "the client after the stop", s.call("GET", "/api/adminapi2/v1/tenants/"+tenant+"/clients/billing", admin, nil), 200)
	walk("with one etcd member and one token replica stopped")
	expect(t, "a new client after the stop", s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/", admin, map[string]any{
		"clientId": "reports", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read"},
	}), 201)
	reports := expect(t, "a secret after the stop", s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/reports/secrets/", admin, map[string]any{}), 201)["value"].(string)
	awaitClient(t, s, "reports", reports)
	expect(t, "a token of the new client", s.form("/connect/token", "grant_type=client_credentials", "reports", reports), 200)
}
