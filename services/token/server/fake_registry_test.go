package server

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/grpcserver"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// fakeRegistry is a hand-written RegistryInternalServiceServer holding clients and users in memory.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryInternalServiceServer
	kr *suitekey.Keyring

	mu       sync.Mutex
	clients  map[string]*registryv1.ClientRecord
	users    []*registryv1.User
	tenants  map[string]string // id → code
	streams  map[chan *registryv1.WatchClientsResponse]chan struct{}
	refuse   bool // WatchClients fails at once
	uses     [][]*registryv1.SecretUse
	resolves int
	useTries int
	useFail  bool
	watches  int
	// accounts, when set, are the user records every watch's snapshot carries (with users_synced), so the
	// token server's account view knows them; nil: a registry without user events.
	accounts []*registryv1.UserRecord
	// rev counts the fake's commits (every put and delete); events carry it as a registry does, so tests
	// wait for a change with the client view's WaitRevision instead of polling.
	rev int64
}

func newFakeRegistry(kr *suitekey.Keyring) *fakeRegistry {
	return &fakeRegistry{
		kr: kr, clients: map[string]*registryv1.ClientRecord{},
		tenants: map[string]string{"default": "default", "t-acme": "acme", "t-beta": "beta"},
		streams: map[chan *registryv1.WatchClientsResponse]chan struct{}{},
	}
}

// serve starts the fake on loopback; stop makes it unreachable.
func (f *fakeRegistry) serve(t *testing.T, cred string) (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcserver.New(nil, cred)
	registryv1.RegisterRegistryInternalServiceServer(s.Server, f)
	go s.Serve(lis)
	var once sync.Once
	stop = func() { once.Do(s.Stop) }
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

type secretSpec struct {
	id, value  string
	start, end time.Time
}

func (f *fakeRegistry) record(id, tenantID string, grants, scopes []string, lifetime int32, secrets ...secretSpec) *registryv1.ClientRecord {
	r := &registryv1.ClientRecord{
		Client: &registryv1.Client{
			ClientId: id, TenantId: tenantID, AllowedGrantTypes: grants, AllowedScopes: scopes,
		},
		TenantCode: f.tenants[tenantID],
	}
	if lifetime != 0 {
		r.Client.AccessTokenLifetime = &lifetime
	}
	for _, s := range secrets {
		kid, sum := f.kr.Digest("client-secret", []byte(s.value))
		d := &registryv1.SecretDigest{SecretId: s.id, Digest: sum, KeyId: kid}
		if !s.start.IsZero() {
			d.StartTime = timestamppb.New(s.start)
		}
		if !s.end.IsZero() {
			d.Expiration = timestamppb.New(s.end)
		}
		r.Secrets = append(r.Secrets, d)
	}
	return r
}

// put creates or replaces a client, tells connected watchers and returns the change's revision.
func (f *fakeRegistry) put(r *registryv1.ClientRecord) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients[r.GetClient().GetClientId()] = r
	f.rev++
	f.broadcast(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Upsert{Upsert: proto.Clone(r).(*registryv1.ClientRecord)}})
	return f.rev
}

// revision is the fake's latest commit.
func (f *fakeRegistry) revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

// putQuiet changes a client without telling watchers (as if the change happened while they were away).
func (f *fakeRegistry) putQuiet(r *registryv1.ClientRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients[r.GetClient().GetClientId()] = r
	f.rev++
}

// del deletes a client, telling connected watchers unless quiet, and returns the change's revision.
func (f *fakeRegistry) del(id string, quiet bool) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, id)
	f.rev++
	if !quiet {
		f.broadcast(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedClientId{DeletedClientId: id}})
	}
	return f.rev
}

// broadcast sends ev to every watcher as the whole of commit f.rev.
func (f *fakeRegistry) broadcast(ev *registryv1.WatchClientsResponse) {
	ev.Revision, ev.RevisionComplete = f.rev, true
	for ch := range f.streams {
		ch <- ev
	}
}

// breakStreams ends every open watch with UNAVAILABLE; with refuse, new watches fail until allowed again.
func (f *fakeRegistry) breakStreams(refuse bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = refuse
	for ch, kill := range f.streams {
		close(kill)
		delete(f.streams, ch)
	}
}

func (f *fakeRegistry) allow() {
	f.mu.Lock()
	f.refuse = false
	f.mu.Unlock()
}

func (f *fakeRegistry) WatchClients(_ *registryv1.WatchClientsRequest, ss registryv1.RegistryInternalService_WatchClientsServer) error {
	f.mu.Lock()
	if f.refuse {
		f.mu.Unlock()
		return status.Error(codes.Unavailable, "registry paused")
	}
	f.watches++
	var initial []*registryv1.WatchClientsResponse
	for _, r := range f.clients {
		initial = append(initial, &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Upsert{Upsert: proto.Clone(r).(*registryv1.ClientRecord)}})
	}
	for _, a := range f.accounts {
		initial = append(initial, &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_UserUpsert{UserUpsert: proto.Clone(a).(*registryv1.UserRecord)}})
	}
	snapshotRev := f.rev
	ch, kill := make(chan *registryv1.WatchClientsResponse, 1024), make(chan struct{})
	f.streams[ch] = kill
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.streams, ch)
		f.mu.Unlock()
	}()
	for _, ev := range initial {
		if err := ss.Send(ev); err != nil {
			return err
		}
	}
	if err := ss.Send(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Synced{Synced: true},
		Revision: snapshotRev, RevisionComplete: true, UsersSynced: f.accounts != nil}); err != nil {
		return err
	}
	for {
		select {
		case <-ss.Context().Done():
			return ss.Context().Err()
		case <-kill:
			return status.Error(codes.Unavailable, "stream broken by test")
		case ev := <-ch:
			if err := ss.Send(ev); err != nil {
				return err
			}
		}
	}
}

func (f *fakeRegistry) RecordSecretUse(_ context.Context, req *registryv1.RecordSecretUseRequest) (*registryv1.RecordSecretUseResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.useTries++
	if f.useFail {
		return nil, status.Error(codes.Unavailable, "registry refuses (test)")
	}
	f.uses = append(f.uses, req.GetUses())
	return &registryv1.RecordSecretUseResponse{}, nil
}

func (f *fakeRegistry) useCalls() [][]*registryv1.SecretUse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]*registryv1.SecretUse(nil), f.uses...)
}

func (f *fakeRegistry) ResolveUser(_ context.Context, req *registryv1.ResolveUserRequest) (*registryv1.ResolveUserResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolves++
	kind, value, _ := strings.Cut(req.GetSelector(), ":")
	tenantID := req.GetTenantId()
	if tenantID == "" {
		for id, code := range f.tenants {
			if code == req.GetTenantCode() {
				tenantID = id
			}
		}
	}
	if tenantID == "" {
		return nil, status.Error(codes.NotFound, "tenant not found")
	}
	for _, u := range f.users {
		if u.GetTenantId() != tenantID {
			continue
		}
		var got string
		switch kind {
		case "uid":
			got = u.GetUserId()
		case "loginName":
			got = u.GetLoginName()
		case "email":
			got = u.GetEmail()
		case "mobile":
			got = u.GetMobile()
		}
		if got == value {
			return &registryv1.ResolveUserResponse{User: proto.Clone(u).(*registryv1.User), TenantCode: f.tenants[tenantID]}, nil
		}
	}
	return nil, status.Error(codes.NotFound, "user not found")
}

// LookupTenant finds a tenant of f.tenants by id, else by code.
func (f *fakeRegistry) LookupTenant(_ context.Context, req *registryv1.LookupTenantRequest) (*registryv1.LookupTenantResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, code := range f.tenants {
		if (req.GetTenantId() != "" && id == req.GetTenantId()) || (req.GetTenantId() == "" && code == req.GetTenantCode()) {
			return &registryv1.LookupTenantResponse{TenantId: id, TenantCode: code}, nil
		}
	}
	return nil, status.Error(codes.NotFound, "tenant not found")
}

func (f *fakeRegistry) failUses(v bool) {
	f.mu.Lock()
	f.useFail = v
	f.mu.Unlock()
}

func (f *fakeRegistry) useAttempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.useTries
}

// putAccount creates or replaces a user record of the account feed, tells connected watchers and returns the
// change's revision. The first call turns the feed on for later watches (see accounts).
func (f *fakeRegistry) putAccount(a *registryv1.UserRecord) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts = slices.DeleteFunc(f.accounts, func(o *registryv1.UserRecord) bool {
		return o.GetTenantId() == a.GetTenantId() && o.GetUserId() == a.GetUserId()
	})
	f.accounts = append(f.accounts, a)
	f.rev++
	f.broadcast(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_UserUpsert{UserUpsert: proto.Clone(a).(*registryv1.UserRecord)}})
	return f.rev
}
