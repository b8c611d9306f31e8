package server

import (
	"context"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
)

// refreshEnv is a token server with a confidential client "app" (refresh_token grant, offline access) and
// a refresh token of user u-alice stored for it.
func refreshEnv(t *testing.T) (e *env, rt string) {
	t.Helper()
	e = newEnv(t)
	r := e.reg.record("app", "t-acme", []string{GrantRefreshToken, GrantPassword}, []string{"openid", "offline_access"}, 3600,
		secretSpec{id: "s", value: "pw-app"})
	r.Client.AllowOfflineAccess, r.Client.AllowRopc = true, true
	e.reg.put(r)
	e.reg.mu.Lock()
	e.reg.users = append(e.reg.users, &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"})
	e.reg.mu.Unlock()
	e.awaitRegistry()
	rt = newSecret()
	if err := e.st.PutRefreshToken(context.Background(), token.RefreshToken{Hash: digest(rt), FamilyID: "fam", ClientID: "app",
		TenantID: "t-acme", UserID: "u-alice", Scopes: []string{"openid", "offline_access"}, AuthTime: e.clock.Now(),
		Expiry: e.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return e, rt
}

func (e *env) refresh(rt string) (*tokenv1.TokenResponse, error) {
	return e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantRefreshToken, Client: creds("app", "pw-app"), RefreshToken: rt})
}

// TestRefreshGraceWindowEnds (RFC 9700 §4.14.2): within RefreshGracePeriod the previous
// refresh token gets the same successor; at the window's end it is a reuse that revokes the family.
func TestRefreshGraceWindowEnds(t *testing.T) {
	e, rt0 := refreshEnv(t)
	r1, err := e.refresh(rt0)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(RefreshGracePeriod - time.Second)
	again, err := e.refresh(rt0)
	if err != nil || again.GetRefreshToken() != r1.GetRefreshToken() {
		t.Fatalf("retry inside the window: %v, same successor %t", err, err == nil && again.GetRefreshToken() == r1.GetRefreshToken())
	}
	e.clock.Advance(time.Second)
	_, err = e.refresh(rt0)
	wantOAuth(t, err, apierror.InvalidGrant, 400)
	_, err = e.refresh(r1.GetRefreshToken())
	wantOAuth(t, err, apierror.InvalidGrant, 400) // the family is revoked
}

// TestRefreshRetryNeedsTheSameClient: a retry inside the window is checked like a rotation: another client
// presenting the token gets invalid_grant and changes nothing.
func TestRefreshRetryNeedsTheSameClient(t *testing.T) {
	e, rt0 := refreshEnv(t)
	other := e.reg.record("other", "t-acme", []string{GrantRefreshToken, GrantPassword}, []string{"openid", "offline_access"}, 3600,
		secretSpec{id: "s", value: "pw-other"})
	other.Client.AllowOfflineAccess, other.Client.AllowRopc = true, true
	e.reg.put(other)
	e.awaitRegistry()
	r1, err := e.refresh(rt0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantRefreshToken, Client: creds("other", "pw-other"), RefreshToken: rt0})
	wantOAuth(t, err, apierror.InvalidGrant, 400)
	if again, err := e.refresh(rt0); err != nil || again.GetRefreshToken() != r1.GetRefreshToken() {
		t.Fatalf("the owner's retry after another client's attempt: %v", err)
	}
}

// TestRefreshRetryWithUnopenableSuccessor: when the kept successor cannot be unsealed (its key was dropped
// by a rekey inside the window), the retry is invalid_grant, and the successor itself keeps working: the
// family is not revoked.
func TestRefreshRetryWithUnopenableSuccessor(t *testing.T) {
	e, rt0 := refreshEnv(t)
	r1, err := e.refresh(rt0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old, err := e.st.RefreshToken(ctx, digest(rt0))
	if err != nil || old.SealedSuccessor == nil {
		t.Fatalf("rotated token: %+v, %v", old, err)
	}
	old.SealedSuccessor = []byte("sealed under a key that is gone")
	if err := e.st.PutRefreshToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	_, err = e.refresh(rt0)
	wantOAuth(t, err, apierror.InvalidGrant, 400)
	if _, err := e.refresh(r1.GetRefreshToken()); err != nil {
		t.Fatalf("the successor after a failed retry: %v", err)
	}
}
