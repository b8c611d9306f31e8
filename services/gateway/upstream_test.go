package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// upstreamAuthz is an AuthorizeService client that answers StartUpstream and UpstreamCallback only.
type upstreamAuthz struct {
	tokenv1.AuthorizeServiceClient
	starts    []*tokenv1.StartUpstreamRequest
	callbacks []*tokenv1.UpstreamCallbackRequest
	refuse    bool
}

func (a *upstreamAuthz) StartUpstream(_ context.Context, req *tokenv1.StartUpstreamRequest, _ ...grpc.CallOption) (*tokenv1.StartUpstreamResponse, error) {
	a.starts = append(a.starts, req)
	return &tokenv1.StartUpstreamResponse{BindingCookie: "binding-value",
		Step: &tokenv1.Step{Step: &tokenv1.Step_RedirectUri{RedirectUri: "https://idp.example/authorize?state=x"}}}, nil
}

func (a *upstreamAuthz) UpstreamCallback(_ context.Context, req *tokenv1.UpstreamCallbackRequest, _ ...grpc.CallOption) (*tokenv1.UpstreamCallbackResponse, error) {
	a.callbacks = append(a.callbacks, req)
	if a.refuse {
		return nil, apierror.FailedPrecondition("the sign-in with the provider has expired")
	}
	return &tokenv1.UpstreamCallbackResponse{Step: &tokenv1.Step{Step: &tokenv1.Step_RedirectUri{RedirectUri: "https://app.example/cb?code=c"},
		SetSessionCookie: "sess", SessionCookieMaxAge: 60}}, nil
}

// TestUpstreamGatewayCookie: the button's form must carry the login page's CSRF token; the binding cookie
// StartUpstream answers is set HttpOnly, SameSite=Lax, for 10 minutes, and under https Secure with the
// __Host- prefix (Path=/, no Domain); the callback sends it back with the query and clears it once the
// callback was accepted, but not after a refusal (which may be a forgery racing the real callback).
func TestUpstreamGatewayCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		g := &Gateway{log: slog.New(slog.DiscardHandler), csrfKey: []byte("0123456789abcdef0123456789abcdef"), secureCookies: secure}
		name := map[bool]string{false: UpstreamCookie, true: UpstreamCookieSecure}[secure]
		csrf := strings.Repeat("c", 43)
		form := url.Values{"interaction": {"s1.abc"}, "provider_id": {"up"}, "csrf_token": {g.csrfToken(csrf, "s1.abc")}}
		az := &upstreamAuthz{}
		bad := url.Values{"interaction": {"s1.abc"}, "provider_id": {"up"}, "csrf_token": {"forged"}}
		r := httptest.NewRequest(http.MethodPost, upstreamStartPath, strings.NewReader(bad.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: g.csrfCookieName(), Value: csrf})
		w := httptest.NewRecorder()
		g.upstreamStart(w, r, az)
		if w.Code != http.StatusForbidden || len(az.starts) != 0 {
			t.Fatalf("forged CSRF token: %d, %d starts", w.Code, len(az.starts))
		}
		r = httptest.NewRequest(http.MethodPost, upstreamStartPath, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: g.csrfCookieName(), Value: csrf})
		w = httptest.NewRecorder()
		g.upstreamStart(w, r, az)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://idp.example/authorize?state=x" ||
			len(az.starts) != 1 || az.starts[0].GetProviderId() != "up" || az.starts[0].GetInteractionId() != "s1.abc" {
			t.Fatalf("start: %d %v %v", w.Code, w.Header(), az.starts)
		}
		c := cookieNamed(w.Result(), name)
		if c == nil || c.Value != "binding-value" || !c.HttpOnly || c.Secure != secure || c.SameSite != http.SameSiteLaxMode ||
			c.Path != "/" || c.Domain != "" || c.MaxAge != 600 {
			t.Fatalf("binding cookie (https %v): %v", secure, w.Header().Values("Set-Cookie"))
		}

		callback := func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, upstreamCallbackPath+"?code=c&state=s", nil)
			r.AddCookie(&http.Cookie{Name: name, Value: "binding-value"})
			w := httptest.NewRecorder()
			g.upstreamCallback(w, r, az)
			return w
		}
		az.refuse = true
		w = callback()
		if w.Code < 400 || w.Header().Get("Location") != "" || cookieNamed(w.Result(), name) != nil {
			t.Fatalf("refused callback: %d %v", w.Code, w.Header())
		}
		az.refuse = false
		w = callback()
		last := az.callbacks[len(az.callbacks)-1]
		if w.Code != http.StatusFound || last.GetBindingCookie() != "binding-value" || last.GetParameters() != "code=c&state=s" {
			t.Fatalf("callback: %d %v", w.Code, last)
		}
		if c := cookieNamed(w.Result(), name); c == nil || c.MaxAge >= 0 {
			t.Fatalf("binding cookie not cleared: %v", w.Header().Values("Set-Cookie"))
		}
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
