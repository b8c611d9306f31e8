package server

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// atRevisions is a context whose calls carry the revision barrier values.
func atRevisions(ctx context.Context, values ...string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, RevisionMetadata, strings.Join(values, ", "))
}

// answeredTokenRevision is the token revision a response header carries, failing the test without one.
func answeredTokenRevision(t *testing.T, md metadata.MD) (string, int64) {
	t.Helper()
	vs := md.Get(RevisionMetadata)
	if len(vs) != 1 || !strings.HasPrefix(vs[0], "token:") {
		t.Fatalf("answered %s %q, want one token:<n>", RevisionMetadata, vs)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(vs[0], "token:"), 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("answered %s %q", RevisionMetadata, vs[0])
	}
	return vs[0], n
}

func (e *env) revokeAnswering(tok string) metadata.MD {
	e.t.Helper()
	var md metadata.MD
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: tok}, grpc.Header(&md)); err != nil {
		e.t.Fatal(err)
	}
	return md
}

func kidOf(t *testing.T, e *env, tok string) string {
	t.Helper()
	hdr, _ := e.verifyWithJose(tok)
	return hdr.KeyID
}

// TestReplicasShareRevocations: two token servers on one store. A token revoked at one is refused at the other
// at once when the check carries the answered revision, and within a second without it.
func TestReplicasShareRevocations(t *testing.T) {
	a := newEnvOn(t, memstore.New())
	b := a.replica()
	for _, pair := range []struct {
		name          string
		revoker, peer *env
	}{{"A to B", a, b}, {"B to A", b, a}} {
		tok := pair.revoker.mustToken("svc", svcSecret, "")
		if _, err := pair.peer.check(tok); err != nil {
			t.Fatalf("%s: the peer does not accept the token: %v", pair.name, err)
		}
		start := time.Now()
		rev, n := answeredTokenRevision(t, pair.revoker.revokeAnswering(tok))
		_, err := pair.peer.simple.CheckToken(atRevisions(context.Background(), rev), &tokenv1.CheckTokenRequest{Token: tok})
		wantOAuth(t, err, apierror.InvalidToken, 400)
		t.Logf("%s: revoked token refused by the peer %v after the revocation answered (%s)", pair.name, time.Since(start), rev)
		// Without the barrier too: the peer's watch applies the revocation within a second.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := pair.peer.srv.applied.Wait(ctx, n); err != nil {
			t.Fatalf("%s: the peer has not applied %s within a second", pair.name, rev)
		}
		cancel()
		_, err = pair.peer.check(tok)
		wantOAuth(t, err, apierror.InvalidToken, 400)
	}
	if revs, err := a.shared.Revocations(context.Background()); err != nil || len(revs) != 2 {
		t.Errorf("the store holds %d revocations (%v), want 2", len(revs), err)
	}
}

// TestBarrierWaitsForTheRevocation: a check that asks for a token revision the store has but this replica
// has not applied yet (its watch is held back) waits for it instead of answering from an older view.
func TestBarrierWaitsForTheRevocation(t *testing.T) {
	a := newEnvOn(t, memstore.New())
	held := &heldWatch{Store: a.shared, release: make(chan struct{})}
	b := a.replicaOn(held)
	tok := a.mustToken("svc", svcSecret, "")
	rev, n := answeredTokenRevision(t, a.revokeAnswering(tok)) // committed; b's watch does not deliver it yet
	if b.srv.applied.Get() >= n {
		t.Fatalf("b applied %d before its watch was released", b.srv.applied.Get())
	}
	type result struct {
		err     error
		applied int64
	}
	done := make(chan result, 1)
	go func() {
		_, err := b.simple.CheckToken(atRevisions(context.Background(), rev), &tokenv1.CheckTokenRequest{Token: tok})
		done <- result{err, b.srv.applied.Get()}
	}()
	// The check either answers (from the old view: the barrier did not wait) or takes a barrier slot.
	for waiting := false; !waiting; {
		select {
		case r := <-done:
			t.Fatalf("the check answered (%v) with revision %d applied while the watch was held, before the %d it asked for", r.err, r.applied, n)
		default:
			waiting = len(b.srv.barrierWaits) == 1
			runtime.Gosched()
		}
	}
	close(held.release)
	r := <-done
	if r.applied < n {
		t.Fatalf("the check answered with revision %d applied, before the %d it asked for", r.applied, n)
	}
	wantOAuth(t, r.err, apierror.InvalidToken, 400)
}

// heldWatch is a store whose Watch delivers nothing until release is closed: a replica whose watch lags.
type heldWatch struct {
	token.Store
	release chan struct{}
}

func (h *heldWatch) Watch(ctx context.Context, from int64, fn func(changelog.Batch[token.Change]) error) error {
	return h.Store.Watch(ctx, from, func(b changelog.Batch[token.Change]) error {
		select {
		case <-h.release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return fn(b)
	})
}

// TestBarrierWaitsForTheRegistry: a token request that asks for a registry revision the client view has not
// applied yet (the registry is unreachable meanwhile) waits for it, then succeeds with the client it created.
func TestBarrierWaitsForTheRegistry(t *testing.T) {
	e := newEnv(t)
	e.reg.breakStreams(true)
	e.reg.putQuiet(e.reg.record("late", "default", allGrants, nil, 0, secretSpec{id: "l", value: "pw-late"}))
	rev := "registry:" + strconv.FormatInt(e.reg.revision(), 10)
	if _, err := e.token("late", "pw-late", ""); err == nil {
		t.Fatal("the client is known before the registry told")
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.oauth.Token(atRevisions(context.Background(), rev),
			&tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("late", "pw-late")})
		done <- err
	}()
	e.reg.allow()
	if err := <-done; err != nil {
		t.Fatalf("token with %s: %v", rev, err)
	}
}

// TestBarrierRefusals: a malformed value is INVALID_ARGUMENT naming the header; a revision that does not
// arrive is UNAVAILABLE naming it, answered before the request's deadline; other services' revisions are
// ignored.
func TestBarrierRefusals(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "")
	check := func(ctx context.Context, values ...string) error {
		_, err := e.simple.CheckToken(atRevisions(ctx, values...), &tokenv1.CheckTokenRequest{Token: tok})
		return err
	}
	for _, bad := range []string{"token", "token:x", "token:-1", "registry:1;token:2", "token:99999999999999999999"} {
		err := check(context.Background(), bad)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), revisionField) {
			t.Errorf("%q: %v, want INVALID_ARGUMENT naming %s", bad, err, revisionField)
		}
	}
	if err := check(context.Background(), "provider:99999", " ", "token:0"); err != nil {
		t.Errorf("other services and applied revisions: %v", err)
	}
	// A token revision beyond the store's history was never produced: refused at once (TestBarrierIsBounded).
	if err := check(context.Background(), "token:99999"); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "never produced") {
		t.Errorf("token:99999: %v, want INVALID_ARGUMENT saying it was never produced", err)
	}
	for _, future := range []string{"registry:99999"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		err := check(ctx, future)
		cancel()
		service, n, _ := strings.Cut(future, ":")
		if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), service+" revision "+n) {
			t.Errorf("%s: %v, want UNAVAILABLE naming it", future, err)
		}
		if waited := time.Since(start); waited > 3*time.Second {
			t.Errorf("%s: waited %v past a 1 s deadline", future, waited)
		}
	}
}

// TestReplicasRotateKeysTogether: a rotation at one replica is published before it signs, so tokens either
// replica signs verify at both at every moment; the other replica makes no second rotation.
func TestReplicasRotateKeysTogether(t *testing.T) {
	st := memstore.New()
	a := newEnvOn(t, st)
	b := a.replica()
	a.reg.put(a.reg.record("yearly", "default", allGrants, []string{"read"}, 1<<31-1, secretSpec{id: "y", value: "pw-yearly"}))
	a.awaitRegistry()
	b.awaitRegistry()
	old := a.mustToken("yearly", "pw-yearly", "")
	kid0 := kidOf(t, a, old)
	if kidOf(t, b, b.mustToken("svc", svcSecret, "")) != kid0 {
		t.Fatal("the replicas sign with different keys")
	}

	a.clock.Advance(DefaultKeyRotation + time.Hour) // one clock for both
	var wg sync.WaitGroup
	for _, e := range []*env{a, b} { // both find the rotation due at once: one rotates
		wg.Go(func() {
			if err := e.srv.maintain(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, err := st.Keys(context.Background())
	if err != nil || len(keys) != 2 {
		t.Fatalf("after two replicas rotated at once: %d keys (%v), want 2", len(keys), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, e := range []*env{a, b} {
		if err := e.srv.applied.Wait(ctx, st.Revision()); err != nil {
			t.Fatal("a replica has not loaded the new key set within a second")
		}
		// Published, not yet signing: every replica still signs with the old key.
		if kid := kidOf(t, e, e.mustToken("svc", svcSecret, "")); kid != kid0 {
			t.Fatalf("signed with %s during the publish delay", kid)
		}
		if jwks, _ := e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{}); len(jwks.GetKeys()) != 2 {
			t.Fatalf("JWKS during the publish delay: %d keys", len(jwks.GetKeys()))
		}
	}

	a.clock.Advance(DefaultKeyPublishDelay)
	ta, tb := a.mustToken("svc", svcSecret, ""), b.mustToken("svc", svcSecret, "")
	if kidOf(t, a, ta) == kid0 || kidOf(t, a, ta) != kidOf(t, b, tb) {
		t.Fatal("after the publish delay the replicas do not both sign with the new key")
	}
	for _, pair := range []struct {
		tok string
		at  *env
	}{{ta, b}, {tb, a}, {old, a}, {old, b}} {
		if _, err := pair.at.check(pair.tok); err != nil {
			t.Fatalf("a token does not verify at the other replica: %v", err)
		}
	}
}

// TestReplicasStartingTogetherCreateOneKey: servers starting at once on an empty store, all of which read it
// empty, create exactly one signing key and all sign with it.
func TestReplicasStartingTogetherCreateOneKey(t *testing.T) {
	e := newEnv(t) // for its registry and keyring only
	reg := registryv1.NewRegistryInternalServiceClient(grpctest.Dial(t, e.regAddr, e.cred))
	for round := range 5 {
		const n = 4
		st := &gatedKeys{Store: memstore.New(), n: n, all: make(chan struct{})}
		servers := make([]*Server, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				s, err := New(Deps{Store: st, Keyring: e.kr, Registry: reg, Issuer: testIssuer, Now: e.clock.Now})
				if err != nil {
					t.Error(err)
					return
				}
				servers[i] = s
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		keys, err := st.Keys(context.Background())
		if err != nil || len(keys) != 1 {
			t.Fatalf("round %d: %d keys (%v) after %d servers started at once, want 1", round, len(keys), err, n)
		}
		for _, s := range servers {
			if kid := s.keys.signer().KeyID(); kid != keys[0].ID {
				t.Fatalf("round %d: a server signs with %s, the store holds %s", round, kid, keys[0].ID)
			}
		}
	}
}

// gatedKeys holds the first n Keys reads until all n have been made, so that n starting servers all find
// the store empty before any of them writes: the race the key update's compare-and-swap must settle.
type gatedKeys struct {
	token.Store
	n   int
	mu  sync.Mutex
	got int
	all chan struct{}
}

func (g *gatedKeys) Keys(ctx context.Context) ([]token.SigningKey, error) {
	keys, err := g.Store.Keys(ctx)
	g.mu.Lock()
	g.got++
	if g.got == g.n {
		close(g.all)
	}
	wait := g.got <= g.n
	g.mu.Unlock()
	if wait {
		select {
		case <-g.all:
		case <-time.After(5 * time.Second):
		}
	}
	return keys, err
}

// stalledWatch is a store whose first Watch waits for release and then finds the history compacted up to
// the store's revision at that moment, as when a replica's watch falls too far behind: every watch from
// an earlier revision fails.
type stalledWatch struct {
	token.Store
	once      sync.Once
	stalled   chan struct{} // closed when the first Watch is waiting
	release   chan struct{}
	compacted atomic.Int64
}

func (s *stalledWatch) Watch(ctx context.Context, from int64, fn func(changelog.Batch[token.Change]) error) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.stalled)
		select {
		case <-s.release:
			s.compacted.Store(s.Store.Revision())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if from < s.compacted.Load() {
		return fmt.Errorf("watch from %d: %w", from, changelog.ErrCompacted)
	}
	return s.Store.Watch(ctx, from, fn)
}

// TestReplicaCatchesUpAfterCompaction: a replica whose watch lost the history it needs reads the
// revocations and keys again and follows the store from there: what was revoked meanwhile is refused.
func TestReplicaCatchesUpAfterCompaction(t *testing.T) {
	st := memstore.New()
	a := newEnvOn(t, st)
	stalled := &stalledWatch{Store: st, stalled: make(chan struct{}), release: make(chan struct{})}
	b := a.replicaOn(stalled)
	<-stalled.stalled
	tok := a.mustToken("svc", svcSecret, "")
	_, n := answeredTokenRevision(t, a.revokeAnswering(tok))
	if _, err := b.check(tok); err != nil {
		t.Fatalf("the stalled replica refused the token before it could know: %v", err)
	}
	close(stalled.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.srv.applied.Wait(ctx, n); err != nil {
		t.Fatalf("the replica did not catch up after the compaction (applied %d, want %d)", b.srv.applied.Get(), n)
	}
	_, err := b.check(tok)
	wantOAuth(t, err, apierror.InvalidToken, 400)
	// And it follows the store again.
	tok2 := a.mustToken("svc", svcSecret, "")
	rev, _ := answeredTokenRevision(t, a.revokeAnswering(tok2))
	_, err = b.simple.CheckToken(atRevisions(context.Background(), rev), &tokenv1.CheckTokenRequest{Token: tok2})
	wantOAuth(t, err, apierror.InvalidToken, 400)
}
