package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/etcdstore"
	"github.com/authsuite/authsuite/services/provider/memstore"
)

// backend opens the stores of two replicas of the provider service that share one state: the same store
// value, or two clients of one 3-member etcd cluster, each talking to another member.
type backend struct {
	name string
	open func(t *testing.T) (a, b provider.Store)
}

var backends = []backend{
	{"memory", func(t *testing.T) (provider.Store, provider.Store) {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		return st, st
	}},
	{"etcd", func(t *testing.T) (provider.Store, provider.Store) {
		c := etcdtest.Start(t, 3)
		open := func(member int) provider.Store { // each replica talks to its own member
			st, err := etcdstore.Open(context.Background(), c.ClientAt(t, member), "/authsuite/")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return open(0), open(1)
	}},
}

// pair starts two replicas on b's shared state, with the OData provider loaded, and authorizes a named
// connector of alice's at the first; lease is the replicas' refresh lease (0: the default).
func pair(t *testing.T, b backend, lease time.Duration) (up *upstream, ra, rb *env, id string) {
	up = newUpstream(t)
	sa, sb := b.open(t)
	ra, rb = up.serve(t, sa, lease), up.serve(t, sb, lease)
	ra.mustLoad(t, ra.odataConfig("OData"))
	id, _ = ra.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "named"}`)
	return up, ra, rb, id
}

// caughtUp waits until e has applied every change st has acknowledged (a replica's watch lags the
// writes a little; a grant read while older changes are still being applied is not cached).
func (e *env) caughtUp(t *testing.T, st provider.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.WaitApplied(ctx, st.Revision()); err != nil {
		t.Fatalf("replica did not apply revision %d: %v", st.Revision(), err)
	}
}

// accessToken asks e for connector id's access token.
func (e *env) accessToken(ctx context.Context, id string) (string, error) {
	r, err := e.internal.GetAccessToken(ctx, &providerv1.GetAccessTokenRequest{ConnectorId: id})
	return r.GetAccessToken(), err
}

// holdRefreshes makes the fake provider hold every refresh answer until the returned function is called.
func (f *fakeProvider) holdRefreshes() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.release = ch
	f.mu.Unlock()
	return sync.OnceFunc(func() { close(ch) })
}

// eventually waits, yielding the processor, until cond holds; the test fails after 30 s (a loaded machine
// with etcd fsyncs can be slow, a lost wake-up is forever).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// 50 callers spread over two replicas whose cached grants expired together: one refresh request reaches
// the provider, held there until the other replica waits on the refresh lease, and every caller gets its
// token.
func TestReplicasRefreshOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			up, ra, rb, id := pair(t, b, 0)
			replicas := []*env{ra, rb}
			var first string
			for _, e := range replicas {
				tok, err := e.accessToken(as(""), id)
				if err != nil || (first != "" && tok != first) {
					t.Fatalf("before expiry: %q %v (first %q)", tok, err, first)
				}
				first = tok
			}
			up.clock.Advance(2 * time.Hour)
			release := up.fake.holdRefreshes()
			defer release()
			const n = 50
			toks, errs, ends := make([]string, n), make([]error, n), make([]time.Time, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					toks[i], errs[i] = replicas[i%2].accessToken(as(""), id)
					ends[i] = time.Now()
				}()
			}
			eventually(t, "one replica refreshes and the other waits for it", func() bool {
				return up.fake.refreshes.Load() == 1 && ra.srv.LeaseWaits()+rb.srv.LeaseWaits() > 0
			})
			released := time.Now()
			release()
			wg.Wait()
			for i := range n {
				if errs[i] != nil || toks[i] != toks[0] || toks[i] == first {
					t.Fatalf("caller %d: %q %v (caller 0 %q, before expiry %q)", i, toks[i], errs[i], toks[0], first)
				}
			}
			if got := up.fake.refreshes.Load(); got != 1 {
				t.Fatalf("%d refresh requests for %d callers on two replicas, want 1", got, n)
			}
			waiter := ra
			if rb.srv.LeaseWaits() > 0 {
				waiter = rb
			}
			var last time.Duration
			for i := range n {
				if replicas[i%2] == waiter {
					last = max(last, ends[i].Sub(released))
				}
			}
			if last > 10*time.Second { // well below the 30 s lease: woken by the change, not the lease's end
				t.Fatalf("the waiting replica answered %v after the refresh", last)
			}
			if ra.srv.Signals()+rb.srv.Signals() != 0 {
				t.Fatalf("change signals kept after every caller left: %d, %d", ra.srv.Signals(), rb.srv.Signals())
			}
			t.Logf("%d callers, 1 refresh; the waiting replica answered all its callers %v after the provider answered", n, last)
		})
	}
}

// A connector deleted, or its grant dropped, at one replica is refused at the other, which had its grant
// cached, as soon as that replica applied the change (within a second).
func TestReplicaForgetsChangedGrant(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			up, ra, rb, id := pair(t, b, 0)
			bobs, _ := ra.authorize(t, "bob", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "named"}`)
			rb.caughtUp(t, ra.store)
			for _, c := range []string{id, bobs} {
				if _, err := rb.accessToken(as(""), c); err != nil || !rb.srv.Cached(c) {
					t.Fatalf("connector %s at the second replica: %v, cached %v", c, err, rb.srv.Cached(c))
				}
			}
			seen := func(what string) {
				t.Helper()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := rb.srv.WaitApplied(ctx, ra.store.Revision()); err != nil {
					t.Fatalf("the second replica did not apply %s within a second: %v", what, err)
				}
				t.Logf("%s applied at the other replica after %v", what, time.Since(start))
			}
			if code, body := ra.rest(t, "DELETE", "/api/provider/v1/connectors/"+id, "alice", ""); code != 200 {
				t.Fatalf("delete = %d %s", code, body)
			}
			seen("the delete")
			if _, err := rb.accessToken(as(""), id); status.Code(err) != codes.NotFound {
				t.Fatalf("deleted connector's token at the other replica: %v", err)
			}
			code, body := ra.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", "sys-admin", `{"oauthProvider": "OData", "userName": "bob.login"}`)
			if code != 200 || !strings.Contains(body, `"deletedCount":1`) {
				t.Fatalf("DeleteOAuthTokens = %d %s", code, body)
			}
			seen("the dropped grant")
			if _, err := rb.accessToken(as(""), bobs); status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("dropped grant's token at the other replica: %v", err)
			}
			if n := up.fake.refreshes.Load(); n != 0 {
				t.Fatalf("%d refreshes, want none", n)
			}
		})
	}
}

// A replica that took the refresh lease and died (it never refreshes nor gives the lease back) holds the
// others up no longer than its lease: then one of them takes the lease over and refreshes.
func TestDeadLeaseHolder(t *testing.T) {
	const lease = 300 * time.Millisecond
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			up, ra, rb, id := pair(t, b, lease)
			up.clock.Advance(2 * time.Hour)
			now := up.clock.Now()
			if won, _, err := ra.store.ClaimRefresh(context.Background(), id, "crashed-replica", now, now.Add(lease)); err != nil || !won {
				t.Fatalf("claim as the crashed replica: %v %v", won, err)
			}
			start := time.Now()
			type result struct {
				tok string
				err error
			}
			done := make(chan result, 1)
			go func() {
				ctx, cancel := context.WithTimeout(as(""), 30*time.Second)
				defer cancel()
				tok, err := rb.accessToken(ctx, id)
				done <- result{tok, err}
			}()
			eventually(t, "the replica waits for the crashed holder", func() bool { return rb.srv.LeaseWaits() > 0 })
			up.clock.Advance(lease) // the crashed holder's lease runs out
			r := <-done
			took := time.Since(start)
			if r.err != nil || !strings.HasPrefix(r.tok, "at-") {
				t.Fatalf("after the lease: %q %v", r.tok, r.err)
			}
			if n := up.fake.refreshes.Load(); n != 1 {
				t.Fatalf("%d refreshes, want 1", n)
			}
			if took > 10*time.Second { // well below the caller's 30 s: the lease's end freed it
				t.Fatalf("took %v for a lease of %v", took, lease)
			}
			t.Logf("refreshed %v after a crashed holder's %v lease began", took, lease)
		})
	}
}

// The caller whose call started a refresh goes away mid-refresh: it gets its own error at once, the
// refresh completes and is stored, and the other replica's waiting caller gets the new token.
func TestRefreshOutlivesItsCaller(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			up, ra, rb, id := pair(t, b, time.Minute)
			up.clock.Advance(2 * time.Hour)
			release := up.fake.holdRefreshes()
			defer release()
			ctx, cancel := context.WithCancel(as(""))
			gone := make(chan error, 1)
			go func() { _, err := ra.accessToken(ctx, id); gone <- err }()
			eventually(t, "the first replica's refresh reaches the provider", func() bool { return up.fake.refreshes.Load() == 1 })
			cancel()
			if err := <-gone; status.Code(err) != codes.Canceled {
				t.Fatalf("the cancelled caller: %v", err)
			}
			waiting := make(chan string, 1)
			go func() {
				tok, err := rb.accessToken(as(""), id)
				if err != nil {
					t.Error(err)
				}
				waiting <- tok
			}()
			eventually(t, "the second replica waits for the refresh", func() bool { return rb.srv.LeaseWaits() > 0 })
			release()
			tok := <-waiting
			if !strings.HasPrefix(tok, "at-") || up.fake.refreshes.Load() != 1 {
				t.Fatalf("waiting caller got %q after %d refreshes", tok, up.fake.refreshes.Load())
			}
			if again, err := ra.accessToken(as(""), id); err != nil || again != tok {
				t.Fatalf("first replica after the refresh: %q %v, want %q", again, err, tok)
			}
		})
	}
}

// The provider refuses the refresh (invalid_grant) that one replica sent while the other waits for it:
// the connector is revoked once, the waiting replica learns it from the change, not from the lease's end,
// and nobody retries the refresh.
func TestRefusedRefreshAcrossReplicas(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			up, ra, rb, id := pair(t, b, time.Minute)
			up.clock.Advance(2 * time.Hour)
			up.fake.refuse.Store(true)
			release := up.fake.holdRefreshes()
			defer release()
			errs := make(chan error, 2)
			go func() { _, err := ra.accessToken(as(""), id); errs <- err }()
			eventually(t, "the first replica's refresh reaches the provider", func() bool { return up.fake.refreshes.Load() == 1 })
			go func() { _, err := rb.accessToken(as(""), id); errs <- err }()
			eventually(t, "the second replica waits for the refresh", func() bool { return rb.srv.LeaseWaits() > 0 })
			start := time.Now()
			release()
			for range 2 {
				if err := <-errs; status.Code(err) != codes.FailedPrecondition {
					t.Fatalf("after the refusal: %v", err)
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("the waiting replica answered after %v", took)
			}
			if n := up.fake.refreshes.Load(); n != 1 {
				t.Fatalf("%d refreshes, want 1", n)
			}
			con, err := ra.store.GetConnector(context.Background(), id)
			if err != nil || con.Status != provider.StatusRevoked || con.SealedGrant != nil {
				t.Fatalf("connector after the refusal: %+v %v", con, err)
			}
		})
	}
}

// breakableWatch is a store whose watch can be made to fail with changelog.ErrCompacted, as an etcd watch
// does when the replica fell behind a compaction.
type breakableWatch struct {
	provider.Store
	mu      sync.Mutex
	kick    chan struct{} // closed to break the running watch
	watches int           // watches started
}

func (b *breakableWatch) Watch(ctx context.Context, from int64, fn func(changelog.Batch[provider.Change]) error) error {
	b.mu.Lock()
	kick := make(chan struct{})
	b.kick = kick
	b.watches++
	b.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-kick:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := b.Store.Watch(ctx, from, fn)
	select {
	case <-kick:
		return fmt.Errorf("watch from %d: %w", from, changelog.ErrCompacted)
	default:
		return err
	}
}

func (b *breakableWatch) breakWatch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.kick)
}

func (b *breakableWatch) started() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.watches
}

// A replica whose watch lost its history drops every cached grant (it cannot know what it missed), and
// follows the store again from a new revision: later changes reach it as before.
func TestCompactedWatchDropsCache(t *testing.T) {
	up := newUpstream(t)
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	bw := &breakableWatch{Store: st}
	ra, rb := up.serve(t, st, 0), up.serve(t, bw, 0)
	ra.mustLoad(t, ra.odataConfig("OData"))
	id, _ := ra.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "named"}`)
	rb.caughtUp(t, st)
	if _, err := rb.accessToken(as(""), id); err != nil || !rb.srv.Cached(id) {
		t.Fatalf("before: %v, cached %v", err, rb.srv.Cached(id))
	}
	bw.breakWatch()
	eventually(t, "the replica watches again", func() bool { return bw.started() == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rb.srv.WaitApplied(ctx, st.Revision()); err != nil {
		t.Fatal(err)
	}
	if rb.srv.Cached(id) {
		t.Fatal("a grant cached before the compaction is still cached")
	}
	if _, err := rb.accessToken(as(""), id); err != nil || !rb.srv.Cached(id) {
		t.Fatalf("after: %v, cached %v", err, rb.srv.Cached(id))
	}
	if code, body := ra.rest(t, "DELETE", "/api/provider/v1/connectors/"+id, "alice", ""); code != 200 {
		t.Fatalf("delete = %d %s", code, body)
	}
	if err := rb.srv.WaitApplied(ctx, st.Revision()); err != nil {
		t.Fatal(err)
	}
	if _, err := rb.accessToken(as(""), id); status.Code(err) != codes.NotFound {
		t.Fatalf("deleted connector at the replica that watched again: %v", err)
	}
}

// countingStore counts the connector reads that reach the store.
type countingStore struct {
	provider.Store
	reads atomic.Int64
}

func (c *countingStore) GetConnector(ctx context.Context, id string) (provider.Connector, error) {
	c.reads.Add(1)
	return c.Store.GetConnector(ctx, id)
}

// A fresh cached grant is served with no store read, at the replica that obtained it and at another
// that read it once; a change of the connector elsewhere costs one read.
func TestCachedGrantNeedsNoStoreRead(t *testing.T) {
	up := newUpstream(t)
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	ra, rb := up.serve(t, st, 0), up.serve(t, cs, 0)
	ra.mustLoad(t, ra.odataConfig("OData"))
	id, _ := ra.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "named"}`)
	rb.caughtUp(t, st)
	first, err := rb.accessToken(as(""), id)
	if err != nil || cs.reads.Load() != 1 {
		t.Fatalf("first call: %v, %d store reads", err, cs.reads.Load())
	}
	for range 100 {
		if tok, err := rb.accessToken(as(""), id); err != nil || tok != first {
			t.Fatalf("cached call: %q %v", tok, err)
		}
	}
	if n := cs.reads.Load(); n != 1 {
		t.Fatalf("%d store reads for 101 calls, want 1", n)
	}
	if _, err := st.UpdateConnector(context.Background(), id, func(c provider.Connector) (provider.Connector, error) {
		c.ReturnTo = "/elsewhere"
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rb.srv.WaitApplied(ctx, st.Revision()); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := rb.accessToken(as(""), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.reads.Load(); n != 2 {
		t.Fatalf("%d store reads after a change, want 2", n)
	}
}
