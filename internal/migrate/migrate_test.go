package migrate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/migrate/fence"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	regbolt "github.com/authsuite/authsuite/services/registry/bboltstore"
	regetcd "github.com/authsuite/authsuite/services/registry/etcdstore"
	"github.com/authsuite/authsuite/services/token"
	tokbolt "github.com/authsuite/authsuite/services/token/bboltstore"
	toketcd "github.com/authsuite/authsuite/services/token/etcdstore"
)

// Sizes of TestMigrateLarge: more clients in one tenant than etcd writes in one transaction (the
// conformance suites' large tenant), and revocations by the thousand.
const (
	largeClients     = 5000
	largeUsers       = 500
	largeRevocations = 5000
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// writeInstall fills a data directory the way a single-node install would: a large tenant, users with
// incarnations, revocations, a refresh token and a signing key.
func writeInstall(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	reg, err := regbolt.Open(filepath.Join(dir, "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	tenants := []registry.Tenant{{ID: "big", Code: "big", CreateTime: t0}}
	var clients []registry.Client
	for i := range largeClients {
		c := registry.DefaultClient()
		c.ID, c.TenantID, c.Name = fmt.Sprintf("c%05d", i), "big", "client"
		c.AllowedGrantTypes, c.AllowedScopes = []string{registry.GrantClientCredentials}, []string{"api"}
		c.CreateTime, c.UpdateTime = t0, t0
		c.Secrets = []registry.Secret{{ID: "s1", KeyID: "k1", Digest: []byte{1, 2, 3}, ValueDisplay: "abc", StartTime: t0, Expiration: t0.Add(time.Hour)}}
		clients = append(clients, c)
	}
	var users []registry.User
	for i := range largeUsers {
		users = append(users, registry.User{ID: fmt.Sprintf("u%04d", i), TenantID: "big", LoginName: fmt.Sprintf("user%04d", i),
			Email: fmt.Sprintf("user%04d@big.example", i), PasswordHash: "$argon2id$fake", CreateTime: t0, UpdateTime: t0})
	}
	if ok, err := reg.Seed(ctx, tenants, clients, users); err != nil || !ok {
		t.Fatalf("seed: %v %v", ok, err)
	}
	tok, err := tokbolt.Open(filepath.Join(dir, "token.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) {
		return []token.SigningKey{{ID: "kid-1", Alg: "ES256", Private: []byte("sealed"), CreateTime: t0}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range largeRevocations {
		if err := tok.Revoke(ctx, token.Revocation{JTI: fmt.Sprintf("jti-%05d", i), Expiry: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tok.PutRefreshToken(ctx, token.RefreshToken{Hash: []byte("0123456789abcdef0123456789abcdef"), FamilyID: "fam", ClientID: "c00001",
		TenantID: "big", UserID: "u0001", Expiry: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateLarge: a data directory with a tenant of largeClients clients, largeUsers users and
// largeRevocations revocations moves into etcd unchanged (every client with its secret, every user with
// the incarnation the install gave it, every revocation, the key id, the refresh token), the master key
// record is written, and the prefix is open to replicas only afterwards. It logs how long reading and
// writing took.
func TestMigrateLarge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeInstall(t, dir)
	kr, err := suitekey.Parse(suitekey.Generate())
	if err != nil {
		t.Fatal(err)
	}
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)

	start := time.Now()
	snaps, rec, err := ReadDir(ctx, dir, kr)
	if err != nil {
		t.Fatal(err)
	}
	read := time.Since(start)
	if err := Import(ctx, cli, "/big/", "test", snaps, rec); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range snaps.Counts() {
		n += k.N
	}
	t.Logf("migrated %d records (%v) in %s: read %s, written %s", n, snaps.Counts(), time.Since(start), read, time.Since(start)-read)

	if err := fence.Check(ctx, cli, "/big/"); err != nil {
		t.Errorf("fence after a finished import: %v", err)
	}
	resp, err := cli.Get(ctx, app.EtcdKeyRecord("/big/"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("master key record: %v %v", resp, err)
	}
	if got, err := suitekey.ParseRecord(resp.Kvs[0].Value); err != nil || kr.Check(got) != nil || len(got.Keys) == 0 {
		t.Errorf("master key record %+v (%v) does not name the install's key %s", got, err, kr.PrimaryID())
	}

	reg, err := regetcd.Open(ctx, cli, "/big/")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var ids []string
	after := ""
	for {
		items, next, err := reg.ListClients(ctx, "big", registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range items {
			ids = append(ids, c.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(ids) != largeClients {
		t.Errorf("%d clients on etcd, want %d", len(ids), largeClients)
	}
	if got, err := reg.GetClient(ctx, "c04999"); err != nil || len(got.Secrets) != 1 || string(got.Secrets[0].Digest) != "\x01\x02\x03" {
		t.Errorf("client c04999 on etcd: %+v, %v", got, err)
	}
	for _, u := range snaps.Registry.Users[:3] {
		got, err := reg.GetUser(ctx, "big", u.ID)
		if err != nil || got.Incarnation != u.Incarnation || got.Incarnation == "" || got.PasswordHash != u.PasswordHash {
			t.Errorf("user %s on etcd: %+v, %v; want incarnation %q", u.ID, got, err, u.Incarnation)
		}
	}
	if got, err := reg.FindUser(ctx, "big", access.Selector{Kind: access.ByLoginName, Value: "USER0042"}); err != nil || got.ID != "u0042" {
		t.Errorf("login index on etcd: %+v, %v", got, err)
	}
	tok, err := toketcd.Open(ctx, cli, "/big/")
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if revs, err := tok.Revocations(ctx); err != nil || len(revs) != largeRevocations {
		t.Errorf("%d revocations on etcd (%v), want %d", len(revs), err, largeRevocations)
	}
	if keys, err := tok.Keys(ctx); err != nil || len(keys) != 1 || keys[0].ID != "kid-1" {
		t.Errorf("signing keys on etcd: %+v, %v", keys, err)
	}
	if rt, err := tok.RefreshToken(ctx, []byte("0123456789abcdef0123456789abcdef")); err != nil || rt.FamilyID != "fam" {
		t.Errorf("refresh token on etcd: %+v, %v", rt, err)
	}

	// The prefix is taken: a second import is refused before it writes anything.
	if err := Import(ctx, cli, "/big/", "again", snaps, rec); !errors.Is(err, fence.ErrNotEmpty) {
		t.Errorf("second import: %v, want fence.ErrNotEmpty", err)
	}
	if err := fence.Check(ctx, cli, "/big/"); err != nil {
		t.Errorf("a refused import fenced the prefix: %v", err)
	}
}

// TestImportFailureKeepsFence: an import that fails part way (here: a token store that already holds keys
// under the claimed prefix) leaves the fence, so no replica starts on the partial data, and names the way out.
func TestImportFailureKeepsFence(t *testing.T) {
	ctx := context.Background()
	cli := etcdtest.Start(t, 3).Client(t)
	kr, _ := suitekey.Parse(suitekey.Generate())
	rev, err := fence.Claim(ctx, cli, "/p/", "first")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fence.Claim(ctx, cli, "/p/", "second"); !errors.Is(err, fence.ErrNotEmpty) {
		t.Errorf("second claim: %v", err)
	}
	if err := fence.Finish(ctx, cli, "/p/", rev+1); !errors.Is(err, fence.ErrLost) {
		t.Errorf("finish with another revision: %v", err)
	}
	if err := fence.Finish(ctx, cli, "/p/", rev); err != nil {
		t.Fatal(err)
	}
	if err := fence.Check(ctx, cli, "/p/"); err != nil {
		t.Errorf("after Finish: %v", err)
	}

	// A failure part way (after the claim): the fence stays, and a replica is refused on the prefix.
	snaps := Snapshots{Registry: &registry.Snapshot{Clients: []registry.Client{{ID: "orphan", TenantID: "missing"}}}}
	rec, _ := kr.Adopt(suitekey.Record{})
	if err := Import(ctx, cli, "/q/", "test", snaps, rec); err == nil {
		t.Fatal("import of a client without its tenant succeeded")
	}
	if err := fence.Check(ctx, cli, "/q/"); err == nil || !strings.Contains(err.Error(), "etcdctl del --prefix /q/") {
		t.Errorf("after a failed import: %v; want the fence, naming the way out", err)
	}
}
