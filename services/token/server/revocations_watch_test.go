package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// revStream opens a revocation watch with the bearer token tok from rev.
func revStream(t *testing.T, e *env, tok string, rev int64) (tokenv1.RevocationService_WatchRevocationsClient, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if tok != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	st, err := tokenv1.NewRevocationServiceClient(e.publicConn).WatchRevocations(ctx, &tokenv1.WatchRevocationsRequest{FromRevision: rev})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return st, cancel
}

// recvUntilSynced reads responses up to and including synced.
func recvUntilSynced(t *testing.T, st tokenv1.RevocationService_WatchRevocationsClient) []*tokenv1.WatchRevocationsResponse {
	t.Helper()
	var got []*tokenv1.WatchRevocationsResponse
	for {
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("recv after %d responses: %v", len(got), err)
		}
		got = append(got, r)
		if r.GetSynced() {
			return got
		}
	}
}

// recvRevoked reads responses until a revocation arrives.
func recvRevoked(t *testing.T, st tokenv1.RevocationService_WatchRevocationsClient) *tokenv1.WatchRevocationsResponse {
	t.Helper()
	for {
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		if r.GetRevoked() != nil {
			return r
		}
	}
}

func TestWatchRevocationsRefusesCallersWithoutAValidToken(t *testing.T) {
	e := newEnv(t)
	for name, tok := range map[string]string{"none": "", "forged": "a.b.c"} {
		st, _ := revStream(t, e, tok, 0)
		if _, err := st.Recv(); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", name, err)
		}
	}
	revoked := e.mustToken("svc", svcSecret, "")
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: revoked}); err != nil {
		t.Fatal(err)
	}
	st, _ := revStream(t, e, revoked, 0)
	if _, err := st.Recv(); status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked token: %v, want UNAUTHENTICATED", err)
	}
	st, _ = revStream(t, e, e.mustToken("svc", svcSecret, ""), -1)
	if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("negative from_revision: %v, want INVALID_ARGUMENT", err)
	}
}

func TestWatchRevocationsFullStateThenLiveThenResume(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("gone", "t2", allGrants, []string{"read"}, 60, secretSpec{id: "g1", value: svcSecret}))
	e.awaitRegistry()
	watcher := e.mustToken("svc", svcSecret, "")
	before := e.mustToken("svc", svcSecret, "")
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: before}); err != nil {
		t.Fatal(err)
	}
	beforeJTI := claimsOf(t, e, before).ID

	st, _ := revStream(t, e, watcher, 0)
	full := recvUntilSynced(t, st)
	found := false
	for _, r := range full {
		if r.GetRevoked().GetJti() == beforeJTI {
			found = true
			if r.GetRevoked().GetExpireTime() != claimsOf(t, e, before).Expiry {
				t.Errorf("expire_time %d, want the token's exp", r.GetRevoked().GetExpireTime())
			}
		}
	}
	if !found {
		t.Fatalf("full state %v lacks the revoked jti", full)
	}
	synced := full[len(full)-1]

	after := e.mustToken("svc", svcSecret, "")
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: after}); err != nil {
		t.Fatal(err)
	}
	live := recvRevoked(t, st)
	if live.GetRevoked().GetJti() != claimsOf(t, e, after).ID || live.GetRevision() <= synced.GetRevision() {
		t.Fatalf("live event %v (synced at %d)", live, synced.GetRevision())
	}

	// A deleted client: its tokens end, for the system tenant's watcher that sees every tenant.
	e.reg.del("gone", false)
	e.awaitRegistry()
	cut := recvRevoked(t, st)
	if r := cut.GetRevoked(); r.GetClientId() != "gone" || r.GetTenantId() != "t2" || r.GetIssuedBefore() != e.clock.Now().Unix() ||
		r.GetExpireTime() < e.clock.Now().Add(time.Hour).Unix() {
		t.Fatalf("client cutoff %v", r)
	}

	// Resuming from the live event's revision: no jti from before it, the cutoffs again, synced.
	st2, _ := revStream(t, e, watcher, live.GetRevision())
	for _, r := range recvUntilSynced(t, st2) {
		if j := r.GetRevoked().GetJti(); j == beforeJTI || j == claimsOf(t, e, after).ID {
			t.Errorf("resumed stream resent %s", j)
		}
		if r.GetReset_() {
			t.Error("resumable revision answered with reset")
		}
	}

	// A revision the store never produced: reset first, then the full state.
	st3, _ := revStream(t, e, watcher, 1<<40)
	resp := recvUntilSynced(t, st3)
	if !resp[0].GetReset_() {
		t.Fatalf("first response %v, want reset", resp[0])
	}
}

func TestWatchRevocationsScopesCutoffsToTheCallersTenant(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("t1svc", "t1", allGrants, []string{"read"}, 3600, secretSpec{id: "a", value: svcSecret}))
	e.reg.put(e.reg.record("t1other", "t1", allGrants, []string{"read"}, 60, secretSpec{id: "b", value: svcSecret}))
	e.reg.put(e.reg.record("t2other", "t2", allGrants, []string{"read"}, 60, secretSpec{id: "c", value: svcSecret}))
	e.awaitRegistry()
	st, _ := revStream(t, e, e.mustToken("t1svc", svcSecret, ""), 0)
	recvUntilSynced(t, st)
	e.reg.del("t2other", false)
	e.reg.del("t1other", false)
	e.awaitRegistry()
	if r := recvRevoked(t, st).GetRevoked(); r.GetClientId() != "t1other" {
		t.Fatalf("tenant t1's watcher got %v first; want only its own tenant's cutoff", r)
	}
}

func TestWatchRevocationsEndsWhenTheWatchersTokenIsRevoked(t *testing.T) {
	e := newEnv(t)
	watcher := e.mustToken("svc", svcSecret, "")
	st, _ := revStream(t, e, watcher, 0)
	recvUntilSynced(t, st)
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: watcher}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := st.Recv()
		if err != nil {
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("%v, want UNAUTHENTICATED", err)
			}
			return
		}
	}
}

func TestRevocationWatchCutoffsAreBounded(t *testing.T) {
	h := newRevocationWatch()
	now := time.Now().Unix()
	batch := make([]*tokenv1.Revocation, maxCutoffs/2+1)
	for i := range batch {
		batch[i] = &tokenv1.Revocation{ClientId: "c", IssuedBefore: now, ExpireTime: now + 10}
	}
	h.add(now, batch...)
	if n := h.add(now, batch...); n != 2 || len(h.snapshot()) != maxCutoffs {
		t.Fatalf("dropped %d, kept %d", n, len(h.snapshot()))
	}
	h.add(now+11, &tokenv1.Revocation{ClientId: "d", ExpireTime: now + 100})
	if s := h.snapshot(); len(s) != 1 || s[0].GetClientId() != "d" {
		t.Fatalf("expired cutoffs kept: %d", len(s))
	}
}

// claimsOf verifies tok with e's keys.
func claimsOf(t *testing.T, e *env, tok string) *jwt.Claims {
	t.Helper()
	c, err := jwt.Verify(tok, e.srv.keys.lookup)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWatchRevocationsWantsATokenForTheIssuer: a token issued for an API resource only is the resource's,
// not a credential for authsuite's own APIs (RFC 8707 §2, RFC 9068 §4).
func TestWatchRevocationsWantsATokenForTheIssuer(t *testing.T) {
	e := exchangeEnv(t)
	resp, err := e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials,
		Client: creds("web", "pw-web"), Scope: "orders.read", Resource: []string{resA}})
	if err != nil {
		t.Fatal(err)
	}
	if aud := claimsOf(t, e, resp.GetAccessToken()).Audience; aud.Contains(testIssuer) {
		t.Fatalf("resource token's aud %v names the issuer", aud)
	}
	st, _ := revStream(t, e, resp.GetAccessToken(), 0)
	if _, err := st.Recv(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("resource-only token: %v, want UNAUTHENTICATED", err)
	}
}

// TestWatchRevocationsCutsOffADisabledUser: disabling a user sends a cutoff of the user's tokens, issued up
// to now, to the watchers of the user's tenant.
func TestWatchRevocationsCutsOffADisabledUser(t *testing.T) {
	e := exchangeEnv(t)
	st, _ := revStream(t, e, e.mustToken("svc", svcSecret, ""), 0) // the system tenant's watcher
	recvUntilSynced(t, st)
	e.reg.putAccount(&registryv1.UserRecord{TenantId: "t-acme", UserId: "u-alice", Incarnation: "inc-1", Disabled: true})
	e.awaitRegistry()
	r := recvRevoked(t, st).GetRevoked()
	if r.GetTenantId() != "t-acme" || r.GetSubject() != "u-alice" || r.GetIssuedBefore() != e.clock.Now().Unix() ||
		r.GetJti() != "" || r.GetClientId() != "" {
		t.Fatalf("cutoff %v", r)
	}
	// A watcher connecting later gets it in the full state.
	st2, _ := revStream(t, e, e.mustToken("svc", svcSecret, ""), 0)
	found := false
	for _, resp := range recvUntilSynced(t, st2) {
		found = found || resp.GetRevoked().GetSubject() == "u-alice"
	}
	if !found {
		t.Fatal("the cutoff is not in a later watcher's full state")
	}
}

func TestWatchRevocationsBounds(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "")
	// Every slot taken: one more watcher is refused.
	for range MaxRevocationWatchers {
		e.srv.revWatch.slots <- struct{}{}
	}
	st, _ := revStream(t, e, tok, 0)
	if _, err := st.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("watcher past the limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	for range MaxRevocationWatchers {
		<-e.srv.revWatch.slots
	}

	// A watcher whose queue is full is ended with UNAVAILABLE.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	w := &revWatcher{out: make(chan *tokenv1.WatchRevocationsResponse, 1), cancel: cancel}
	w.send(&tokenv1.WatchRevocationsResponse{})
	w.send(&tokenv1.WatchRevocationsResponse{})
	if status.Code(context.Cause(ctx)) != codes.Unavailable {
		t.Fatalf("overflowing watcher: cause %v, want UNAVAILABLE", context.Cause(ctx))
	}
}

// TestWatchRevocationsSendsAFullStateLargerThanTheQueue: the state before synced does not go through the
// bounded queue, so a revocation set larger than it still syncs.
func TestWatchRevocationsSendsAFullStateLargerThanTheQueue(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(time.Hour).Unix()
	for i := range revocationWatchBuffer + 100 {
		e.srv.revoked.add("bulk-"+strconv.Itoa(i), exp)
	}
	st, _ := revStream(t, e, e.mustToken("svc", svcSecret, ""), 0)
	n := 0
	for _, r := range recvUntilSynced(t, st) {
		if strings.HasPrefix(r.GetRevoked().GetJti(), "bulk-") {
			n++
		}
	}
	if n != revocationWatchBuffer+100 {
		t.Fatalf("full state carried %d of %d revocations", n, revocationWatchBuffer+100)
	}
}
