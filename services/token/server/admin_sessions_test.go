package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/etcdstore"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// adminEnv is a token server whose registry has a system tenant administrator (root), an administrator of
// t-acme (alice), a user of t-acme without role (bob) and an administrator of t-beta (carol), each able to
// sign in through a public web client of their tenant that may ask for adminapi and offline access.
func adminEnv(t *testing.T, st ...token.Store) (*env, tokenv1.AuthorizeServiceClient) {
	t.Helper()
	mod := func(d *Deps) { d.SessionLifetime = time.Hour }
	var e *env
	if len(st) > 0 {
		e = newEnvOn(t, st[0], mod)
	} else {
		e = newEnv(t, mod)
	}
	for _, c := range []struct{ id, tenant string }{{"web-sys", access.SystemTenant}, {"web-acme", "t-acme"}, {"web-beta", "t-beta"}} {
		r := e.reg.record(c.id, c.tenant, []string{GrantAuthorizationCode, GrantRefreshToken}, []string{"openid", "adminapi", "offline_access"}, 600)
		r.Client.RedirectUris = []string{webCallback}
		r.Client.RequireClientSecret = new(false)
		r.Client.AllowOfflineAccess = true
		e.reg.put(r)
	}
	e.reg.mu.Lock()
	for _, u := range []struct {
		id, tenant, login string
		roles             []string
	}{
		{"u-root", access.SystemTenant, "root", []string{access.RoleTenantAdmin}},
		{"u-alice", "t-acme", "alice", []string{access.RoleTenantAdmin}},
		{"u-bob", "t-acme", "bob", nil},
		{"u-carol", "t-beta", "carol", []string{access.RoleTenantAdmin}},
	} {
		pw := "pw-" + u.login + "-123"
		e.reg.users = append(e.reg.users, &registryv1.User{UserId: u.id, TenantId: u.tenant, LoginName: u.login, Password: &pw, Roles: u.roles})
	}
	e.reg.mu.Unlock()
	e.awaitRegistry()
	return e, tokenv1.NewAuthorizeServiceClient(e.browserConn)
}

// signedIn is a user signed in through a web client: the SSO session's cookie and the tokens of the code.
type signedIn struct {
	cookie string
	tokens *tokenv1.TokenResponse
}

// signIn signs login in through client (a new SSO session) and redeems the code.
func signIn(t *testing.T, e *env, az tokenv1.AuthorizeServiceClient, client, login string) signedIn {
	t.Helper()
	ctx := context.Background()
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("client_id", client, "scope", "openid adminapi offline_access")})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v, %v", a, err)
	}
	l, err := az.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: login, Password: "pw-" + login + "-123"})
	if err != nil || l.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("login of %s: %v, %v", login, l, err)
	}
	u, _ := url.Parse(l.GetStep().GetRedirectUri())
	tok, err := e.srv.Token(ctx, &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: client}, GrantType: GrantAuthorizationCode,
		Code: u.Query().Get("code"), RedirectUri: webCallback, CodeVerifier: strings.Repeat("v", 43)})
	if err != nil || tok.GetRefreshToken() == "" {
		t.Fatalf("code of %s: %v, %v", login, tok, err)
	}
	return signedIn{cookie: l.GetStep().GetSetSessionCookie(), tokens: tok}
}

// bearerCtx is a context whose outgoing call carries tok as its bearer access token.
func bearerCtx(tok string) context.Context {
	if tok == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// TestAdminAuthorizationMatrix: the admin APIs of the token service decide by the suite's one rule, the
// signing keys for system administrators only, a tenant's sessions for its administrators and the system's.
func TestAdminAuthorizationMatrix(t *testing.T) {
	e, az := adminEnv(t)
	root := signIn(t, e, az, "web-sys", "root").tokens.GetAccessToken()
	alice := signIn(t, e, az, "web-acme", "alice").tokens.GetAccessToken()
	bob := signIn(t, e, az, "web-acme", "bob").tokens.GetAccessToken()
	carol := signIn(t, e, az, "web-beta", "carol").tokens.GetAccessToken()
	sysClient := e.mustToken("svc", svcSecret, "adminapi")
	plainClient := e.mustToken("svc", svcSecret, "read")
	keys := tokenv1.NewSigningKeyServiceClient(e.publicConn)
	sessions := tokenv1.NewSessionServiceClient(e.publicConn)
	cases := []struct {
		name             string
		tok              string
		keys, acme, beta codes.Code
	}{
		{"system administrator", root, codes.OK, codes.OK, codes.OK},
		{"system client with adminapi", sysClient, codes.OK, codes.OK, codes.OK},
		{"tenant administrator", alice, codes.PermissionDenied, codes.OK, codes.PermissionDenied},
		{"administrator of another tenant", carol, codes.PermissionDenied, codes.PermissionDenied, codes.OK},
		{"user without role", bob, codes.PermissionDenied, codes.PermissionDenied, codes.PermissionDenied},
		{"client token without adminapi", plainClient, codes.PermissionDenied, codes.PermissionDenied, codes.PermissionDenied},
		{"no token", "", codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated},
		{"forged token", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := bearerCtx(c.tok)
			if _, err := keys.ListSigningKeys(ctx, &tokenv1.ListSigningKeysRequest{}); status.Code(err) != c.keys {
				t.Errorf("ListSigningKeys: %v, want %v", err, c.keys)
			}
			// A refused rotation changes nothing: the current key is named, so a second allowed call
			// would not rotate again either.
			if c.keys != codes.OK {
				if _, err := keys.RotateSigningKey(ctx, &tokenv1.RotateSigningKeyRequest{}); status.Code(err) != c.keys {
					t.Errorf("RotateSigningKey: %v, want %v", err, c.keys)
				}
			}
			if _, err := sessions.ListSessions(ctx, &tokenv1.ListSessionsRequest{TenantId: "t-acme"}); status.Code(err) != c.acme {
				t.Errorf("ListSessions(t-acme): %v, want %v", err, c.acme)
			}
			if _, err := sessions.ListSessions(ctx, &tokenv1.ListSessionsRequest{TenantId: "t-beta"}); status.Code(err) != c.beta {
				t.Errorf("ListSessions(t-beta): %v, want %v", err, c.beta)
			}
			// Ending: refused callers are refused before the session is even looked up.
			want := c.acme
			if want == codes.OK {
				want = codes.NotFound
			}
			if _, err := sessions.EndSsoSession(ctx, &tokenv1.EndSsoSessionRequest{TenantId: "t-acme", Sid: "no-such-sid"}); status.Code(err) != want {
				t.Errorf("EndSession(t-acme, unknown): %v, want %v", err, want)
			}
		})
	}
	ks, err := e.st.Keys(context.Background())
	if err != nil || len(ks) != 1 {
		t.Fatalf("refused rotations changed the keys: %d keys, %v", len(ks), err)
	}
}

// TestAdminSessions: listing (whole tenant, one user, pages), then ending a session: its cookie no longer
// signs in, its refresh token is refused, its client gets a back-channel logout token, and the other
// sessions are untouched.
func TestAdminSessions(t *testing.T) {
	logouts := make(chan string, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		logouts <- r.PostForm.Get("logout_token")
	}))
	defer rp.Close()
	e, az := adminEnv(t)
	r := e.reg.record("web-acme", "t-acme", []string{GrantAuthorizationCode, GrantRefreshToken}, []string{"openid", "adminapi", "offline_access"}, 600)
	r.Client.RedirectUris, r.Client.RequireClientSecret, r.Client.AllowOfflineAccess = []string{webCallback}, new(false), true
	r.Client.BackChannelLogoutUri = rp.URL + "/logout"
	e.reg.put(r)
	e.awaitRegistry()

	alice := signIn(t, e, az, "web-acme", "alice")
	bob := signIn(t, e, az, "web-acme", "bob")
	bob2 := signIn(t, e, az, "web-acme", "bob")
	signIn(t, e, az, "web-beta", "carol")
	sessions := tokenv1.NewSessionServiceClient(e.publicConn)
	ctx := bearerCtx(alice.tokens.GetAccessToken())

	list, err := sessions.ListSessions(ctx, &tokenv1.ListSessionsRequest{TenantId: "t-acme"})
	if err != nil || len(list.GetItems()) != 3 || list.GetNextPageToken() != "" {
		t.Fatalf("ListSessions = %v, %v", list, err)
	}
	var users []string
	for _, it := range list.GetItems() {
		users = append(users, it.GetUserId())
		if it.GetSid() == "" || it.GetTenantId() != "t-acme" || !slices.Equal(it.GetClientIds(), []string{"web-acme"}) ||
			!it.GetExpireTime().AsTime().Equal(it.GetAuthTime().AsTime().Add(time.Hour)) {
			t.Errorf("listed session %v", it)
		}
		if it.GetSid() == alice.cookie || strings.Contains(it.String(), alice.cookie) {
			t.Error("a listed session carries a cookie")
		}
	}
	if !slices.Equal(users, []string{"u-alice", "u-bob", "u-bob"}) || list.GetItems()[0].GetLoginName() != "alice" {
		t.Fatalf("listed users %v", users)
	}
	// One user's, page by page.
	var bobs []string
	req := &tokenv1.ListSessionsRequest{TenantId: "t-acme", UserId: "u-bob", PageSize: 1}
	for {
		page, err := sessions.ListSessions(ctx, req)
		if err != nil || len(page.GetItems()) > 1 {
			t.Fatalf("page %v, %v", page, err)
		}
		for _, it := range page.GetItems() {
			bobs = append(bobs, it.GetSid())
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	if len(bobs) != 2 || bobs[0] == bobs[1] {
		t.Fatalf("bob's sessions %v", bobs)
	}
	for _, bad := range []*tokenv1.ListSessionsRequest{
		{TenantId: "t-acme", PageToken: "!!"},
		{TenantId: "t-acme", PageToken: base64.RawURLEncoding.EncodeToString([]byte("no separator"))},
		{TenantId: "t-acme", UserId: "u-alice", PageToken: req.GetPageToken()}, // bob's listing's token
		{TenantId: "t-acme", PageSize: -1},
		{TenantId: ""},
	} {
		if _, err := sessions.ListSessions(ctx, bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ListSessions(%v) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}

	// End bob's first session.
	bobSID := sidOf(t, bob.tokens.GetIdToken())
	if !slices.Contains(bobs, bobSID) {
		t.Fatalf("bob's ID token sid %q is not listed (%v)", bobSID, bobs)
	}
	// Not through another tenant's path, even by a system administrator.
	root := bearerCtx(e.mustToken("svc", svcSecret, "adminapi"))
	if _, err := sessions.EndSsoSession(root, &tokenv1.EndSsoSessionRequest{TenantId: "t-beta", Sid: bobSID}); status.Code(err) != codes.NotFound {
		t.Fatalf("ending t-acme's session through t-beta: %v", err)
	}
	ended, err := sessions.EndSsoSession(ctx, &tokenv1.EndSsoSessionRequest{TenantId: "t-acme", Sid: bobSID})
	if err != nil || ended.GetSession().GetUserId() != "u-bob" || ended.GetSession().GetSid() != bobSID {
		t.Fatalf("EndSession = %v, %v", ended, err)
	}
	select {
	case lt := <-logouts:
		if sidOf(t, lt) != bobSID {
			t.Errorf("the logout token names sid %q", sidOf(t, lt))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no back-channel logout token")
	}
	if _, err := sessions.EndSsoSession(ctx, &tokenv1.EndSsoSessionRequest{TenantId: "t-acme", Sid: bobSID}); status.Code(err) != codes.NotFound {
		t.Fatalf("ending it again: %v", err)
	}
	// The cookie signs nobody in.
	a, err := az.Authorize(context.Background(), &tokenv1.AuthorizeRequest{Parameters: authorizeParams("client_id", "web-acme", "prompt", "none"),
		Browser: &tokenv1.Browser{SessionCookie: bob.cookie}})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "error=login_required") {
		t.Fatalf("the ended session's cookie: %v, %v", a, err)
	}
	// Its refresh token is refused; the other sessions' are not.
	refresh := func(rt string) error {
		_, err := e.srv.Token(context.Background(), &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: "web-acme"},
			GrantType: GrantRefreshToken, RefreshToken: rt})
		return err
	}
	if err := refresh(bob.tokens.GetRefreshToken()); err == nil || !strings.Contains(err.Error(), "session was ended") {
		t.Errorf("the ended session's refresh token: %v", err)
	}
	if err := refresh(bob2.tokens.GetRefreshToken()); err != nil {
		t.Errorf("bob's other session's refresh token: %v", err)
	}
	if err := refresh(alice.tokens.GetRefreshToken()); err != nil {
		t.Errorf("alice's refresh token: %v", err)
	}
	// Listed no more; the others are.
	list, err = sessions.ListSessions(ctx, &tokenv1.ListSessionsRequest{TenantId: "t-acme"})
	if err != nil || len(list.GetItems()) != 2 || slices.ContainsFunc(list.GetItems(), func(s *tokenv1.SsoSession) bool { return s.GetSid() == bobSID }) {
		t.Fatalf("after the end: %v, %v", list, err)
	}
	// An expired session is neither listed nor ended.
	e.clock.Advance(time.Hour + time.Second)
	list, err = sessions.ListSessions(bearerCtx(e.mustToken("svc", svcSecret, "adminapi")), &tokenv1.ListSessionsRequest{TenantId: "t-acme"})
	if err != nil || len(list.GetItems()) != 0 {
		t.Fatalf("expired sessions listed: %v, %v", list, err)
	}
}

// sidOf reads the sid claim of a JWT (signature not checked: the tokens come from the server under test).
func sidOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.SID
}

// TestRotateSigningKey: a rotation on demand publishes the new key first (state next, the old key still
// signs), then the new key signs and the old one is retired, still in the JWKS and still verifying. Of
// concurrent calls on two replicas that name the current key, exactly one makes a key; all answer it.
func TestRotateSigningKey(t *testing.T) {
	st := memstore.New()
	e, _ := adminEnv(t, st)
	e2 := e.replica()
	ctx := bearerCtx(e.mustToken("svc", svcSecret, "adminapi"))
	before := e.mustToken("svc", svcSecret, "read")
	k1 := kidOf(t, e, before)
	list, err := tokenv1.NewSigningKeyServiceClient(e.publicConn).ListSigningKeys(ctx, &tokenv1.ListSigningKeysRequest{})
	if err != nil || len(list.GetItems()) != 1 || list.GetItems()[0].GetKid() != k1 || list.GetItems()[0].GetState() != keyCurrent ||
		list.GetItems()[0].GetRetireTime() != nil {
		t.Fatalf("ListSigningKeys = %v, %v", list, err)
	}

	var mu sync.Mutex
	var answers []*tokenv1.RotateSigningKeyResponse
	var wg sync.WaitGroup
	for i := range 8 {
		conn := e.publicConn
		if i%2 == 1 {
			conn = e2.publicConn
		}
		wg.Go(func() {
			r, err := tokenv1.NewSigningKeyServiceClient(conn).RotateSigningKey(ctx, &tokenv1.RotateSigningKeyRequest{CurrentKid: k1})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			answers = append(answers, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	rotated, k2 := 0, answers[0].GetKey().GetKid()
	for _, a := range answers {
		if a.GetRotated() {
			rotated++
		}
		if a.GetKey().GetKid() != k2 || a.GetKey().GetState() != keyNext {
			t.Errorf("answer %v, want the one new key %s, next", a.GetKey(), k2)
		}
	}
	if rotated != 1 || k2 == k1 {
		t.Fatalf("%d calls rotated (new key %s, old %s), want exactly one", rotated, k2, k1)
	}
	if ks, _ := st.Keys(context.Background()); len(ks) != 2 {
		t.Fatalf("%d stored keys, want 2", len(ks))
	}
	// During the publish delay the old key signs, and a call without current_kid makes no other key.
	if kid := kidOf(t, e, e.mustToken("svc", svcSecret, "read")); kid != k1 {
		t.Errorf("during the publish delay a token is signed with %s, want %s", kid, k1)
	}
	r, err := tokenv1.NewSigningKeyServiceClient(e.publicConn).RotateSigningKey(ctx, &tokenv1.RotateSigningKeyRequest{})
	if err != nil || r.GetRotated() || r.GetKey().GetKid() != k2 {
		t.Fatalf("rotation during the publish delay: %v, %v", r, err)
	}

	e.clock.Advance(DefaultKeyPublishDelay)
	after := e.mustToken("svc", svcSecret, "read")
	if kid := kidOf(t, e, after); kid != k2 {
		t.Errorf("after the publish delay a token is signed with %s, want %s", kid, k2)
	}
	list, err = tokenv1.NewSigningKeyServiceClient(e2.publicConn).ListSigningKeys(ctx, &tokenv1.ListSigningKeysRequest{})
	if err != nil || len(list.GetItems()) != 2 {
		t.Fatalf("ListSigningKeys = %v, %v", list, err)
	}
	cur, old := list.GetItems()[0], list.GetItems()[1]
	if cur.GetKid() != k2 || cur.GetState() != keyCurrent || old.GetKid() != k1 || old.GetState() != keyRetired ||
		!old.GetExpireTime().AsTime().Equal(old.GetRetireTime().AsTime().Add(RetiredKeyValidity)) {
		t.Errorf("keys after the rotation: %v", list.GetItems())
	}
	// The JWKS carries both; the token signed before still verifies, on either replica.
	jwks, err := e2.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{})
	if err != nil || len(jwks.GetKeys()) != 2 {
		t.Fatalf("JWKS: %v, %v", jwks, err)
	}
	for _, x := range []*env{e, e2} {
		for _, tok := range []string{before, after} {
			if c, err := x.check(tok); err != nil || c.GetAccessToken() != tok {
				t.Errorf("check of a token signed with %s: %v, %v", kidOf(t, e, tok), c, err)
			}
		}
	}
	// A stale current_kid rotates nothing.
	r, err = tokenv1.NewSigningKeyServiceClient(e.publicConn).RotateSigningKey(ctx, &tokenv1.RotateSigningKeyRequest{CurrentKid: k1})
	if err != nil || r.GetRotated() || r.GetKey().GetKid() != k2 {
		t.Fatalf("rotation naming the retired key: %v, %v", r, err)
	}
}

// FuzzSessionPageToken: the page token parser never panics, accepts only what a listing can produce, and
// gives back exactly the cursor a token was made from.
func FuzzSessionPageToken(f *testing.F) {
	for _, s := range []string{"", "!!", encodeSessionPageToken("u\x00sid"), encodeSessionPageToken("\x00s"), encodeSessionPageToken("u\x00"),
		encodeSessionPageToken("u\x00s\x00x"), encodeSessionPageToken("\xff\x00s"), strings.Repeat("A", 2000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		cur, err := decodeSessionPageToken(tok)
		if err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != "pageToken" {
				t.Fatalf("error %v does not name pageToken", err)
			}
			return
		}
		if tok == "" {
			if cur != "" {
				t.Fatalf("empty token gave cursor %q", cur)
			}
			return
		}
		user, sid, ok := strings.Cut(cur, "\x00")
		if !ok || sid == "" || strings.ContainsRune(sid, 0) || len(user) > maxSessionUserID || len(sid) > maxSessionSID || len(tok) > maxSessionPageToken {
			t.Fatalf("accepted %q as cursor %q", tok, cur)
		}
		if again, err := decodeSessionPageToken(encodeSessionPageToken(cur)); err != nil || again != cur {
			t.Fatalf("round trip of %q: %q, %v", cur, again, err)
		}
	})
}

// TestEtcdAdminReplicas: two token servers on a real etcd cluster, each with its own client, as two
// processes would be. A session signed in at one is listed and ended at the other, and its refresh token
// is then refused at the first; concurrent rotations at both, naming the current key, make one key.
func TestEtcdAdminReplicas(t *testing.T) {
	cluster := etcdtest.Start(t, 3)
	open := func(i int) token.Store {
		st, err := etcdstore.Open(context.Background(), cluster.ClientAt(t, i), "/authsuite-admin/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, az := adminEnv(t, open(0))
	b := a.replicaOn(open(1))
	alice := signIn(t, a, az, "web-acme", "alice")
	sid := sidOf(t, alice.tokens.GetIdToken())
	ctx := bearerCtx(alice.tokens.GetAccessToken())
	list, err := tokenv1.NewSessionServiceClient(b.publicConn).ListSessions(ctx, &tokenv1.ListSessionsRequest{TenantId: "t-acme"})
	if err != nil || len(list.GetItems()) != 1 || list.GetItems()[0].GetSid() != sid {
		t.Fatalf("the other replica lists %v, %v", list, err)
	}
	if _, err := tokenv1.NewSessionServiceClient(b.publicConn).EndSsoSession(ctx, &tokenv1.EndSsoSessionRequest{TenantId: "t-acme", Sid: sid}); err != nil {
		t.Fatal(err)
	}
	// a refuses the refresh token once it has applied b's revocation (the store's watch).
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.applied.Wait(wctx, b.st.Revision()); err != nil {
		t.Fatalf("a has not applied b's writes: %v", err)
	}
	_, err = a.srv.Token(context.Background(), &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: "web-acme"},
		GrantType: GrantRefreshToken, RefreshToken: alice.tokens.GetRefreshToken()})
	if err == nil || !strings.Contains(err.Error(), "session was ended") {
		t.Fatalf("the ended session's refresh token at the other replica: %v", err)
	}

	admin := bearerCtx(a.mustToken("svc", svcSecret, "adminapi"))
	ks, err := a.st.Keys(context.Background())
	if err != nil || len(ks) != 1 {
		t.Fatalf("keys %v, %v", ks, err)
	}
	var mu sync.Mutex
	kids, rotated := map[string]bool{}, 0
	var wg sync.WaitGroup
	for i := range 6 {
		x := []*env{a, b}[i%2]
		wg.Go(func() {
			r, err := tokenv1.NewSigningKeyServiceClient(x.publicConn).RotateSigningKey(admin, &tokenv1.RotateSigningKeyRequest{CurrentKid: ks[0].ID})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			kids[r.GetKey().GetKid()] = true
			if r.GetRotated() {
				rotated++
			}
		})
	}
	wg.Wait()
	if rotated != 1 || len(kids) != 1 || kids[ks[0].ID] {
		t.Fatalf("%d calls rotated, answering keys %v; want one new key", rotated, kids)
	}
	if ks, err := b.st.Keys(context.Background()); err != nil || len(ks) != 2 {
		t.Fatalf("%d stored keys, %v; want 2", len(ks), err)
	}
}
