package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/redirecturi"
	"github.com/authsuite/authsuite/services/token/clients"
)

// AuthenticateUser of the fake registry: users with a password in passwords.
func (f *fakeRegistry) AuthenticateUser(_ context.Context, req *registryv1.AuthenticateUserRequest) (*registryv1.AuthenticateUserResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.GetTenantId() == req.GetTenantId() && u.GetLoginName() == req.GetLogin() && u.GetPassword() == req.GetPassword() {
			if u.GetDisabled() {
				return nil, status.Error(codes.PermissionDenied, "disabled")
			}
			c := proto.Clone(u).(*registryv1.User)
			c.Password = nil
			return &registryv1.AuthenticateUserResponse{User: c}, nil
		}
	}
	return nil, status.Error(codes.Unauthenticated, "invalid user name or password")
}

const webCallback = "https://web.example/cb"

func signinEnv(t *testing.T) (*env, tokenv1.AuthorizeServiceClient) {
	e := newEnv(t, func(d *Deps) { d.SessionLifetime = time.Hour })
	r := e.reg.record("web", "t-acme", []string{GrantAuthorizationCode}, []string{"openid", "profile"}, 3600)
	r.Client.RedirectUris = []string{webCallback}
	r.Client.RequireClientSecret = new(false)
	e.reg.put(r)
	pw := "pw-alice-123"
	e.reg.mu.Lock()
	e.reg.users = append(e.reg.users, &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice", Password: &pw})
	e.reg.mu.Unlock()
	e.awaitRegistry()
	return e, tokenv1.NewAuthorizeServiceClient(e.browserConn)
}

func authorizeParams(extra ...string) string {
	h := sha256.Sum256([]byte(strings.Repeat("v", 43)))
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {webCallback}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(h[:])}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q.Encode()
}

// signInAlice starts a sign-in for the web client and logs alice in; it answers the login's step: the
// redirect to the client's callback with the code, and the new SSO session's cookie.
func signInAlice(t *testing.T, az tokenv1.AuthorizeServiceClient) *tokenv1.Step {
	t.Helper()
	ctx := context.Background()
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v, %v", a, err)
	}
	l, err := az.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: "pw-alice-123",
		Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.1"}})
	if err != nil || !strings.HasPrefix(l.GetStep().GetRedirectUri(), webCallback+"?") || l.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("login: %v, %v", l, err)
	}
	return l.GetStep()
}

// TestExpiredSession: an SSO session is honoured within its lifetime and not after: prompt=none then answers
// login_required, and a plain request shows the login page again.
func TestExpiredSession(t *testing.T) {
	e, az := signinEnv(t)
	ctx := context.Background()
	step := signInAlice(t, az)
	cookie := &tokenv1.Browser{SessionCookie: step.GetSetSessionCookie()}
	if step.GetSessionCookieMaxAge() != 3600 {
		t.Fatalf("cookie max age %d", step.GetSessionCookieMaxAge())
	}
	// Within the session: SSO, even with prompt=none.
	e.clock.Advance(59 * time.Minute)
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("prompt", "none"), Browser: cookie})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "code=") {
		t.Fatalf("within the session: %v, %v", a, err)
	}
	// After it: login_required, and the login page for a normal request.
	e.clock.Advance(2 * time.Minute)
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("prompt", "none"), Browser: cookie})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(a.GetStep().GetRedirectUri())
	if u.Query().Get("error") != "login_required" || u.Query().Get("state") != "s" {
		t.Fatalf("expired session, prompt=none: %q", a.GetStep().GetRedirectUri())
	}
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams(), Browser: cookie})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("expired session: %v, %v", a, err)
	}
	// An interaction (login page) older than its lifetime cannot be completed.
	e.clock.Advance(InteractionLifetime + time.Second)
	_, err = az.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: "pw-alice-123"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("stale login page: %v", err)
	}
	// The sweep removes what expired.
	if err := e.srv.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.st.SweepExpired(ctx, e.clock.Now()); n != 0 {
		t.Fatalf("%d records left for the second sweep", n)
	}
}

// FuzzParseAuthorizeRequest checks the authorization request parser on arbitrary input: it never panics;
// an error is either shown (no redirect URI) or carries a redirect URI registered for the client; a success
// has a registered redirect URI, only allowed scopes, valid PKCE unless the client may skip it, and sane
// prompt and max_age values. The response mode, of a success or a redirected error, is form_post only when
// the request asked for exactly that once and the redirect URI is a web address, and query ("") otherwise;
// a success asked for no mode, query, or form_post.
func FuzzParseAuthorizeRequest(f *testing.F) {
	for _, s := range []string{
		authorizeParams(), authorizeParams("prompt", "none login"), authorizeParams("max_age", "-5"),
		authorizeParams("code_challenge_method", "plain"), authorizeParams("scope", "openid offline_access"),
		authorizeParams("redirect_uri", "https://web.example/cb/../x"), authorizeParams("response_type", "token"),
		authorizeParams("request", "x"), "client_id=web&client_id=web", "%zz", "", "client_id=nobody",
		authorizeParams("redirect_uri", "https://web.example/cbx?a=1"),
		authorizeParams("response_mode", "form_post"), authorizeParams("response_mode", "fragment"),
		authorizeParams("response_mode", "form_post", "prompt", "bogus"), authorizeParams("response_mode", "query"),
		"client_id=loose&redirect_uri=https://web.example/cb&response_mode=form_post&response_mode=form_post&response_type=code&scope=openid",
		"client_id=native&redirect_uri=com.example.app:/cb&response_mode=form_post&response_type=code&scope=openid",
		"client_id=native&redirect_uri=com.example.app:/cb&response_mode=form_post&response_type=token&scope=openid",
	} {
		f.Add(s)
	}
	web := &clients.Client{ID: "web", TenantID: "t", GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"openid", "profile", "offline_access"},
		RedirectURIs: []string{webCallback}, AllowOfflineAccess: false}
	loose := &clients.Client{ID: "loose", TenantID: "t", GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"openid"},
		RedirectURIs: []string{"https://web.example/cb"}, RedirectURIPrefixMatching: true, AllowNoPKCE: true}
	native := &clients.Client{ID: "native", TenantID: "t", GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"openid"},
		RedirectURIs: []string{"com.example.app:/cb"}}
	lookup := func(id string) (*clients.Client, bool) {
		switch id {
		case "web":
			return web, true
		case "loose":
			return loose, true
		case "native":
			return native, true
		}
		return nil, false
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, aerr := parseAuthorizeRequest(raw, lookup)
		q, _ := url.ParseQuery(raw)
		checkMode := func(mode, redirect string) {
			t.Helper()
			asked := len(q["response_mode"]) == 1 && q.Get("response_mode") == responseModeFormPost
			u, err := url.Parse(redirect)
			web := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
			if mode != "" && (mode != responseModeFormPost || !asked || !web) {
				t.Fatalf("response mode %q for response_mode %q to %q", mode, q["response_mode"], redirect)
			}
			if aerr == nil && asked && web && mode != responseModeFormPost {
				t.Fatalf("form_post asked for and dropped: %q", mode)
			}
		}
		if aerr != nil {
			checkMode(aerr.ResponseMode, aerr.RedirectURI)
			if r != nil || aerr.Code == "" {
				t.Fatalf("error %+v with a result", aerr)
			}
			if aerr.RedirectURI != "" {
				q, _ := url.ParseQuery(raw)
				cl, ok := lookup(q.Get("client_id"))
				if !ok || !redirecturi.Match(cl.RedirectURIs, cl.RedirectURIPrefixMatching, aerr.RedirectURI) {
					t.Fatalf("error redirected to an unregistered URI %q", aerr.RedirectURI)
				}
			}
			return
		}
		checkMode(r.ResponseMode, r.RedirectURI)
		if rm := q.Get("response_mode"); rm != "" && rm != responseModeQuery && rm != responseModeFormPost {
			t.Fatalf("accepted response_mode %q", rm)
		}
		cl := r.Client
		if !redirecturi.Match(cl.RedirectURIs, cl.RedirectURIPrefixMatching, r.RedirectURI) {
			t.Fatalf("accepted redirect URI %q", r.RedirectURI)
		}
		if len(r.Scopes) == 0 {
			t.Fatal("accepted without scopes")
		}
		for _, sc := range r.Scopes {
			if !slices.Contains(cl.Scopes, sc) || (sc == ScopeOfflineAccess && !cl.AllowOfflineAccess) {
				t.Fatalf("accepted scope %q", sc)
			}
		}
		if (r.CodeChallenge == "" && !cl.AllowNoPKCE) || (r.CodeChallenge != "" && !validChallenge(r.CodeChallenge)) {
			t.Fatalf("accepted PKCE %q", r.CodeChallenge)
		}
		if r.MaxAge < -1 || (slices.Contains(r.Prompt, "none") && len(r.Prompt) > 1) || len(r.State) > maxStateLen || len(r.Nonce) > maxNonceLen {
			t.Fatalf("accepted %+v", r)
		}
	})
}
