package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// Master-key rotation: `authsuite rekey` on a stopped server's data, with the new key in
// front of the old one; afterwards the new key alone opens everything, and the old key alone opens nothing.

// runOK runs the built binary, expecting success within 30 s, and returns its stdout.
func runOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runBinary(t, 30*time.Second, env, args...)
	if err != nil {
		t.Fatalf("authsuite %v: %v\nstdout: %s\nstderr: %s", args, err, stdout, stderr)
	}
	return stdout
}

func readKey(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeKey(t *testing.T, path, key string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func keyID(t *testing.T, key string) string {
	t.Helper()
	kr, err := suitekey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	return kr.PrimaryID()
}

// introspected is the part of an RFC 7662 answer these tests read.
type introspected struct {
	Active   bool   `json:"active"`
	ClientID string `json:"client_id"`
}

// connectorToken is the connector's current access token, as its owner gets it.
func connectorToken(t *testing.T, s *suite, owner, id string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	r := s.call("POST", "/api/provider/v1/connectors/"+id+"/token", owner, map[string]any{})
	if r.status != 200 {
		t.Fatalf("connector token: %d %s", r.status, r.body)
	}
	decodeJSON(t, r.body, &tok)
	if tok.AccessToken == "" {
		t.Fatalf("connector token: %s", r.body)
	}
	return tok.AccessToken
}

// TestRekeyOneProcess: client secrets, access tokens, provider secrets and connector grants sealed under key A
// all work after `authsuite rekey` to key B and a start with B alone; a start with A alone then fails,
// naming the key id the data needs.
func TestRekeyOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	f := newConnectorFixture(t, 1) // the connector's access tokens live 1 s: each use after that refreshes
	s := f.s
	alice := f.userToken(t, "alice", alicePassword)
	id, authURL := f.createConnector(t, alice, nil)
	b := newBrowser(t)
	f.signIn(t, b, "alice", alicePassword)
	if done := b.get(f.toReturn(t, b, authURL)); done.status != 200 {
		t.Fatalf("connector return: %d %s", done.status, done.body)
	}
	first := connectorToken(t, s, alice, id)
	// A refresh token rotated just before the stop: its successor, kept sealed for the retry grace window,
	// must survive the rekey too.
	rt1 := passwordGrant(t, s, f.ropcSecret).RefreshToken
	rt2 := redeemRefresh(t, s, f.ropcSecret, rt1).RefreshToken

	keyFile := filepath.Join(s.dataDir, "master.key")
	oldKey, newKey := readKey(t, keyFile), suitekey.Generate()
	env := []string{"AUTHSUITE_MASTER_KEY=" + newKey + "," + oldKey}
	// While the server runs, rekey refuses: the files are in use.
	if out := runFailing(t, env, "rekey", "--data-dir", s.dataDir); !strings.Contains(out, "in use") {
		t.Errorf("rekey of a running server: %s", out)
	}
	s.stop()
	out := runOK(t, env, "rekey", "--data-dir", s.dataDir)
	for _, want := range []string{"registry.db", "token.db", "provider.db", keyID(t, newKey)} {
		if !strings.Contains(out, want) {
			t.Errorf("rekey output does not name %s:\n%s", want, out)
		}
	}
	writeKey(t, keyFile, newKey) // drop the old key
	s.start()

	// The client secrets digested under A authenticate; the access token signed before the rekey is live.
	var in introspected
	r := s.form("/connect/introspect", "token="+url.QueryEscape(alice), "flow", f.flowSecret)
	decodeJSON(t, expectRaw(t, "introspect with the old secret", r, 200), &in)
	if !in.Active {
		t.Fatalf("the access token issued before the rekey: %s", r.body)
	}
	f.userToken(t, "alice", alicePassword) // client legacy's old secret, password grant
	if again := redeemRefresh(t, s, f.ropcSecret, rt1).RefreshToken; again != rt2 {
		t.Errorf("a retry within the grace window after the rekey got another refresh token")
	}
	// The connector's grant opens, and its refresh at the provider's TOKEN_URL uses the provider's
	// CLIENT_SECRET, sealed under A before the rekey.
	eventually(t, 10*time.Second, "connector token refreshed after the rekey", func() bool {
		return connectorToken(t, s, alice, id) != first
	})
	s.stop()

	// The old key alone no longer opens the data: a clear start-up error naming the key the data needs.
	writeKey(t, keyFile, oldKey)
	cfg, err := config.Load(config.RoleAll, []string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", s.dataDir}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if running, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		running.Shutdown(context.Background())
		t.Fatal("started with the old key after the rekey")
	} else if !strings.Contains(err.Error(), keyID(t, newKey)) || !strings.Contains(err.Error(), "--master-key-file") {
		t.Fatalf("start with the old key: %v", err)
	}
}

// TestRekeySplitRoleLayout: in the split-role layout (one data directory per role, as docker-compose.yml's
// volumes), each role's directory is rekeyed on its own; without the old key rekey refuses and changes
// nothing; afterwards the suite runs on the new key alone with the old client secret and access token.
func TestRekeySplitRoleLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := startSuite(t)
	_, _, secret := setupBilling(t, s, 10*time.Second)
	tok := clientToken(t, s, "billing", secret, "orders.read")
	s.stop()

	keyFile := filepath.Join(s.dataDir, "master.key")
	oldKey, newKey := readKey(t, keyFile), suitekey.Generate()
	split := t.TempDir()
	roles := []string{"registry", "token", "provider"}
	for _, role := range roles {
		if err := os.Mkdir(filepath.Join(split, role), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(s.dataDir, role+".db"), filepath.Join(split, role, role+".db")); err != nil {
			t.Fatal(err)
		}
	}

	// The new key alone cannot rekey: the error names the old key's id, and the file is unchanged.
	tokenDir := filepath.Join(split, "token")
	before := fileHashes(t, tokenDir)
	out := runFailing(t, []string{"AUTHSUITE_MASTER_KEY=" + newKey}, "rekey", "--data-dir", tokenDir)
	oneLine(t, out, keyID(t, oldKey))
	for name, h := range fileHashes(t, tokenDir) {
		if before[name] != h {
			t.Errorf("%s changed by a refused rekey", name)
		}
	}

	for _, role := range roles {
		runOK(t, []string{"AUTHSUITE_MASTER_KEY=" + newKey + "," + oldKey}, "rekey", "--data-dir", filepath.Join(split, role))
		if err := os.Rename(filepath.Join(split, role, role+".db"), filepath.Join(s.dataDir, role+".db")); err != nil {
			t.Fatal(err)
		}
	}
	writeKey(t, keyFile, newKey)
	s.start()
	tokenChecks(t, s, tok)
	clientToken(t, s, "billing", secret, "orders.read")
}

// grantAnswer is the part of a token response these tests read.
type grantAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// passwordGrant signs alice in through client legacy with offline access.
func passwordGrant(t *testing.T, s *suite, secret string) grantAnswer {
	t.Helper()
	return tokenForm(t, s, secret, "grant_type=password&scope=openid%20offline_access&username=alice&password="+url.QueryEscape(alicePassword))
}

// redeemRefresh redeems refresh token rt of client legacy.
func redeemRefresh(t *testing.T, s *suite, secret, rt string) grantAnswer {
	t.Helper()
	return tokenForm(t, s, secret, "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt))
}

func tokenForm(t *testing.T, s *suite, secret, body string) grantAnswer {
	t.Helper()
	var g grantAnswer
	decodeJSON(t, expectRaw(t, "token", s.form("/connect/token", body, "legacy", secret), 200), &g)
	if g.AccessToken == "" || g.RefreshToken == "" {
		t.Fatalf("token answer without tokens: %+v", g)
	}
	return g
}
