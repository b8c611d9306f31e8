package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/cli"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/migrate/fence"
)

// jwtKid returns the key id in a JWT's header.
func jwtKid(t testing.TB, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	raw, err := base64URLDecode(head)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Kid == "" {
		t.Fatalf("token header %s: %v", raw, err)
	}
	return h.Kid
}

// TestMigrateBboltToEtcd: an install run on bbolt (tenant, users, clients with secrets, a refresh token, a
// revocation) is stopped and moved by `authsuite migrate` into an empty prefix of a real 3-member etcd
// cluster; a suite started there with --store etcd and the same master key serves it as it was: the old
// client secret gets tokens, the user signs in with the old password, the old refresh token refreshes, the
// revoked token stays revoked, and a token issued on bbolt still verifies (same signing key id). A second
// migrate into the prefix is refused naming it, and a suite refuses to start on a prefix an import holds.
func TestMigrateBboltToEtcd(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0"}
	s.start()
	f := signinFixtureOn(t, s)
	ropc := func(s *suite, what string) map[string]any {
		t.Helper()
		return expect(t, what, s.form("/connect/token", "grant_type=password&scope=openid+offline_access&username=alice&password="+url.QueryEscape(alicePassword), "legacy", f.ropcSecret), 200)
	}
	first := ropc(s, "password grant on bbolt")
	kept := first["access_token"].(string)
	refresh := first["refresh_token"].(string)
	revoked := ropc(s, "second token on bbolt")["access_token"].(string)
	expect(t, "revoke on bbolt", s.call("GET", "/api/oauth2/server/tokens/revoke?token="+revoked, "", nil), 200)
	s.stop()

	endpoints := strings.Join(etcd.Endpoints(), ",")
	migrateTo := func(prefix string) (string, error) {
		var out, errOut bytes.Buffer
		err := cli.Run(context.Background(), []string{"migrate", "--from", "bbolt:" + s.dataDir, "--to", "etcd:" + endpoints, "--etcd-prefix", prefix},
			nil, cli.IO{Stdout: &out, Stderr: &errOut})
		return out.String(), err
	}
	start := time.Now()
	out, err := migrateTo("/migrated/")
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Logf("migrate took %s:\n%s", time.Since(start), out)
	for _, want := range []string{"tenants", "clients", "users", "signing_keys", "revocations", "refresh_tokens"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output does not count %s:\n%s", want, out)
		}
	}

	// The suite on etcd: a fresh data directory holding only the install's key file.
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(s.dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	// It answers at the install's address, so the issuer, and with it every token issued on bbolt, stays valid.
	e := &suite{t: t, dataDir: dir, httpAddr: s.httpAddr, grpcAddr: "127.0.0.1:0",
		args: []string{"--store", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", "/migrated/"}}
	e.start()
	t.Cleanup(e.stop)

	expect(t, "check of a token issued on bbolt", e.call("GET", "/api/oauth2/server/tokens/check?token="+kept, "", nil), 200)
	expect(t, "check of the token revoked on bbolt", e.call("GET", "/api/oauth2/server/tokens/check?token="+revoked, "", nil), 400)
	again := ropc(e, "password grant on etcd with the old secret and password")
	if got, want := jwtKid(t, again["access_token"].(string)), jwtKid(t, kept); got != want {
		t.Errorf("signing key id on etcd %s, on bbolt %s", got, want)
	}
	expect(t, "refresh of a refresh token issued on bbolt", e.form("/connect/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh), "legacy", f.ropcSecret), 200)
	expect(t, "tenant on etcd", e.call("GET", "/api/adminapi2/v1/tenants/"+f.tenantID, clientToken(t, e, "admin", bootstrapSecret, "adminapi"), nil), 200)

	// The prefix is taken now: a second migrate is refused, naming it, and changes nothing.
	if _, err := migrateTo("/migrated/"); cli.ExitCode(err) != cli.ExitConflict || !strings.Contains(err.Error(), "/migrated/") {
		t.Errorf("second migrate into the same prefix: %v (exit %d); want a conflict naming the prefix", err, cli.ExitCode(err))
	}
	expect(t, "check after the refused migrate", e.call("GET", "/api/oauth2/server/tokens/check?token="+kept, "", nil), 200)

	// A prefix an import holds (in progress, or failed part way) is refused at start.
	etcdCli := etcd.Client(t)
	if _, err := fence.Claim(context.Background(), etcdCli, "/half/", "test"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.RoleAll, []string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--data-dir", dir, "--store", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", "/half/"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if bad, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		bad.Shutdown(context.Background())
		t.Fatal("a suite started on a prefix with an import in progress")
	} else if !strings.Contains(err.Error(), "import") {
		t.Errorf("start on a fenced prefix: %v; want it to say an import holds the prefix", err)
	}
}
