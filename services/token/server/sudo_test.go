package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/jwt"
)

func TestCheckTokenSudoMatrix(t *testing.T) {
	e := newEnv(t)
	e.reg.mu.Lock()
	e.reg.users = []*registryv1.User{
		{UserId: "u1", TenantId: "default", LoginName: "root", Email: "root@example.com", Mobile: "100"},
		{UserId: "u2", TenantId: "t-acme", LoginName: "alice", Email: "alice@acme.example", Mobile: "200"},
		{UserId: "u3", TenantId: "t-beta", LoginName: "bob"},
		{UserId: "u4", TenantId: "t-acme", LoginName: "mallory", Disabled: true},
	}
	e.reg.mu.Unlock()
	e.reg.put(e.reg.record("acme-svc", "t-acme", allGrants, []string{"sudo", "read"}, 0, secretSpec{id: "a", value: "pw-acme"}))
	e.awaitRegistry()

	sysSudo := e.mustToken("svc", svcSecret, "sudo")
	sysNoSudo := e.mustToken("svc", svcSecret, "read")
	acmeSudo := e.mustToken("acme-svc", "pw-acme", "sudo")

	type want struct {
		code     codes.Code
		oauth    string // OAuth error code, when the answer is one
		sub      string
		login    string
		tenant   string
		actor    string
		resolved bool // whether the registry was asked
	}
	cases := []struct {
		name                    string
		tok, sudo, tenID, tCode string
		want                    want
	}{
		{"uid in own tenant", sysSudo, "uid:u1", "", "", want{sub: "u1", login: "root", tenant: "default", actor: "svc", resolved: true}},
		{"loginName in another tenant by code", sysSudo, "loginName:alice", "", "acme", want{sub: "u2", login: "alice", tenant: "t-acme", actor: "svc", resolved: true}},
		{"email by tenant id", sysSudo, "email:alice@acme.example", "t-acme", "", want{sub: "u2", login: "alice", tenant: "t-acme", actor: "svc", resolved: true}},
		{"mobile", sysSudo, "mobile:100", "", "", want{sub: "u1", login: "root", tenant: "default", actor: "svc", resolved: true}},
		{"deprecated username", sysSudo, "username:root", "", "", want{sub: "u1", login: "root", tenant: "default", actor: "svc", resolved: true}},
		{"without scope sudo", sysNoSudo, "uid:u1", "", "", want{code: codes.PermissionDenied, oauth: "insufficient_scope"}},
		{"unknown user", sysSudo, "uid:nobody", "", "", want{code: codes.NotFound, resolved: true}},
		{"user of another tenant than named", sysSudo, "uid:u3", "t-acme", "", want{code: codes.NotFound, resolved: true}},
		{"disabled user", sysSudo, "loginName:mallory", "t-acme", "", want{code: codes.PermissionDenied, resolved: true}},
		{"bad selector", sysSudo, "nickname:x", "", "", want{code: codes.InvalidArgument}},
		{"empty selector value", sysSudo, "uid:", "", "", want{code: codes.InvalidArgument}},
		{"tenant client in own tenant (default)", acmeSudo, "loginName:alice", "", "", want{sub: "u2", login: "alice", tenant: "t-acme", actor: "acme-svc", resolved: true}},
		{"tenant client in own tenant by code", acmeSudo, "uid:u2", "", "acme", want{sub: "u2", login: "alice", tenant: "t-acme", actor: "acme-svc", resolved: true}},
		{"tenant client into another tenant by id", acmeSudo, "uid:u3", "t-beta", "", want{code: codes.PermissionDenied}},
		{"tenant client into another tenant by code", acmeSudo, "uid:u1", "", "default", want{code: codes.PermissionDenied}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.reg.mu.Lock()
			before := e.reg.resolves
			e.reg.mu.Unlock()
			r, err := e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: c.tok, Sudo: c.sudo, TenantId: c.tenID, TenantCode: c.tCode})
			e.reg.mu.Lock()
			asked := e.reg.resolves > before
			e.reg.mu.Unlock()
			if asked != c.want.resolved {
				t.Errorf("registry asked = %v, want %v", asked, c.want.resolved)
			}
			if c.want.code != codes.OK {
				if status.Code(err) != c.want.code {
					t.Fatalf("err = %v, want %v", err, c.want.code)
				}
				if c.want.oauth != "" {
					wantOAuth(t, err, c.want.oauth, 403)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.GetSub() != c.want.sub || r.GetLoginName() != c.want.login || r.GetTenant() != c.want.tenant ||
				r.GetAct().GetClientId() != c.want.actor || r.GetAct().GetSub() != c.want.actor ||
				r.GetAccessToken() != c.tok || r.GetTokenType() != "bearer" || r.GetScope() != "sudo" {
				t.Fatalf("answer %v", r)
			}
		})
	}

	// No tenant-code oracle: for a client of a non-system tenant an unknown tenant code answers exactly what a
	// foreign one does, so codes of other tenants cannot be probed.
	_, foreign := e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: acmeSudo, Sudo: "uid:u3", TenantCode: "beta"})
	_, unknown := e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: acmeSudo, Sudo: "uid:u3", TenantCode: "no-such-code"})
	if status.Code(foreign) != codes.PermissionDenied || status.Convert(foreign).Message() != status.Convert(unknown).Message() || status.Code(unknown) != status.Code(foreign) {
		t.Fatalf("foreign tenant code answers %v; unknown code answers %v", foreign, unknown)
	}

	// An invalid token is refused before sudo is looked at.
	_, err := e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: "bad", Sudo: "uid:u1"})
	wantOAuth(t, err, "invalid_token", 400)
	// Registry down: sudo fails as unavailable, never falls back to the caller.
	e.regStop()
	_, err = e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: sysSudo, Sudo: "uid:u1"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("registry down: %v", err)
	}
	if _, err := e.check(sysSudo); err != nil {
		t.Fatalf("plain check with registry down: %v", err)
	}
}

// TestCheckTokenSudoWithExchangedToken: a sudo check made with a token obtained by token exchange answers
// the whole delegation chain: the token's client acting, the parties that acted before it nested inside,
// built by the same code as an exchanged token's act.
func TestCheckTokenSudoWithExchangedToken(t *testing.T) {
	e := newEnv(t)
	e.reg.mu.Lock()
	e.reg.users = []*registryv1.User{
		{UserId: "u-admin", TenantId: "default", LoginName: "admin", Roles: []string{"tenant_admin"}},
		{UserId: "u2", TenantId: "t-acme", LoginName: "alice"},
	}
	e.reg.mu.Unlock()
	r := e.reg.record("gw", "default", []string{GrantTokenExchange}, []string{"sudo", "openid"}, 3600, secretSpec{id: "s", value: "pw-gw"})
	r.Client.ServesResources = []string{"https://gw.internal"}
	e.reg.put(r)
	e.awaitRegistry()
	now := e.clock.Now()
	// The admin's token for the gateway, issued to "svc" after "svc" had acted for "front".
	subject, err := e.srv.keys.signer().Sign(&jwt.Claims{
		Issuer: e.srv.issuer, Subject: "u-admin", Audience: jwt.Audience{"https://gw.internal", e.srv.issuer}, ClientID: "svc",
		Scope: "sudo openid", Tenant: "default", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), ID: newJTI(),
		AuthTime: now.Unix(), Act: &jwt.Actor{ClientID: "front", Subject: "front"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantTokenExchange, Client: creds("gw", "pw-gw"),
		SubjectToken: subject, SubjectTokenType: TokenTypeAccessToken, Scope: "sudo openid"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: resp.GetAccessToken(), Sudo: "uid:u2", TenantId: "t-acme"})
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	for a := got.GetAct(); a != nil; a = a.Act {
		chain = append(chain, a.GetClientId()+"/"+a.GetSub())
	}
	if got.GetSub() != "u2" || !slices.Equal(chain, []string{"gw/u-admin", "gw/gw", "front/front"}) {
		t.Fatalf("sub %q, act chain %v", got.GetSub(), chain)
	}
}
