package server_test

import (
	"context"
	"net/url"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/services/provider"
)

// fuzzFlows is one env with an OAuth 2.0 and an OAuth 1.0a flow of alice started in her browser.
type fuzzFlows struct {
	e                        *env
	odata, trello            string // connector ids
	state, oauthToken        string // what the providers would send back
	binding, trelloBinding   string // alice's browser's binding cookies
	fakeTokens, trelloTokens int    // provider token-endpoint calls so far
}

func newFuzzFlows(f *testing.F) *fuzzFlows {
	e := newEnv(f)
	e.mustLoad(f, e.odataConfig("OData"))
	e.mustLoad(f, e.trelloConfig("Trello", trelloSecret))
	ff := &fuzzFlows{e: e}
	id, to, binding := e.begin(f, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	tid, tto, tbinding := e.begin(f, "alice", `{"connectorType": "trello", "oauthProvider": "Trello"}`)
	u, _ := url.Parse(to)
	tu, _ := url.Parse(tto)
	ff.odata, ff.trello, ff.state, ff.oauthToken = id, tid, u.Query().Get("state"), tu.Query().Get("oauth_token")
	ff.binding, ff.trelloBinding = binding.Value, tbinding.Value
	ff.fakeTokens, ff.trelloTokens = ff.counts()
	return ff
}

func (ff *fuzzFlows) counts() (int, int) {
	ff.e.fake.mu.Lock()
	n := ff.e.fake.n
	ff.e.fake.mu.Unlock()
	_, _, _, access := ff.e.trello.counts()
	return n, access
}

// unchanged fails unless both connectors are still pending and no provider was asked for a token.
func (ff *fuzzFlows) unchanged(t *testing.T, what string) {
	t.Helper()
	for _, id := range []string{ff.odata, ff.trello} {
		c, err := ff.e.store.GetConnector(context.Background(), id)
		if err != nil || c.Status != provider.StatusPending || c.SealedGrant != nil {
			t.Fatalf("%s changed connector %s: %+v, %v", what, id, c.Status, err)
		}
	}
	if a, b := ff.counts(); a != ff.fakeTokens || b != ff.trelloTokens {
		t.Fatalf("%s reached a provider's token endpoint", what)
	}
}

// FuzzCompleteAuthorization: whatever the return query and the browser's cookies, a return that does not
// carry the binding cookie of the browser that started the flow is refused with INVALID_ARGUMENT or
// PERMISSION_DENIED (never an internal error), changes no connector and never reaches a provider — even
// with the real state or oauth_token, which the seeds give the fuzzer.
func FuzzCompleteAuthorization(f *testing.F) {
	ff := newFuzzFlows(f)
	f.Add(ff.state, "code-1", "", "", "", "", "")
	f.Add(ff.state, "code-1", "", "", "", ff.binding[:42]+"A", "sess-alice")
	f.Add("", "", "", ff.oauthToken, "ver-1", ff.trelloBinding[1:]+"_", "sess-bob")
	f.Add(ff.state, "", "access_denied", "", "", "", "sess-alice")
	f.Add(ff.oauthToken, "x", "", ff.state, "", ff.binding+" ", "")
	f.Fuzz(func(t *testing.T, state, code, errCode, oauthToken, verifier, binding, session string) {
		for _, s := range []string{state, code, errCode, oauthToken, verifier, binding, session} {
			if !utf8.ValidString(s) { // the gateway refuses such queries; protobuf strings cannot carry them
				return
			}
		}
		if binding == ff.binding || binding == ff.trelloBinding { // the real browser
			return
		}
		_, err := ff.e.conns.CompleteAuthorization(as(""), &providerv1.CompleteAuthorizationRequest{
			State: state, Code: code, Error: errCode, OauthToken: oauthToken, OauthVerifier: verifier,
			BindingCookie: binding, SecureBindingCookie: binding, SessionCookie: session,
		})
		if c := status.Code(err); c != codes.InvalidArgument && c != codes.PermissionDenied {
			t.Fatalf("CompleteAuthorization without the browser's binding cookie = %v", err)
		}
		ff.unchanged(t, "a foreign return")
	})
}

// FuzzStartAuthorization: the start step of alice's connector succeeds only with alice's SSO session; any
// other connector id, session or start token is refused with a 4xx-class status and stores nothing a
// return could use (the connectors stay pending, no provider token endpoint is called).
func FuzzStartAuthorization(f *testing.F) {
	ff := newFuzzFlows(f)
	f.Add(ff.odata, "", "sess-bob", "")
	f.Add(ff.odata, "", "sess-alice ", ff.binding)
	f.Add(ff.trello, "tok", "sess-carol-t2", "")
	f.Add("../"+ff.odata, "", "sess-alice", "")
	f.Fuzz(func(t *testing.T, id, startToken, session, binding string) {
		for _, s := range []string{id, startToken, session, binding} {
			if !utf8.ValidString(s) {
				return
			}
		}
		resp, err := ff.e.conns.StartAuthorization(as(""), &providerv1.StartAuthorizationRequest{
			ConnectorId: id, StartToken: startToken, SessionCookie: session, BindingCookie: binding, SecureBindingCookie: binding,
		})
		owner := (id == ff.odata || id == ff.trello) && session == "sess-alice"
		switch {
		case err == nil && !owner:
			t.Fatalf("StartAuthorization(%q, session %q) succeeded: %v", id, session, resp)
		case err == nil && resp.GetBindingCookie().GetValue() == "":
			t.Fatalf("StartAuthorization answered no binding cookie")
		case err != nil:
			switch status.Code(err) {
			case codes.InvalidArgument, codes.NotFound, codes.Unauthenticated, codes.PermissionDenied, codes.FailedPrecondition:
			default:
				t.Fatalf("StartAuthorization(%q) = %v", id, err)
			}
		}
		ff.unchanged(t, "a start")
	})
}
