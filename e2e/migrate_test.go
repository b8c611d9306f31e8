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

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/cli"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/migrate/fence"
	"github.com/authsuite/authsuite/internal/suitekey"
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

// TestEtcdBackupRestore: `authsuite backup` of a suite on a real 3-member etcd cluster writes the suite's keys
// at one etcd revision (manifest with size and SHA-256, the dump's own checksum); `authsuite restore --to
// etcd:…` puts them into a new empty prefix, where a suite with the same master key serves the same data:
// the client secret and the password work, the refresh token refreshes, a token issued before still
// verifies and the revoked one stays revoked. A restore into a prefix that holds keys, and one of a damaged
// backup, are refused and write nothing.
func TestEtcdBackupRestore(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	endpoints := strings.Join(etcd.Endpoints(), ",")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(suitekey.Generate()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	on := func(prefix, httpAddr string) *suite {
		s := &suite{t: t, dataDir: dir, httpAddr: httpAddr, grpcAddr: "127.0.0.1:0",
			args: []string{"--store", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", prefix}}
		s.start()
		return s
	}
	s := on("/orig/", "127.0.0.1:0")
	f := signinFixtureOn(t, s)
	ropc := func(s *suite, what string) map[string]any {
		t.Helper()
		return expect(t, what, s.form("/connect/token", "grant_type=password&scope=openid+offline_access&username=alice&password="+url.QueryEscape(alicePassword), "legacy", f.ropcSecret), 200)
	}
	first := ropc(s, "password grant")
	kept, refresh := first["access_token"].(string), first["refresh_token"].(string)
	revoked := ropc(s, "second token")["access_token"].(string)
	expect(t, "revoke", s.call("GET", "/api/oauth2/server/tokens/revoke?token="+revoked, "", nil), 200)

	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := cli.Run(context.Background(), args, []string{"AUTHSUITE_GRPC_ADDR=" + s.grpcAddr, "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret},
			cli.IO{Stdout: &out, Stderr: &errOut})
		return out.String() + errOut.String(), err
	}
	backupDir := filepath.Join(t.TempDir(), "b")
	if out, err := run("backup", "--out", backupDir); err != nil {
		t.Fatalf("backup on etcd: %v\n%s", err, out)
	}
	s.stop()

	// A damaged copy is refused before anything is written.
	damaged := t.TempDir()
	for _, name := range []string{"manifest.json", "etcd.db"} {
		b, err := os.ReadFile(filepath.Join(backupDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "etcd.db" {
			b[len(b)/2] ^= 1
		}
		if err := os.WriteFile(filepath.Join(damaged, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run("restore", "--from", damaged, "--to", "etcd:"+endpoints, "--etcd-prefix", "/damaged/"); cli.ExitCode(err) != cli.ExitUsage {
		t.Errorf("restore of a damaged backup: %v (exit %d)\n%s; want a usage error", err, cli.ExitCode(err), out)
	}
	if resp, err := etcd.Client(t).Get(context.Background(), "/damaged/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 0 {
		t.Errorf("a refused restore wrote %v keys (%v)", resp, err)
	}

	start := time.Now()
	out, err := run("restore", "--from", backupDir, "--to", "etcd:"+endpoints, "--etcd-prefix", "/copy/")
	if err != nil {
		t.Fatalf("restore into etcd: %v\n%s", err, out)
	}
	t.Logf("restore took %s: %s", time.Since(start), out)
	if out, err := run("restore", "--from", backupDir, "--to", "etcd:"+endpoints, "--etcd-prefix", "/copy/"); cli.ExitCode(err) != cli.ExitConflict || !strings.Contains(err.Error(), "/copy/") {
		t.Errorf("restore into a prefix that holds keys: %v (exit %d)\n%s; want a conflict naming the prefix", err, cli.ExitCode(err), out)
	}

	c := on("/copy/", s.httpAddr) // the same address: the same issuer
	t.Cleanup(c.stop)
	expect(t, "check of a token issued before the backup", c.call("GET", "/api/oauth2/server/tokens/check?token="+kept, "", nil), 200)
	expect(t, "check of the token revoked before the backup", c.call("GET", "/api/oauth2/server/tokens/check?token="+revoked, "", nil), 400)
	ropc(c, "password grant on the restored suite")
	expect(t, "refresh on the restored suite", c.form("/connect/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh), "legacy", f.ropcSecret), 200)
}
