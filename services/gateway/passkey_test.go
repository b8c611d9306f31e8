package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

func passkeyGateway(t *testing.T) (*Gateway, *callRecorder) {
	t.Helper()
	rec := &callRecorder{err: status.Error(codes.Unauthenticated, "refused")}
	g, err := New(context.Background(), Backends{Registry: rec, Token: rec}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return g, rec
}

// TestStaticScript: the script is JavaScript, never sniffed, cached for a year only under its current
// version, revalidated by ETag; nothing else is served under /static/.
func TestStaticScript(t *testing.T) {
	g, _ := passkeyGateway(t)
	get := func(target string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w
	}
	w := get(webauthnScriptPath + "?v=" + webauthnVersion)
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || w.Header().Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(w.Header().Get("Cache-Control"), "immutable") || w.Body.String() != string(webauthnJS) {
		t.Fatalf("versioned script: %d %v", w.Code, w.Header())
	}
	if !strings.Contains(w.Body.String(), "navigator.credentials.get") {
		t.Fatal("the script does not run a ceremony")
	}
	etag := w.Header().Get("ETag")
	if w := get(webauthnScriptPath); w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("unversioned script: %d %v", w.Code, w.Header())
	}
	if w := get(webauthnScriptPath+"?v=old", "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("revalidation: %d", w.Code)
	}
	if w := get("/static/other.js"); w.Code == 200 {
		t.Errorf("/static/other.js: %d", w.Code)
	}
}

// TestLoginPagePasskey: with password-less options the login page has the passkey form (the options in a
// data attribute, escaped; the interaction's CSRF token) and the gateway's script, allowed by script-src
// 'self' and nothing else; without them it has neither script nor script-src.
func TestLoginPagePasskey(t *testing.T) {
	opts := `{"challenge":"abc","rpId":"localhost","userVerification":"required","x":"</script><b>"}`
	for _, lang := range []struct{ accept, button string }{{"en", "Sign in with a passkey"}, {"zh-CN", "使用通行密钥登录"}, {"zh-TW", "使用通行金鑰登入"}} {
		w := renderStep(t, lang.accept, &tokenv1.Step{Step: &tokenv1.Step_Login{Login: &tokenv1.LoginPage{InteractionId: "i-1", ClientName: "Shop", WebauthnOptions: opts}}})
		body, csp := w.Body.String(), w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'; script-src 'self';") || strings.Contains(csp, "unsafe-inline' 'self'") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q", lang.accept, csp)
		}
		for _, want := range []string{`action="/connect/login/passkey"`, `data-webauthn="get"`, `name="webauthn_assertion"`, `name="interaction" value="i-1"`,
			`<script src="/static/webauthn.js?v=` + webauthnVersion + `" defer></script>`, lang.button, `&lt;/script&gt;&lt;b&gt;`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: login page lacks %q", lang.accept, want)
			}
		}
		if regexp.MustCompile(`<script>|<script [^s]|</script><b>`).MatchString(body) {
			t.Errorf("%s: inline script or unescaped options:\n%s", lang.accept, body)
		}
	}
	w := renderStep(t, "en", &tokenv1.Step{Step: &tokenv1.Step_Login{Login: &tokenv1.LoginPage{InteractionId: "i-1", ClientName: "Shop"}}})
	if strings.Contains(w.Body.String(), "<script") || strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src") ||
		strings.Contains(w.Body.String(), "/connect/login/passkey") {
		t.Errorf("login page without passkeys has script:\n%s", w.Body.String())
	}
}

// TestPasskeyFormsNeedCSRF: the password-less form and the account's new-passkey form are refused (403)
// without a CSRF token bound to the browser, and the token service is not asked.
func TestPasskeyFormsNeedCSRF(t *testing.T) {
	g, rec := passkeyGateway(t)
	for _, path := range []string{"/connect/login/passkey", "/account/passkeys"} {
		form := url.Values{"interaction": {"i-1"}, "csrf_token": {"forged"}, "webauthn_assertion": {"{}"}, "webauthn_attestation": {"{}"}, "ceremony": {"c"}}
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: strings.Repeat("c", 43)})
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "s"})
		w := httptest.NewRecorder()
		rec.take()
		g.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || len(rec.take()) != 0 {
			t.Errorf("%s with a forged token: %d", path, w.Code)
		}
	}
}

// TestNewPasskeyPageWithoutSession: a browser without a session is sent to /account to sign in.
func TestNewPasskeyPageWithoutSession(t *testing.T) {
	g, _ := passkeyGateway(t)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/account/passkeys/new", nil))
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/account" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}
