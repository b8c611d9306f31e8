package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/server"
)

// watch opens a client watch and returns a function that receives the next event within a second.
func watch(t *testing.T, e *env) func() *registryv1.WatchClientsResponse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := e.internal.WatchClients(ctx, &registryv1.WatchClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *registryv1.WatchClientsResponse, 100)
	errs := make(chan error, 1)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				errs <- err
				return
			}
			events <- ev
		}
	}()
	return func() *registryv1.WatchClientsResponse {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case err := <-errs:
			t.Fatalf("watch ended: %v", err)
		case <-time.After(time.Second):
			t.Fatal("no watch event within a second")
		}
		return nil
	}
}

func TestWatchClients(t *testing.T) {
	e := newEnv(t)
	e.createClient(t, "default", "a")
	e.createClient(t, "acme", "b")
	if _, err := e.clients.CreateClientSecret(as(tokSystem), &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "b"}); err != nil {
		t.Fatal(err)
	}
	next := watch(t, e)

	// Snapshot: every client, with secret digests and tenant code, then synced.
	snap := map[string]*registryv1.ClientRecord{}
	for range 2 {
		rec := next().GetUpsert()
		if rec == nil {
			t.Fatal("snapshot event is not an upsert")
		}
		snap[rec.GetClient().GetClientId()] = rec
	}
	if snap["a"].GetTenantCode() != "default" || snap["b"].GetTenantCode() != "acme-code" {
		t.Fatalf("tenant codes: %v / %v", snap["a"].GetTenantCode(), snap["b"].GetTenantCode())
	}
	if d := snap["b"].GetSecrets(); len(d) != 1 || len(d[0].GetDigest()) != 32 || d[0].GetKeyId() != e.keyring.PrimaryID() || d[0].GetExpiration() == nil {
		t.Fatalf("secret digests: %v", d)
	}
	if !snap["b"].GetClient().GetRequireClientSecret() {
		t.Fatal("record lacks defaults")
	}
	if !next().GetSynced() {
		t.Fatal("no synced marker after the snapshot")
	}

	// Live changes arrive within a second, in commit order.
	e.createClient(t, "acme", "c")
	if ev := next(); ev.GetUpsert().GetClient().GetClientId() != "c" {
		t.Fatalf("create event = %v", ev)
	}
	upd := validClient("c")
	upd.ClientName = "renamed"
	if _, err := e.clients.UpdateClient(as(tokSystem), &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "c", Client: upd}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetUpsert().GetClient().GetClientName() != "renamed" {
		t.Fatalf("update event = %v", ev)
	}
	sec, err := e.clients.CreateClientSecret(as(tokSystem), &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(); len(ev.GetUpsert().GetSecrets()) != 1 || ev.GetUpsert().GetSecrets()[0].GetSecretId() != sec.GetSecret().GetSecretId() {
		t.Fatalf("secret event = %v", ev)
	}
	if _, err := e.clients.DeleteClientSecret(as(tokSystem), &registryv1.DeleteClientSecretRequest{TenantId: "acme", ClientId: "c", SecretId: sec.GetSecret().GetSecretId()}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetUpsert() == nil || len(ev.GetUpsert().GetSecrets()) != 0 {
		t.Fatalf("secret deletion event = %v", ev)
	}
	if _, err := e.clients.DeleteClient(as(tokSystem), &registryv1.DeleteClientRequest{TenantId: "default", ClientId: "a"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetDeletedClientId() != "a" {
		t.Fatalf("delete event = %v", ev)
	}

	// A tenant code change re-publishes its clients with the new code.
	if _, err := e.tenants.UpdateTenant(as(tokSystem), &registryv1.UpdateTenantRequest{TenantId: "acme", Tenant: &registryv1.Tenant{Code: "acme2", Name: "Acme"}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if ev := next(); ev.GetUpsert().GetTenantCode() != "acme2" {
			t.Fatalf("tenant rename event = %v", ev)
		}
	}

	// Deleting a tenant cascades: one deletion per client.
	if _, err := e.tenants.DeleteTenant(as(tokSystem), &registryv1.DeleteTenantRequest{TenantId: "acme"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{next().GetDeletedClientId(): true, next().GetDeletedClientId(): true}
	if !got["b"] || !got["c"] {
		t.Fatalf("cascade deletions = %v", got)
	}
}

func TestWatchNeedsInternalCredential(t *testing.T) {
	e := newEnv(t)
	stream, err := e.noCred.WatchClients(context.Background(), &registryv1.WatchClientsRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.PermissionDenied)
	_, err = e.noCred.RecordSecretUse(context.Background(), &registryv1.RecordSecretUseRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = e.noCred.ResolveUser(context.Background(), &registryv1.ResolveUserRequest{Selector: "uid:x", TenantId: "default"})
	wantCode(t, err, codes.PermissionDenied)
	// An admin token is no substitute for the internal credential.
	_, err = e.noCred.ResolveUser(as(tokSystem), &registryv1.ResolveUserRequest{Selector: "uid:x", TenantId: "default"})
	wantCode(t, err, codes.PermissionDenied)
}

// TestSlowWatcherDoesNotBlockWriters fills a watcher's queue while it does not read: writes keep succeeding
// and the watcher is dropped with UNAVAILABLE so it reconnects (its history is gone: more commits than the
// store keeps went by).
func TestSlowWatcherDoesNotBlockWriters(t *testing.T) {
	e := newEnvOn(t, newMemStore(t), newKeyring(t), true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A tiny receive window keeps the server's sends blocked once it is full.
	cc := dialSmallWindow(t, e)
	stream, err := registryv1.NewRegistryInternalServiceClient(cc).WatchClients(ctx, &registryv1.WatchClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := stream.Recv(); err != nil || !ev.GetSynced() {
		t.Fatalf("first event = %v, %v", ev, err)
	}
	done := make(chan error, 1)
	progress := make(chan struct{}, 1)
	go func() {
		c := validClient("x")
		for i := range 3000 {
			select {
			case progress <- struct{}{}:
			default:
			}
			c.ClientName = time.Now().String()
			c.ClientId = "x"
			if i == 0 {
				if _, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: c}); err != nil {
					done <- err
					return
				}
				continue
			}
			if _, err := e.clients.UpdateClient(as(tokSystem), &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "x", Client: c}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// Blocked means no progress: the test fails on a stall of one write, not on the total.
	stall := time.NewTimer(30 * time.Second)
	defer stall.Stop()
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			break wait
		case <-progress:
			stall.Reset(30 * time.Second)
		case <-stall.C:
			t.Fatal("writers blocked by a slow watcher: no write completed for 30 s")
		}
	}
	for {
		_, err := stream.Recv()
		if err != nil {
			wantCode(t, err, codes.Unavailable)
			return
		}
	}
}

func dialSmallWindow(t *testing.T, e *env) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(e.addr,
		grpc.WithTransportCredentials(insecureCreds()),
		grpc.WithPerRPCCredentials(internalCreds(e.cred)),
		grpc.WithInitialWindowSize(64*1024), grpc.WithInitialConnWindowSize(64*1024))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestEndWatches(t *testing.T) {
	e := newEnv(t)
	stream, err := e.internal.WatchClients(context.Background(), &registryv1.WatchClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetSynced() {
			break
		}
	}
	e.srv.EndWatches()
	for {
		_, err := stream.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("after EndWatches: %v", err)
		}
		break
	}
}

// TestStalledWatcherIsDropped: a watcher that takes no event while its queue is full is dropped with
// UNAVAILABLE after the stall limit, even when the store keeps its history (one commit, many events: a
// tenant rename re-sends every client of the tenant).
func TestStalledWatcherIsDropped(t *testing.T) {
	dropped := server.SetWatchStall(t, 50*time.Millisecond)
	st := newMemStore(t)
	e := newEnvOn(t, st, newKeyring(t), true)
	for i := range 3000 {
		c := registry.Client{ID: fmt.Sprint("c", i), TenantID: "acme", Name: strings.Repeat("n", 200)}
		if _, err := st.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := registryv1.NewRegistryInternalServiceClient(dialSmallWindow(t, e)).WatchClients(ctx, &registryv1.WatchClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetSynced() {
			break
		}
	}
	if _, err := e.tenants.UpdateTenant(as(tokSystem), &registryv1.UpdateTenantRequest{TenantId: "acme", Tenant: &registryv1.Tenant{Code: "renamed", Name: "Acme"}}); err != nil {
		t.Fatal(err)
	}
	// Not reading fills the transport's window and the queue; the server then gives up.
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("a watcher that takes nothing was not dropped")
	}
	for {
		if _, err := stream.Recv(); err != nil {
			wantCode(t, err, codes.Unavailable)
			return
		}
	}
}
