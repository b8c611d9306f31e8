package server

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/etcdstore"
)

// TestEtcdReplicas runs two token servers on a real 3-member etcd cluster, each with its own client and
// store value, as two processes would: both start on the empty store at once and create one key; a
// revocation at either is refused at the other (at once with the barrier, and within a second without); a
// rotation at one is published to the other before either signs with it.
func TestEtcdReplicas(t *testing.T) {
	cluster := etcdtest.Start(t, 3)
	open := func(i int) token.Store {
		st, err := etcdstore.Open(context.Background(), cluster.ClientAt(t, i), "/authsuite-test/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(0), open(1)
	var a, b *env
	// a needs its fake registry first; b then starts on a's registry, racing a's key creation as closely
	// as the helpers allow (TestReplicasStartingTogetherCreateOneKey forces the race on memory).
	a = newEnvOn(t, stA)
	b = a.replicaOn(stB)
	if keys, err := stA.Keys(context.Background()); err != nil || len(keys) != 1 {
		t.Fatalf("%d keys (%v) after two replicas started, want 1", len(keys), err)
	}

	var latencies, fromCall []time.Duration
	for round := range 10 {
		revoker, peer := a, b
		if round%2 == 1 {
			revoker, peer = b, a
		}
		tok := revoker.mustToken("svc", svcSecret, "")
		if _, err := peer.check(tok); err != nil {
			t.Fatalf("round %d: the peer does not accept the token: %v", round, err)
		}
		calledAt := time.Now()
		md := revoker.revokeAnswering(tok)
		answeredAt := time.Now()
		rev, n := answeredTokenRevision(t, md)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := peer.srv.applied.Wait(ctx, n)
		cancel()
		if err != nil {
			t.Fatalf("round %d: the peer has not applied %s within a second (applied %d)", round, rev, peer.srv.applied.Get())
		}
		latencies = append(latencies, time.Since(answeredAt))
		fromCall = append(fromCall, time.Since(calledAt))
		_, err = peer.check(tok)
		wantOAuth(t, err, apierror.InvalidToken, 400)
		// With the barrier, a fresh revocation is refused by the peer in the very next call.
		tok2 := revoker.mustToken("svc", svcSecret, "")
		rev2, _ := answeredTokenRevision(t, revoker.revokeAnswering(tok2))
		_, err = peer.simple.CheckToken(atRevisions(context.Background(), rev2), &tokenv1.CheckTokenRequest{Token: tok2})
		wantOAuth(t, err, apierror.InvalidToken, 400)
	}
	t.Logf("revocation A→B on etcd, applied at the peer after the revocation answered (no barrier): %v", latencies)
	t.Logf("revocation A→B on etcd, applied at the peer after the revocation was sent: %v", fromCall)

	// Rotation, both replicas finding it due at once.
	kid0 := kidOf(t, a, a.mustToken("svc", svcSecret, ""))
	a.clock.Advance(DefaultKeyRotation + time.Hour)
	var wg sync.WaitGroup
	for _, e := range []*env{a, b} {
		wg.Go(func() {
			if err := e.srv.maintain(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, err := stA.Keys(context.Background())
	if err != nil || len(keys) != 2 {
		t.Fatalf("after two replicas rotated at once: %d keys (%v), want 2", len(keys), err)
	}
	// Each replica's own key update (or the loser's read) may have raised its store value's revision past
	// the winner's; wait for the newer of the two.
	want := max(stA.Revision(), stB.Revision())
	for _, e := range []*env{a, b} {
		rev := "token:" + strconv.FormatInt(want, 10)
		if kid := kidOf(t, e, e.mustToken("svc", svcSecret, "")); kid != kid0 {
			t.Fatalf("signed with %s during the publish delay", kid)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		jwks, err := e.oauth.GetJwks(atRevisions(ctx, rev), &tokenv1.GetJwksRequest{})
		cancel()
		if err != nil || len(jwks.GetKeys()) != 2 {
			t.Fatalf("JWKS with %s: %d keys (%v), want 2", rev, len(jwks.GetKeys()), err)
		}
	}
	a.clock.Advance(DefaultKeyPublishDelay)
	ta, tb := a.mustToken("svc", svcSecret, ""), b.mustToken("svc", svcSecret, "")
	if kidOf(t, a, ta) == kid0 || kidOf(t, a, ta) != kidOf(t, b, tb) {
		t.Fatal("after the publish delay the replicas do not both sign with the new key")
	}
	if _, err := b.check(ta); err != nil {
		t.Fatalf("A's token at B: %v", err)
	}
	if _, err := a.check(tb); err != nil {
		t.Fatalf("B's token at A: %v", err)
	}
}
