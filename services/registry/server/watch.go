package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
)

// watchBuffer is how many events may wait between the store's watch and a WatchClients stream.
const watchBuffer = 1024

// watchStall is how long a watcher whose queue is full may take no event before it is dropped (it reconnects
// and resyncs). Writers never wait for watchers: the store's watch does not hold up commits, and a dropped
// watcher costs only its own resync. A variable so that tests can shorten it.
var watchStall = 5 * time.Second

// watchDropped, when set (by tests), is signalled without blocking whenever a watcher is dropped for not
// taking its events.
var watchDropped chan<- struct{}

// errWatchBehind ends a stream whose watcher could not keep up, or whose history the store no longer keeps;
// the client reconnects and resyncs.
var errWatchBehind = fmt.Errorf("client watch fell behind; reconnect to resync: %w", apierror.ErrUnavailable)

// errWatchEnded ends the streams of a server that is shutting down.
var errWatchEnded = fmt.Errorf("client watch ended by the server; reconnect: %w", apierror.ErrUnavailable)

// watches tracks the open WatchClients streams, so that EndWatches can end them.
type watches struct {
	mu     sync.Mutex
	closed bool // after close, new streams end at once
	next   uint64
	open   map[uint64]context.CancelCauseFunc
}

// add returns a context for one stream that EndWatches cancels (with errWatchEnded), and the function that
// forgets it; errWatchEnded when the watches are closed.
func (w *watches) add(ctx context.Context) (context.Context, func(), error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, nil, errWatchEnded
	}
	if w.open == nil {
		w.open = map[uint64]context.CancelCauseFunc{}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	id := w.next
	w.next++
	w.open[id] = cancel
	return ctx, func() {
		w.mu.Lock()
		delete(w.open, id)
		w.mu.Unlock()
		cancel(nil)
	}, nil
}

// close ends every open stream and every later one.
func (w *watches) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for id, cancel := range w.open {
		cancel(errWatchEnded)
		delete(w.open, id)
	}
}

// EndWatches ends every WatchClients stream (the watchers see UNAVAILABLE and reconnect elsewhere or later)
// and ends new ones at once. Call it when shutting down, before GracefulStop, which would otherwise wait for
// the watchers of other processes to hang up.
func (s *Server) EndWatches() { s.watches.close() }

// watchClients sends one WatchClients stream: it notes the store's revision, sends the snapshot read after
// it (every client, then every user account, then every API resource, paged), then synced, then every commit after the noted
// revision as the store's watch reports it. Commits already in the snapshot come again; each event carries
// the whole new state, so applying them in order converges. It returns when ctx ends, send fails, or the
// watch breaks (errWatchBehind or another UNAVAILABLE error: the watcher reconnects and resyncs).
func (s *Server) watchClients(ctx context.Context, send func(*registryv1.WatchClientsResponse) error) error {
	rev := s.store.Revision()
	f := &feedConverter{s: s, codes: map[string]string{}}
	if err := f.loadCodes(ctx); err != nil {
		return err
	}
	after := ""
	for {
		items, next, err := s.store.ListClients(ctx, "", registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			return err
		}
		for _, c := range items {
			ev, err := f.upsert(ctx, c)
			if err != nil {
				return err
			}
			if ev == nil {
				continue // its tenant is gone: so is the client, by the time the stream reaches that commit
			}
			ev.Revision = rev
			if err := send(ev); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	if err := s.sendUsers(ctx, rev, send); err != nil {
		return err
	}
	if err := s.sendResources(ctx, rev, send); err != nil {
		return err
	}
	synced := &registryv1.WatchClientsResponse{
		Event:       &registryv1.WatchClientsResponse_Synced{Synced: true},
		UsersSynced: true, Revision: rev, RevisionComplete: true,
	}
	if err := send(synced); err != nil {
		return err
	}
	return f.follow(ctx, rev, send)
}

// follow streams the store's commits after rev through a bounded queue: the store's watch converts and
// queues, this goroutine sends. A watcher that leaves its queue full for watchStall is dropped.
func (f *feedConverter) follow(ctx context.Context, rev int64, send func(*registryv1.WatchClientsResponse) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *registryv1.WatchClientsResponse, watchBuffer)
	push := func(ev *registryv1.WatchClientsResponse) error {
		select {
		case queue <- ev:
			return nil
		default:
		}
		t := time.NewTimer(watchStall)
		defer t.Stop()
		select {
		case queue <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			f.s.log.Warn("client feed: dropping a watcher that took no event for too long; it must resync", "stall", watchStall)
			if watchDropped != nil {
				select {
				case watchDropped <- struct{}{}:
				default:
				}
			}
			return errWatchBehind
		}
	}
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- f.s.store.Watch(ctx, rev, func(b changelog.Batch[registry.Change]) error { return f.batch(ctx, b, push) })
	}()
	for {
		select {
		case ev := <-queue:
			if err := send(ev); err != nil {
				return err
			}
		case err := <-watchErr:
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, errWatchBehind):
				return err
			case errors.Is(err, changelog.ErrCompacted):
				return errWatchBehind
			}
			f.s.log.Warn("client feed: store watch ended; the watcher must resync", "err", err)
			return fmt.Errorf("client watch broken; reconnect to resync: %w", apierror.ErrUnavailable)
		}
	}
}

// feedConverter turns store changes into WatchClients events for one stream. codes holds the tenant code
// every client sent so far carries, per tenant: a tenant change with another code re-sends its clients.
type feedConverter struct {
	s     *Server
	codes map[string]string
}

// loadCodes reads every tenant's code.
func (f *feedConverter) loadCodes(ctx context.Context) error {
	after := ""
	for {
		tenants, next, err := f.s.store.ListTenants(ctx, registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			return err
		}
		for _, t := range tenants {
			f.codes[t.ID] = t.Code
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// upsert returns c's upsert event with its tenant's code, or nil when the tenant no longer exists.
func (f *feedConverter) upsert(ctx context.Context, c registry.Client) (*registryv1.WatchClientsResponse, error) {
	code, ok := f.codes[c.TenantID]
	if !ok {
		t, err := f.s.store.GetTenant(ctx, c.TenantID)
		if errors.Is(err, apierror.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		code, f.codes[t.ID] = t.Code, t.Code
	}
	return upsertEvent(c, code), nil
}

// batch emits the events of one commit, each with the commit's revision and the last marked
// revision_complete; a commit without events the feed forwards (and a progress report) is one progress event.
func (f *feedConverter) batch(ctx context.Context, b changelog.Batch[registry.Change], emit func(*registryv1.WatchClientsResponse) error) error {
	var held *registryv1.WatchClientsResponse // the previous event, sent once the next is known
	out := func(ev *registryv1.WatchClientsResponse) error {
		if ev == nil {
			return nil
		}
		ev.Revision = b.Revision
		prev := held
		held = ev
		if prev == nil {
			return nil
		}
		return emit(prev)
	}
	for _, ch := range b.Changes {
		if err := f.change(ctx, ch, out); err != nil {
			return err
		}
	}
	if held == nil {
		held = &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Progress{Progress: true}, Revision: b.Revision}
	}
	held.RevisionComplete = true
	return emit(held)
}

// change emits the events of one store change.
func (f *feedConverter) change(ctx context.Context, ch registry.Change, out func(*registryv1.WatchClientsResponse) error) error {
	switch {
	case ch.Client != nil:
		ev, err := f.upsert(ctx, *ch.Client)
		if err != nil {
			return err
		}
		return out(ev)
	case ch.DeletedClient != "":
		return out(deletedEvent(ch.DeletedClient))
	case ch.User != nil:
		return out(userUpsertEvent(*ch.User))
	case ch.DeletedUser != nil:
		return out(userDeletedEvent(*ch.DeletedUser))
	case ch.Resource != nil:
		return out(resourceUpsertEvent(*ch.Resource))
	case ch.DeletedResource != nil:
		return out(resourceDeletedEvent(*ch.DeletedResource))
	case ch.DeletedTenant != "":
		delete(f.codes, ch.DeletedTenant)
		return out(tenantDeletedEvent(ch.DeletedTenant))
	case ch.Tenant != nil:
		if code, ok := f.codes[ch.Tenant.ID]; ok && code == ch.Tenant.Code {
			return nil // nothing a watcher keeps changed
		}
		f.codes[ch.Tenant.ID] = ch.Tenant.Code
		return f.resendTenant(ctx, ch.Tenant.ID, out)
	}
	return nil
}

// resendTenant emits every client of the tenant again, as stored now, with the tenant's code as this stream
// knows it. Clients changed after this commit come again later in the stream, so the watcher converges.
func (f *feedConverter) resendTenant(ctx context.Context, tenantID string, out func(*registryv1.WatchClientsResponse) error) error {
	after := ""
	for {
		items, next, err := f.s.store.ListClients(ctx, tenantID, registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			return err
		}
		for _, c := range items {
			if err := out(upsertEvent(c, f.codes[tenantID])); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

func upsertEvent(c registry.Client, tenantCode string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Upsert{Upsert: clientRecord(c, tenantCode)}}
}

func deletedEvent(id string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedClientId{DeletedClientId: id}}
}

func userUpsertEvent(u registry.User) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_UserUpsert{UserUpsert: userRecord(u)}}
}

func userDeletedEvent(u registry.User) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedUser{DeletedUser: &registryv1.UserRef{
		TenantId: u.TenantID, UserId: u.ID, Incarnation: u.Incarnation,
	}}}
}

// tenantDeletedEvent says the tenant is gone with every client, user account and API resource it had (one
// event however many it had: the store may or may not report their deletions one by one as well).
func tenantDeletedEvent(tenantID string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedTenantId{DeletedTenantId: tenantID}}
}

// sendUsers streams every user of every tenant as user_upsert events of revision rev, paged from the store.
func (s *Server) sendUsers(ctx context.Context, rev int64, send func(*registryv1.WatchClientsResponse) error) error {
	return sendPerTenant(ctx, s.store, rev, send, s.store.ListUsers, userUpsertEvent)
}

// sendPerTenant streams every item list names in every tenant, as the events event makes, each of revision
// rev, paged from the store (tenants and items MaxPageSize at a time).
func sendPerTenant[T any](ctx context.Context, st registry.Store, rev int64, send func(*registryv1.WatchClientsResponse) error,
	list func(context.Context, string, registry.ListOptions) ([]T, string, error), event func(T) *registryv1.WatchClientsResponse) error {
	afterTenant := ""
	for {
		tenants, nextTenant, err := st.ListTenants(ctx, registry.ListOptions{Limit: registry.MaxPageSize, After: afterTenant})
		if err != nil {
			return err
		}
		for _, t := range tenants {
			after := ""
			for {
				items, next, err := list(ctx, t.ID, registry.ListOptions{Limit: registry.MaxPageSize, After: after})
				if err != nil {
					return err
				}
				for _, it := range items {
					ev := event(it)
					ev.Revision = rev
					if err := send(ev); err != nil {
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

func resourceUpsertEvent(r registry.ApiResource) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_ResourceUpsert{ResourceUpsert: resourceToProto(r)}}
}

func resourceDeletedEvent(ref registry.ApiResourceRef) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedResource{DeletedResource: &registryv1.ApiResourceRef{
		TenantId: ref.TenantID, ResourceId: ref.ID,
	}}}
}

// sendResources streams every API resource of every tenant as resource_upsert events of revision rev, paged
// from the store.
func (s *Server) sendResources(ctx context.Context, rev int64, send func(*registryv1.WatchClientsResponse) error) error {
	return sendPerTenant(ctx, s.store, rev, send, s.store.ListApiResources, resourceUpsertEvent)
}
