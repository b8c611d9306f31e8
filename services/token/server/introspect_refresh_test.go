package server

import (
	"context"
	"testing"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// TestIntrospectRefreshToken (RFC 7662 §2.2, §4): a live refresh token is active to the client it was
// issued to, with either hint or none; to another client, after rotation, after revocation and after expiry
// it is inactive.
func TestIntrospectRefreshToken(t *testing.T) {
	e, rt0 := refreshEnv(t)
	other := e.reg.record("other", "t-acme", []string{GrantRefreshToken}, []string{"openid", "offline_access"}, 3600,
		secretSpec{id: "s", value: "pw-other"})
	other.Client.AllowOfflineAccess = true
	e.reg.put(other)
	e.awaitRegistry()
	intro := func(id, secret, tok, hint string) *tokenv1.IntrospectResponse {
		t.Helper()
		r, err := e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Client: creds(id, secret), Token: tok, TokenTypeHint: hint})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	wantInactive := func(what string, r *tokenv1.IntrospectResponse) {
		t.Helper()
		if r.GetActive() || r.ClientId != nil || r.Sub != nil || r.Exp != nil {
			t.Fatalf("%s: %v, want only active=false", what, r)
		}
	}

	// A token issued through the grant, so iat is kept.
	r1, err := e.refresh(rt0)
	if err != nil {
		t.Fatal(err)
	}
	rt1 := r1.GetRefreshToken()
	issuedAt := e.clock.Now().Unix()
	e.clock.Advance(time.Minute)
	for _, hint := range []string{"refresh_token", "access_token", "", "unknown_hint"} {
		r := intro("app", "pw-app", rt1, hint)
		if !r.GetActive() || r.GetClientId() != "app" || r.GetTokenType() != "refresh_token" || r.GetSub() != "u-alice" ||
			r.GetScope() != "openid offline_access" || r.GetIat() != issuedAt || r.GetExp() <= e.clock.Now().Unix() ||
			r.GetTenant() != "t-acme" || r.GetIss() != testIssuer {
			t.Fatalf("hint %q: %v", hint, r)
		}
	}
	// The access token is still answered as one, with either hint.
	for _, hint := range []string{"refresh_token", "access_token"} {
		if r := intro("app", "pw-app", r1.GetAccessToken(), hint); !r.GetActive() || r.GetTokenType() != "Bearer" {
			t.Fatalf("access token with hint %q: %v", hint, r)
		}
	}
	wantInactive("another client (RFC 7662 §4)", intro("other", "pw-other", rt1, "refresh_token"))
	wantInactive("system client, not the owner", intro("svc", svcSecret, rt1, "refresh_token"))
	wantInactive("rotated token", intro("app", "pw-app", rt0, "refresh_token"))
	wantInactive("unknown token", intro("app", "pw-app", newSecret(), "refresh_token"))

	if _, err := e.oauth.Revoke(context.Background(), &tokenv1.RevokeRequest{Client: creds("app", "pw-app"), Token: rt1, TokenTypeHint: "refresh_token"}); err != nil {
		t.Fatal(err)
	}
	wantInactive("revoked family", intro("app", "pw-app", rt1, "refresh_token"))
}

// TestIntrospectRefreshTokenExpiry: the stored family end is exp; at it the token is inactive.
func TestIntrospectRefreshTokenExpiry(t *testing.T) {
	e, rt := refreshEnv(t)
	writes := e.st.writes.Load()
	r, err := e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Client: creds("app", "pw-app"), Token: rt})
	if err != nil || !r.GetActive() || r.GetExp() != e.clock.Now().Add(time.Hour).Unix() || r.Iat != nil {
		t.Fatalf("%v %v (a token stored without an issue time has no iat)", r, err)
	}
	if w := e.st.writes.Load(); w != writes {
		t.Fatalf("introspection wrote to the store (%d writes)", w-writes)
	}
	e.clock.Advance(time.Hour)
	r, err = e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Client: creds("app", "pw-app"), Token: rt})
	if err != nil || r.GetActive() {
		t.Fatalf("expired refresh token: %v %v", r, err)
	}
}
