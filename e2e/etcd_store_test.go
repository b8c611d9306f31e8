package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// TestEtcdStore: `authsuite serve --store etcd` runs the whole suite in one process on a real 3-member etcd
// cluster: the machine-to-machine walk-through works (admin token, tenant, client, secret, token, check,
// revoke), read-your-writes through the Authsuite-Revision header instead of polling; the data directory keeps
// nothing but the key file it was given; the process's etcd requests are on /metrics; the backup service
// lists the etcd dump; and a restart finds everything again in etcd. A second replica with another master key
// refuses to start, naming the setting and both key ids.
func TestEtcdStore(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	dataDir := t.TempDir()
	key := suitekey.Generate()
	if err := os.WriteFile(filepath.Join(dataDir, "master.key"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	etcdArgs := []string{"--store", "etcd", "--etcd-endpoints", strings.Join(etcd.Endpoints(), ","), "--etcd-prefix", "/e2e-one/"}
	s := &suite{t: t, dataDir: dataDir, httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0", args: etcdArgs}
	s.start()
	t.Cleanup(s.stop)

	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "create tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme", "name": "Acme"}), 201)
	tenantID, _ := tenant["tenantId"].(string)
	secret, rev := createClient(t, s, admin, tenantID, "billing")
	tokenOf := func(what string, header ...string) string {
		t.Helper()
		r := s.formWith("/connect/token", "grant_type=client_credentials&scope=orders.read", "billing", secret, header...)
		return expect(t, what, r, 200)["access_token"].(string)
	}
	token := tokenOf("token after the secret's revision", revisionHeader, rev)
	expect(t, "check", s.call("GET", "/api/oauth2/server/tokens/check?token="+token, "", nil), 200)
	revoked := s.call("GET", "/api/oauth2/server/tokens/revoke?token="+token, "", nil)
	expect(t, "revoke", revoked, 200)
	revokedAt := revisionOf(t, "revoke", revoked, "token")
	expect(t, "check after revoke", s.callWith("GET", "/api/oauth2/server/tokens/check?token="+token, "", nil, revisionHeader, revokedAt), 400)

	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "master.key" {
			t.Errorf("--store etcd wrote %s to the data directory", e.Name())
		}
	}
	if n := s.running.EtcdRequests(); n == 0 {
		t.Error("EtcdRequests is 0 after a walk-through on etcd")
	}
	if m := s.adminGet("/metrics"); !strings.Contains(string(m.body), `authsuite_etcd_requests_total{method="/etcdserverpb.KV/Txn"}`) {
		t.Errorf("/metrics has no etcd transaction count:\n%s", grepLines(string(m.body), "etcd"))
	}

	// The backup service lists the suite's etcd dump (e2e/migrate_test.go restores one); an anonymous caller
	// learns nothing.
	cc, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	backups := opsv1.NewBackupServiceClient(cc)
	authed := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin)
	if list, err := backups.ListDatabases(authed, &opsv1.ListDatabasesRequest{}); err != nil || len(list.GetDatabases()) != 1 || list.GetDatabases()[0].GetName() != "etcd" {
		t.Errorf("ListDatabases on etcd: %v, %v; want the etcd dump alone", list, err)
	}
	if _, err := backups.ListDatabases(context.Background(), &opsv1.ListDatabasesRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListDatabases without a token: %v; want UNAUTHENTICATED", err)
	}

	// A replica with another master key is refused before it writes anything.
	other := suitekey.Generate()
	cfg, err := config.Load(config.RoleAll, append([]string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, etcdArgs...),
		[]string{"AUTHSUITE_MASTER_KEY=" + other}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if bad, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		bad.Shutdown(context.Background())
		t.Fatal("a replica with another master key started")
	} else {
		for _, want := range []string{"AUTHSUITE_MASTER_KEY", keyID(t, key), keyID(t, other)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	}

	// Everything is in etcd: a restart finds the tenant, the client and the revocation.
	s.restart()
	admin = clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	expect(t, "tenant after restart", s.call("GET", "/api/adminapi2/v1/tenants/"+tenantID, admin, nil), 200)
	expect(t, "check of the revoked token after restart", s.call("GET", "/api/oauth2/server/tokens/check?token="+token, "", nil), 400)
	fresh := tokenOf("token after restart")
	expect(t, "check after restart", s.call("GET", "/api/oauth2/server/tokens/check?token="+fresh, "", nil), 200)
}

// TestEtcdStoreUnreachable: with no etcd member answering, serve fails within --etcd-dial-timeout with an error
// naming the setting and the endpoints, without a panic and without leaving a listener behind.
func TestEtcdStoreUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing answers there
	for _, role := range []config.Role{config.RoleAll, config.RoleToken} {
		cfg, err := config.Load(role, []string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
			"--data-dir", t.TempDir(), "--store", "etcd", "--etcd-endpoints", endpoint, "--etcd-dial-timeout", "300ms"},
			[]string{"AUTHSUITE_MASTER_KEY=" + suitekey.Generate()}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		s, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err == nil {
			s.Shutdown(context.Background())
			t.Fatalf("%s: started with no etcd", cfg.Role)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("%s: failing took %s with a 300ms dial timeout", cfg.Role, took)
		}
		for _, want := range []string{"--etcd-endpoints", "AUTHSUITE_ETCD_ENDPOINTS", endpoint, "--etcd-dial-timeout"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not name %s", cfg.Role, err, want)
			}
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestEtcdTwoTokenReplicasBehindOneGateway: the roles run apart on one etcd cluster (in this process, each
// with its own listeners) with two token replicas; the gateway, given --token-addr A,B, spreads token requests
// over both, and when one shuts down every request keeps succeeding through the other.
func TestEtcdTwoTokenReplicasBehindOneGateway(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	addr := map[string]string{}
	for _, n := range []string{"gateway", "token-a", "token-b", "registry", "provider"} {
		addr[n] = freeAddr(t)
	}
	base := "http://" + addr["gateway"]
	common := []string{"--token-addr", addr["token-a"] + "," + addr["token-b"], "--registry-addr", addr["registry"], "--provider-addr", addr["provider"],
		"--issuer", base, "--admin-addr", "127.0.0.1:0"}
	env := []string{"AUTHSUITE_MASTER_KEY=" + suitekey.Generate(), "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	roles := map[string]*app.Suite{}
	start := func(name string, role config.Role) {
		t.Helper()
		args := common
		if role == config.RoleGateway {
			args = append(args, "--http-addr", addr[name])
		} else {
			args = append(args, "--grpc-addr", addr[name], "--data-dir", t.TempDir(), "--store", "etcd",
				"--etcd-endpoints", strings.Join(etcd.Endpoints(), ","), "--etcd-prefix", "/e2e-split/")
		}
		cfg, err := config.Load(role, args, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		s, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		roles[name] = s
		t.Cleanup(func() { s.Shutdown(context.Background()) })
	}
	start("registry", config.RoleRegistry)
	start("token-a", config.RoleToken)
	start("token-b", config.RoleToken)
	start("provider", config.RoleProvider)
	start("gateway", config.RoleGateway)
	for _, n := range []string{"token-a", "token-b", "gateway"} {
		waitReady(t, "http://"+roles[n].AdminAddr.String()+"/readyz")
	}

	s := &suite{t: t, base: base}
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "create tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme", "name": "Acme"}), 201)
	secret, rev := createClient(t, s, admin, tenant["tenantId"].(string), "billing")
	tokens := func(what string) {
		t.Helper()
		for range 20 {
			r := s.formWith("/connect/token", "grant_type=client_credentials&scope=orders.read", "billing", secret, revisionHeader, rev)
			tok := expect(t, what, r, 200)["access_token"].(string)
			expect(t, what+": check", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 200)
		}
	}
	tokens("both replicas")
	for _, n := range []string{"token-a", "token-b"} {
		if m := (&suite{t: t, running: roles[n]}).adminGet("/metrics"); !strings.Contains(string(m.body), `method="/authsuite.token.v1.OAuthService/Token"`) {
			t.Errorf("%s issued no token: the gateway did not balance over both replicas", n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	if err := roles["token-a"].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The gateway's health-check streams end with the drain: they must not hold the shutdown to its grace.
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("token-a took %s to shut down", took)
	}
	tokens("token-a stopped")
}
