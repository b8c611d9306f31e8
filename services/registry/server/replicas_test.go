package server_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
)

// replicas starts two registry servers, A and B, on one store value (as two processes on one etcd cluster
// share the cluster), with newEnv's tenants.
func replicas(t *testing.T, st registry.Store) (a, b *env) {
	t.Helper()
	kr := newKeyring(t)
	return newEnvOn(t, st, kr, true), newEnvOn(t, st, kr, false)
}

func newMemStore(t *testing.T) *memstore.Store {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	return st
}

// revisionOf returns n of the header metadata authsuite-revision "registry:<n>", failing the test when the
// header is missing or malformed.
func revisionOf(t *testing.T, md metadata.MD) int64 {
	t.Helper()
	vs := md.Get("authsuite-revision")
	if len(vs) != 1 || !strings.HasPrefix(vs[0], "registry:") {
		t.Fatalf("authsuite-revision = %q; want one registry:<n>", vs)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(vs[0], "registry:"), 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("authsuite-revision = %q: %v", vs[0], err)
	}
	return n
}

// synced reads a watch's snapshot up to its synced marker and returns the marker.
func synced(t *testing.T, next func() *registryv1.WatchClientsResponse) *registryv1.WatchClientsResponse {
	t.Helper()
	for {
		if ev := next(); ev.GetSynced() {
			return ev
		}
	}
}

// commit reads the events of one commit (up to the one marked revision_complete) and checks that they all
// carry the same revision, which it returns.
func commit(t *testing.T, next func() *registryv1.WatchClientsResponse) (int64, []*registryv1.WatchClientsResponse) {
	t.Helper()
	var evs []*registryv1.WatchClientsResponse
	for {
		ev := next()
		evs = append(evs, ev)
		if ev.GetRevision() != evs[0].GetRevision() || ev.GetRevision() <= 0 {
			t.Fatalf("events of one commit carry revisions %d and %d", evs[0].GetRevision(), ev.GetRevision())
		}
		if ev.GetRevisionComplete() {
			return ev.GetRevision(), evs
		}
	}
}

// TestFeedAcrossReplicas: a client created through replica A reaches a watcher of replica B, as one commit
// whose revision is the one A answered; so do updates, secrets and deletions. Measures the A→B latency.
func TestFeedAcrossReplicas(t *testing.T) {
	a, b := replicas(t, newMemStore(t))
	next := watch(t, b)
	mark := synced(t, next)
	if mark.GetRevision() <= 0 || !mark.GetRevisionComplete() {
		t.Fatalf("synced = %v; want the snapshot's revision, complete", mark)
	}

	start := time.Now()
	var hdr metadata.MD
	if _, err := a.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: validClient("x")}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	n := revisionOf(t, hdr)
	rev, evs := commit(t, next)
	t.Logf("feed latency A→B (write call included): %v", time.Since(start))
	if len(evs) != 1 || evs[0].GetUpsert().GetClient().GetClientId() != "x" || evs[0].GetUpsert().GetTenantCode() != "acme-code" {
		t.Fatalf("create at A seen at B as %v", evs)
	}
	if rev < n {
		t.Fatalf("event revision %d; A answered %d: a watcher at the event's revision would not have applied the write", rev, n)
	}
	if n <= mark.GetRevision() {
		t.Fatalf("write revision %d not after the snapshot's %d", n, mark.GetRevision())
	}

	if _, err := a.clients.DeleteClient(as(tokSystem), &registryv1.DeleteClientRequest{TenantId: "acme", ClientId: "x"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if rev, evs := commit(t, next); rev < revisionOf(t, hdr) || len(evs) != 1 || evs[0].GetDeletedClientId() != "x" {
		t.Fatalf("delete at A seen at B as %v (revision %d)", evs, rev)
	}
}

// TestFeedTenantChanges: a tenant code change at A re-sends the tenant's clients to B's watcher with the new
// code (and nothing else), as one commit; a change that watchers do not keep (the name, a new tenant) is a
// progress event of its revision; deleting a tenant reports its clients' deletions and the tenant's, as one
// commit.
func TestFeedTenantChanges(t *testing.T) {
	a, b := replicas(t, newMemStore(t))
	a.createClient(t, "acme", "c1")
	a.createClient(t, "acme", "c2")
	a.createClient(t, "default", "other")
	next := watch(t, b)
	synced(t, next)

	var hdr metadata.MD
	if _, err := a.tenants.UpdateTenant(as(tokSystem), &registryv1.UpdateTenantRequest{TenantId: "acme", Tenant: &registryv1.Tenant{Code: "acme-2", Name: "Acme"}}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	rev, evs := commit(t, next)
	got := map[string]string{}
	for _, ev := range evs {
		got[ev.GetUpsert().GetClient().GetClientId()] = ev.GetUpsert().GetTenantCode()
	}
	if want := map[string]string{"c1": "acme-2", "c2": "acme-2"}; fmt.Sprint(got) != fmt.Sprint(want) || rev < revisionOf(t, hdr) {
		t.Fatalf("rename re-sent %v at revision %d; want %v at %d", got, rev, want, revisionOf(t, hdr))
	}

	if _, err := a.tenants.UpdateTenant(as(tokSystem), &registryv1.UpdateTenantRequest{TenantId: "acme", Tenant: &registryv1.Tenant{Code: "acme-2", Name: "Acme Inc"}}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if rev, evs := commit(t, next); len(evs) != 1 || !evs[0].GetProgress() || rev < revisionOf(t, hdr) {
		t.Fatalf("a name change is %v at %d; want one progress event at %d", evs, rev, revisionOf(t, hdr))
	}
	if _, err := a.tenants.CreateTenant(as(tokSystem), &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: "new", Code: "new", Name: "New"}}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if rev, evs := commit(t, next); len(evs) != 1 || !evs[0].GetProgress() || rev < revisionOf(t, hdr) {
		t.Fatalf("a new tenant is %v at %d; want one progress event at %d", evs, rev, revisionOf(t, hdr))
	}

	if _, err := a.tenants.DeleteTenant(as(tokSystem), &registryv1.DeleteTenantRequest{TenantId: "acme"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	rev, evs = commit(t, next)
	deleted := map[string]bool{}
	for _, ev := range evs[:len(evs)-1] {
		deleted[ev.GetDeletedClientId()] = true
	}
	if last := evs[len(evs)-1]; last.GetDeletedTenantId() != "acme" || rev < revisionOf(t, hdr) {
		t.Fatalf("tenant deletion ends with %v at %d", last, rev)
	}
	if len(deleted) != 2 || !deleted["c1"] || !deleted["c2"] {
		t.Fatalf("tenant deletion reported client deletions %v; want c1 and c2", deleted)
	}
}

// TestWritesAnswerRevision: every admin write (and RecordSecretUse) answers authsuite-revision registry:<n>
// with n at least the revision the store reached with it, growing from write to write; reads and refused
// writes answer none.
func TestWritesAnswerRevision(t *testing.T) {
	st := newMemStore(t)
	e := newEnvOn(t, st, newKeyring(t), true)
	ctx := as(tokSystem)
	var secretID string
	writes := []struct {
		name string
		call func(grpc.CallOption) error
	}{
		{"CreateTenant", func(o grpc.CallOption) error {
			_, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: "t2", Code: "t2", Name: "T2"}}, o)
			return err
		}},
		{"UpdateTenant", func(o grpc.CallOption) error {
			_, err := e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: "t2", Tenant: &registryv1.Tenant{Code: "t2b", Name: "T2"}}, o)
			return err
		}},
		{"CreateClient", func(o grpc.CallOption) error {
			_, err := e.clients.CreateClient(ctx, &registryv1.CreateClientRequest{TenantId: "t2", Client: validClient("w")}, o)
			return err
		}},
		{"UpdateClient", func(o grpc.CallOption) error {
			c := validClient("w")
			c.ClientName = "W"
			_, err := e.clients.UpdateClient(ctx, &registryv1.UpdateClientRequest{TenantId: "t2", ClientId: "w", Client: c}, o)
			return err
		}},
		{"CreateClientSecret", func(o grpc.CallOption) error {
			r, err := e.clients.CreateClientSecret(ctx, &registryv1.CreateClientSecretRequest{TenantId: "t2", ClientId: "w"}, o)
			secretID = r.GetSecret().GetSecretId()
			return err
		}},
		{"RecordSecretUse", func(o grpc.CallOption) error {
			_, err := e.internal.RecordSecretUse(ctx, &registryv1.RecordSecretUseRequest{Uses: []*registryv1.SecretUse{{ClientId: "w", SecretId: secretID, UsedTime: timestamppb.Now()}}}, o)
			return err
		}},
		{"DeleteClientSecret", func(o grpc.CallOption) error {
			_, err := e.clients.DeleteClientSecret(ctx, &registryv1.DeleteClientSecretRequest{TenantId: "t2", ClientId: "w", SecretId: secretID}, o)
			return err
		}},
		{"DeleteClient", func(o grpc.CallOption) error {
			_, err := e.clients.DeleteClient(ctx, &registryv1.DeleteClientRequest{TenantId: "t2", ClientId: "w"}, o)
			return err
		}},
		{"CreateUser", func(o grpc.CallOption) error {
			_, err := e.users.CreateUser(ctx, &registryv1.CreateUserRequest{TenantId: "t2", User: &registryv1.User{UserId: "u", LoginName: "u"}}, o)
			return err
		}},
		{"UpdateUser", func(o grpc.CallOption) error {
			_, err := e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "t2", UserId: "u", User: &registryv1.User{LoginName: "u", Disabled: true}}, o)
			return err
		}},
		{"DeleteUser", func(o grpc.CallOption) error {
			_, err := e.users.DeleteUser(ctx, &registryv1.DeleteUserRequest{TenantId: "t2", UserId: "u"}, o)
			return err
		}},
		{"DeleteTenant", func(o grpc.CallOption) error {
			_, err := e.tenants.DeleteTenant(ctx, &registryv1.DeleteTenantRequest{TenantId: "t2"}, o)
			return err
		}},
	}
	last := st.Revision()
	for _, w := range writes {
		var hdr metadata.MD
		if err := w.call(grpc.Header(&hdr)); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		n := revisionOf(t, hdr)
		if n <= last || n < st.Revision() {
			t.Fatalf("%s answered registry:%d; the previous write answered %d, the store is at %d", w.name, n, last, st.Revision())
		}
		last = n
	}

	var hdr metadata.MD
	_, err := e.clients.DeleteClient(ctx, &registryv1.DeleteClientRequest{TenantId: "acme", ClientId: "nobody"}, grpc.Header(&hdr))
	wantCode(t, err, codes.NotFound)
	if vs := hdr.Get("authsuite-revision"); len(vs) != 0 {
		t.Fatalf("a refused write answered %q", vs)
	}
	if _, err := e.tenants.GetTenant(ctx, &registryv1.GetTenantRequest{TenantId: "acme"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if vs := hdr.Get("authsuite-revision"); len(vs) != 0 {
		t.Fatalf("a read answered %q", vs)
	}
}

// compactingStore is a store whose history is compacted while a watch's snapshot is read: its first
// ListClients makes more commits than the memory store keeps, so the watch that follows asks for history that
// is gone, exactly as an etcd watcher does after a compaction.
type compactingStore struct {
	*memstore.Store
	armed atomic.Bool
}

func (s *compactingStore) ListClients(ctx context.Context, tenantID string, opts registry.ListOptions) ([]registry.Client, string, error) {
	if s.armed.CompareAndSwap(true, false) {
		for i := range memstore.HistorySize + 1 {
			if _, err := s.UpdateTenant(ctx, "acme", func(t registry.Tenant) (registry.Tenant, error) {
				t.Name = fmt.Sprint("Acme ", i)
				return t, nil
			}); err != nil {
				return nil, "", err
			}
		}
	}
	return s.Store.ListClients(ctx, tenantID, opts)
}

// TestCompactedHistoryEndsWatch: a watch whose history the store no longer keeps ends with UNAVAILABLE
// after its snapshot (the watcher reconnects), and the next watch syncs and follows again.
func TestCompactedHistoryEndsWatch(t *testing.T) {
	st := &compactingStore{Store: newMemStore(t)}
	e := newEnvOn(t, st, newKeyring(t), true)
	st.armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := e.internal.WatchClients(ctx, &registryv1.WatchClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			wantCode(t, err, codes.Unavailable)
			break
		}
		if ev.GetUpsert() != nil || ev.GetProgress() {
			t.Fatalf("a compacted watch sent %v", ev)
		}
	}
	next := watch(t, e)
	mark := synced(t, next)
	if mark.GetRevision() < int64(memstore.HistorySize) {
		t.Fatalf("resync at revision %d, before the compacting writes", mark.GetRevision())
	}
	e.createClient(t, "acme", "after")
	if _, evs := commit(t, next); evs[0].GetUpsert().GetClient().GetClientId() != "after" {
		t.Fatalf("after the resync: %v", evs)
	}
}

// failingWatchStore is a store whose Watch fails at once with err.
type failingWatchStore struct {
	*memstore.Store
	err error
}

func (s failingWatchStore) Watch(context.Context, int64, func(changelog.Batch[registry.Change]) error) error {
	return s.err
}

// TestWatchErrorsAreUnavailable: a compaction reported wrapped and any other failure of the store's watch end
// the stream with UNAVAILABLE, so that the watcher reconnects and resyncs.
func TestWatchErrorsAreUnavailable(t *testing.T) {
	for _, werr := range []error{fmt.Errorf("etcd: %w", changelog.ErrCompacted), fmt.Errorf("the store is gone")} {
		e := newEnvOn(t, failingWatchStore{Store: newMemStore(t), err: werr}, newKeyring(t), true)
		stream, err := e.internal.WatchClients(context.Background(), &registryv1.WatchClientsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err = stream.Recv(); err != nil {
				break
			}
		}
		wantCode(t, err, codes.Unavailable)
	}
}
