package server

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// TestEndSessionExpiredHint (RP-Initiated Logout 1.0 §2: "the OP SHOULD accept ID Tokens that have
// expired"): an ID token past its exp, presented without the browser's cookie, still ends the live session
// its sid names; presented again, it ends nothing and says so.
func TestEndSessionExpiredHint(t *testing.T) {
	e, az := signinEnv(t)
	ctx := context.Background()
	step := signInAlice(t, az)
	u, _ := url.Parse(step.GetRedirectUri())
	tok, err := e.srv.Token(ctx, &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: "web"}, GrantType: GrantAuthorizationCode,
		Code: u.Query().Get("code"), RedirectUri: webCallback, CodeVerifier: strings.Repeat("v", 43)})
	if err != nil || tok.GetIdToken() == "" {
		t.Fatalf("exchange: %v, %v", tok, err)
	}
	cookie := &tokenv1.Browser{SessionCookie: step.GetSetSessionCookie()}

	e.clock.Advance(IDTokenLifetime + 20*time.Minute) // the ID token expired; the session (1 h) did not
	hint := url.Values{"id_token_hint": {tok.GetIdToken()}}.Encode()
	r, err := az.EndSession(ctx, &tokenv1.EndSessionRequest{Parameters: hint, Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.9"}})
	if err != nil || !r.GetSessionEnded() || r.GetConfirmId() != "" {
		t.Fatalf("expired hint without cookie: %v, %v", r, err)
	}
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("prompt", "none"), Browser: cookie})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "error=login_required") {
		t.Fatalf("the browser's session survived: %v, %v", a, err)
	}
	r, err = az.EndSession(ctx, &tokenv1.EndSessionRequest{Parameters: hint})
	if err != nil || r.GetSessionEnded() {
		t.Fatalf("second logout with the same hint: %v, %v", r, err)
	}
}
