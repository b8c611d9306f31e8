package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

var (
	formPostInputRE  = regexp.MustCompile(`<input type="hidden" name="([^"<>]*)" value="([^"<>]*)">`)
	formPostScriptRE = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	formPostActionRE = regexp.MustCompile(`<form method="post" action="([^"<>]*)" id="formpost">`)
)

// checkFormPostPage is the oracle of the form_post page: exactly one form, POSTing to action; exactly the
// given parameters, in order, each round-tripping through HTML unescaping (NUL becomes U+FFFD, as every
// browser does); no other markup opened by a value; exactly one script, allowed by the CSP hash and no other
// script source; never cached.
func checkFormPostPage(t *testing.T, w *httptest.ResponseRecorder, action string, params [][2]string) {
	t.Helper()
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, body)
	}
	if m := formPostActionRE.FindAllStringSubmatch(body, -1); len(m) != 1 || html.UnescapeString(m[0][1]) != action {
		t.Fatalf("form action: %q, want %q", m, action)
	}
	inputs := formPostInputRE.FindAllStringSubmatch(body, -1)
	if len(inputs) != len(params) || strings.Count(body, "<input") != len(params) {
		t.Fatalf("%d hidden inputs (%d <input), want %d: %s", len(inputs), strings.Count(body, "<input"), len(params), body)
	}
	for i, p := range params {
		want := [2]string{strings.ReplaceAll(p[0], "\x00", "\uFFFD"), strings.ReplaceAll(p[1], "\x00", "\uFFFD")}
		if got := [2]string{html.UnescapeString(inputs[i][1]), html.UnescapeString(inputs[i][2])}; got != want {
			t.Fatalf("input %d = %q, want %q", i, got, want)
		}
	}
	if strings.Count(body, "<") != strings.Count(formPostPageSkeleton(t), "<")+len(params) {
		t.Fatalf("a value opened markup: %s", body)
	}
	scripts := formPostScriptRE.FindAllStringSubmatch(body, -1)
	if len(scripts) != 1 || strings.Count(body, "<script") != 1 {
		t.Fatalf("scripts: %q", scripts)
	}
	h := sha256.Sum256([]byte(scripts[0][1]))
	csp := w.Header().Get("Content-Security-Policy")
	scriptSrc := ""
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "script-src") {
			scriptSrc += d
		}
	}
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"; scriptSrc != want {
		t.Fatalf("CSP %q does not allow exactly the page's script %q (want %s)", csp, scripts[0][1], want)
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
}

// formPostPageSkeleton is the page rendered without parameters, to count the markup the template itself opens.
func formPostPageSkeleton(t *testing.T) string {
	t.Helper()
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	g.formPost(w, httptest.NewRequest(http.MethodGet, "/connect/authorize", nil), nil, &tokenv1.FormPost{Action: "https://rp.example/cb"})
	return w.Body.String()
}

func renderFormPost(action string, params [][2]string) *httptest.ResponseRecorder {
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	fp := &tokenv1.FormPost{Action: action}
	for _, p := range params {
		fp.Params = append(fp.Params, &tokenv1.FormParam{Name: p[0], Value: p[1]})
	}
	w := httptest.NewRecorder()
	pageHeaders(w.Header())
	g.formPost(w, httptest.NewRequest(http.MethodGet, "/connect/authorize", nil), nil, fp)
	return w
}

// TestFormPostPage: the page of OAuth 2.0 Form Post Response Mode carries the response parameters as hidden
// fields, escaped, sends them only to the redirect URI's origin, and runs only its own hashed script.
func TestFormPostPage(t *testing.T) {
	params := [][2]string{{"code", "abc-123"}, {"iss", "https://id.example"}, {"state", `"><script>alert(1)</script>&amp;`}}
	w := renderFormPost("https://rp.example:8443/cb?tenant=a&x=1", params)
	checkFormPostPage(t, w, "https://rp.example:8443/cb?tenant=a&x=1", params)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; form-action https://rp.example:8443") {
		t.Fatalf("CSP %q: no form-action for the redirect URI's origin", csp)
	}
	if !strings.Contains(w.Body.String(), "<noscript>") {
		t.Fatal("no button for browsers without scripts")
	}
	// Not a web address: refused, never rendered as a form.
	for _, action := range []string{"javascript:alert(1)", "com.example.app:/cb", "https://", "https://a b/"} {
		if w := renderFormPost(action, params); w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), "<form") {
			t.Errorf("action %q: %d %s", action, w.Code, w.Body.String())
		}
	}
}

// FuzzFormPostPage: any parameter names and values (valid UTF-8, as protobuf carries) round-trip exactly
// through the rendered page and never open markup or a script.
func FuzzFormPostPage(f *testing.F) {
	f.Add("code", "abc", "state", `x"y<z>&'`)
	f.Add("error_description", "a\x00b", "st</script><script>", "</form>")
	f.Add("", "", "{{.}}", "\u2028")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		for _, s := range []string{n1, v1, n2, v2} {
			if !utf8.ValidString(s) {
				return
			}
		}
		params := [][2]string{{n1, v1}, {n2, v2}}
		checkFormPostPage(t, renderFormPost("https://rp.example/cb", params), "https://rp.example/cb", params)
	})
}
