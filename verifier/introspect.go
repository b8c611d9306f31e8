package verifier

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// introspectTimeout bounds one introspection call.
const introspectTimeout = 5 * time.Second

// introspector asks the token service about every token (RFC 7662), with the audience the token must name.
type introspector struct {
	client tokenv1.OAuthServiceClient
	creds  *tokenv1.ClientCredentials
}

func newIntrospector(in *Introspection) *introspector {
	return &introspector{
		client: tokenv1.NewOAuthServiceClient(in.Conn),
		creds:  &tokenv1.ClientCredentials{ClientId: in.ClientID, ClientSecret: in.ClientSecret},
	}
}

func (i *introspector) introspect(ctx context.Context, raw, audience string) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, introspectTimeout)
	defer cancel()
	resp, err := i.client.Introspect(ctx, &tokenv1.IntrospectRequest{Client: i.creds, Token: raw, TokenTypeHint: "access_token", Audience: audience})
	if err != nil {
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
			return nil, fmt.Errorf("%w: introspection: %v", ErrNotReady, err)
		}
		// The service's own credentials were refused, or the call is malformed: nothing the caller can fix.
		return nil, fmt.Errorf("%w: introspection failed: %v", ErrNotReady, err)
	}
	// RFC 7662 §2.2: anything but active=true is an invalid token. The audience was checked by the server;
	// it is checked here again, with the token type.
	auds := resp.GetAudiences()
	if len(auds) == 0 && resp.Aud != nil {
		auds = []string{resp.GetAud()}
	}
	if !resp.GetActive() || resp.GetTokenType() != "Bearer" || !containsString(auds, audience) {
		return nil, fmt.Errorf("%w: not active", ErrInvalidToken)
	}
	t := &Token{
		Subject: resp.GetSub(), ClientID: resp.GetClientId(), Tenant: resp.GetTenant(), ID: resp.GetJti(),
		Audience: auds, Scopes: strings.Fields(resp.GetScope()),
		IssuedAt: time.Unix(resp.GetIat(), 0), Expiry: time.Unix(resp.GetExp(), 0),
		CertThumbprint: resp.GetCnf().GetX5TS256(),
	}
	next := &t.Actor
	a := resp.GetAct()
	for d := 0; a != nil && d < maxActorDepth; d++ {
		*next = &Actor{ClientID: a.GetClientId(), Subject: a.GetSub()}
		next = &(*next).Actor
		a = a.GetAct()
	}
	return t, nil
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
