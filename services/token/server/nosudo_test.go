package server

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
)

// TestRPCsRefuseSudo: the RPCs that can only act as the caller refuse a call asking for sudo, in text or
// binary metadata, with invalid_request and change nothing; without sudo they serve.
func TestRPCsRefuseSudo(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "")
	for _, key := range []string{access.MDSudo, access.MDSudo + access.BinarySuffix} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), key, "loginName:alice", access.MDSudoTenantCode, "acme")
		calls := map[string]func() error{
			"GetToken": func() error {
				_, err := e.simple.GetToken(ctx, &tokenv1.GetTokenRequest{GrantType: GrantClientCredentials, ClientId: "svc", ClientSecret: svcSecret})
				return err
			},
			"RevokeToken": func() error {
				_, err := e.simple.RevokeToken(ctx, &tokenv1.RevokeTokenRequest{Token: tok})
				return err
			},
			"Token": func() error {
				_, err := e.oauth.Token(ctx, &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret)})
				return err
			},
			"Introspect": func() error {
				_, err := e.oauth.Introspect(ctx, &tokenv1.IntrospectRequest{Client: creds("svc", svcSecret), Token: tok})
				return err
			},
			"Revoke": func() error {
				_, err := e.oauth.Revoke(ctx, &tokenv1.RevokeRequest{Client: creds("svc", svcSecret), Token: tok})
				return err
			},
		}
		for name, call := range calls {
			t.Run(key+"/"+name, func(t *testing.T) { wantOAuth(t, call(), apierror.InvalidRequest, 400) })
		}
	}
	if _, err := e.check(tok); err != nil {
		t.Fatalf("a refused revocation revoked the token: %v", err)
	}
	if _, err := e.simple.GetToken(context.Background(), &tokenv1.GetTokenRequest{GrantType: GrantClientCredentials, ClientId: "svc", ClientSecret: svcSecret}); err != nil {
		t.Fatalf("without sudo: %v", err)
	}
}
