package server

import (
	"context"
	"sync"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

// watchBuffer is how many events a watcher may lag behind before it is dropped (and must reconnect and
// resync). Writers never wait for watchers.
const watchBuffer = 1024

// feed fans committed client and user changes out to WatchClients streams.
type feed struct {
	size   int
	mu     sync.Mutex
	subs   map[*watcher]struct{}
	closed bool // after close, new watchers are dropped at once
}

// watcher is one WatchClients stream's queue. gone is closed when the watcher fell behind and was dropped.
type watcher struct {
	ch   chan *registryv1.WatchClientsResponse
	gone chan struct{}
}

func newFeed(size int) *feed { return &feed{size: size, subs: map[*watcher]struct{}{}} }

func (f *feed) subscribe() *watcher {
	w := &watcher{ch: make(chan *registryv1.WatchClientsResponse, f.size), gone: make(chan struct{})}
	f.mu.Lock()
	if f.closed {
		close(w.gone)
	} else {
		f.subs[w] = struct{}{}
	}
	f.mu.Unlock()
	return w
}

func (f *feed) unsubscribe(w *watcher) {
	f.mu.Lock()
	delete(f.subs, w)
	f.mu.Unlock()
}

// publish queues ev for every watcher without blocking; a watcher whose queue is full is dropped.
func (f *feed) publish(ev *registryv1.WatchClientsResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.subs {
		select {
		case w.ch <- ev:
		default:
			close(w.gone)
			delete(f.subs, w)
		}
	}
}

// dropAll drops every watcher, forcing resyncs: used when a change committed but its event cannot be built.
func (f *feed) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.subs {
		close(w.gone)
		delete(f.subs, w)
	}
}

// close drops every watcher and every later one.
func (f *feed) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.dropAll()
}

// EndWatches ends every WatchClients stream (the watchers see UNAVAILABLE and reconnect elsewhere or later)
// and ends new ones at once. Call it when shutting down, before GracefulStop, which would otherwise wait for
// the watchers of other processes to hang up.
func (s *Server) EndWatches() { s.feed.close() }

func upsertEvent(c registry.Client, tenantCode string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Upsert{Upsert: clientRecord(c, tenantCode)}}
}

func deletedEvent(id string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedClientId{DeletedClientId: id}}
}

// userRecord is the part of a user the token service needs to end a disabled, deleted or re-created
// account's sign-ins, and the addresses with their verification that it releases in ID tokens without
// asking the registry per token: never the password hash or the rest of the profile.
func userRecord(u registry.User) *registryv1.UserRecord {
	r := &registryv1.UserRecord{
		TenantId: u.TenantID, UserId: u.ID, Incarnation: u.Incarnation, Disabled: u.Disabled,
		Email: u.Email, EmailVerified: u.EmailVerified, Mobile: u.Mobile, PhoneVerified: u.PhoneVerified,
	}
	if !u.DisableTime.IsZero() {
		r.DisableTime = timestamppb.New(u.DisableTime)
	}
	return r
}

func userUpsertEvent(u registry.User) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_UserUpsert{UserUpsert: userRecord(u)}}
}

func userDeletedEvent(u registry.User) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedUser{DeletedUser: &registryv1.UserRef{
		TenantId: u.TenantID, UserId: u.ID, Incarnation: u.Incarnation,
	}}}
}

// tenantDeletedEvent says every user of the tenant is gone (one event however many users it had).
func tenantDeletedEvent(tenantID string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedTenantId{DeletedTenantId: tenantID}}
}

// sendUsers streams every user of every tenant as user_upsert events, paged from the store.
func (s *Server) sendUsers(ctx context.Context, send func(*registryv1.WatchClientsResponse) error) error {
	afterTenant := ""
	for {
		tenants, nextTenant, err := s.store.ListTenants(ctx, registry.ListOptions{Limit: registry.MaxPageSize, After: afterTenant})
		if err != nil {
			return err
		}
		for _, t := range tenants {
			after := ""
			for {
				users, next, err := s.store.ListUsers(ctx, t.ID, registry.ListOptions{Limit: registry.MaxPageSize, After: after})
				if err != nil {
					return err
				}
				for _, u := range users {
					if err := send(userUpsertEvent(u)); err != nil {
						return err
					}
				}
				if next == "" {
					break
				}
				after = next
			}
		}
		if nextTenant == "" {
			return nil
		}
		afterTenant = nextTenant
	}
}

// publishUpserts publishes the new state of committed clients. Call with clientWrites held. The store is read
// with a context that ignores the caller's cancellation: the change is committed, so its event must follow.
func (s *Server) publishUpserts(ctx context.Context, clients ...registry.Client) {
	ctx = context.WithoutCancel(ctx)
	for _, c := range clients {
		t, err := s.store.GetTenant(ctx, c.TenantID)
		if err != nil {
			s.log.Error("client feed: cannot read tenant of changed client; dropping watchers", "client_id", c.ID, "err", err)
			s.feed.dropAll()
			return
		}
		s.feed.publish(upsertEvent(c, t.Code))
	}
}
