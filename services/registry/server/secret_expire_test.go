package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/token/clients"
	tokenmem "github.com/authsuite/authsuite/services/token/memstore"
)

// TestExpireClientSecret: expiring a secret ends it at the time of the call, answers the write's revision,
// and the token service's client view that reached that revision no longer accepts the secret while the
// client's other secret still works. Another client's secret, an unknown secret and another tenant's admin
// are refused like DeleteClientSecret refuses them.
func TestExpireClientSecret(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokAcme)
	e.createClient(t, "acme", "app")
	e.createClient(t, "acme", "other")
	newSecret := func(client string) *registryv1.ClientSecret {
		t.Helper()
		resp, err := e.clients.CreateClientSecret(ctx, &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: client})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetSecret()
	}
	sec, keep, others := newSecret("app"), newSecret("app"), newSecret("other")

	// The token service's view of the clients, fed by the registry's watch.
	runCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	cache := clients.NewCache(clients.Config{Registry: e.internal, Store: tokenmem.New(), Keyring: e.keyring})
	go cache.Run(runCtx)
	verify := func(rev int64, value string) bool {
		t.Helper()
		wctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := cache.WaitRevision(wctx, rev); err != nil {
			t.Fatalf("token view at revision %d: %v", rev, err)
		}
		c, ok := cache.Get("app")
		if !ok {
			t.Fatal("client app missing from the token view")
		}
		id, ok := c.VerifySecret(e.keyring, value, time.Now())
		return ok && id != ""
	}
	var hdr metadata.MD
	if _, err := e.clients.CreateClientSecret(ctx, &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "other"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if !verify(revisionOf(t, hdr), sec.GetValue()) {
		t.Fatal("the secret does not authenticate before it is expired")
	}

	before := time.Now()
	hdr = nil
	resp, err := e.clients.ExpireClientSecret(ctx, &registryv1.ExpireClientSecretRequest{TenantId: "acme", ClientId: "app", SecretId: sec.GetSecretId()}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetSecret()
	exp := got.GetExpiration().AsTime()
	if got.GetSecretId() != sec.GetSecretId() || got.Value != nil || got.GetValueDisplay() != sec.GetValueDisplay() ||
		exp.Before(before.Add(-time.Second)) || exp.After(time.Now()) {
		t.Fatalf("expired secret = %v", got)
	}
	rev := revisionOf(t, hdr)
	if verify(rev, sec.GetValue()) {
		t.Fatal("the expired secret still authenticates at the write's revision")
	}
	if !verify(rev, keep.GetValue()) {
		t.Fatal("the client's other secret stopped authenticating")
	}

	// Still listed, with the new expiration; expiring again keeps it.
	list, err := e.clients.ListClientSecrets(ctx, &registryv1.ListClientSecretsRequest{TenantId: "acme", ClientId: "app"})
	if err != nil || len(list.GetItems()) != 2 {
		t.Fatalf("list = %v, %v", list, err)
	}
	again, err := e.clients.ExpireClientSecret(ctx, &registryv1.ExpireClientSecretRequest{TenantId: "acme", ClientId: "app", SecretId: sec.GetSecretId()})
	if err != nil || !again.GetSecret().GetExpiration().AsTime().Equal(exp) {
		t.Fatalf("second expire = %v, %v; want expiration %v kept", again, err, exp)
	}

	// Another client's secret, an unknown secret or client: NOT_FOUND naming what is missing.
	_, err = e.clients.ExpireClientSecret(ctx, &registryv1.ExpireClientSecretRequest{TenantId: "acme", ClientId: "app", SecretId: others.GetSecretId()})
	wantCode(t, err, codes.NotFound)
	if !strings.Contains(status.Convert(err).Message(), others.GetSecretId()) {
		t.Fatalf("not found does not name the secret: %v", err)
	}
	_, err = e.clients.ExpireClientSecret(ctx, &registryv1.ExpireClientSecretRequest{TenantId: "acme", ClientId: "ghost", SecretId: sec.GetSecretId()})
	wantCode(t, err, codes.NotFound)

	// An admin of another tenant, or a caller without the admin API, is refused; the secret is unchanged.
	e.createClient(t, "default", "sys")
	_, err = e.clients.ExpireClientSecret(ctx, &registryv1.ExpireClientSecretRequest{TenantId: "default", ClientId: "sys", SecretId: keep.GetSecretId()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = e.clients.ExpireClientSecret(as(tokNoAdmin), &registryv1.ExpireClientSecretRequest{TenantId: "acme", ClientId: "app", SecretId: keep.GetSecretId()})
	wantCode(t, err, codes.PermissionDenied)
	if !verify(rev, keep.GetValue()) {
		t.Fatal("a refused expire changed the secret")
	}
}
