package gateway

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/i18n"
)

// templateKey finds the catalogue keys pages use: {{.L.T "key" …}} (also inside if/else and with spaces).
var templateKey = regexp.MustCompile(`\.L\.T\s+"([^"]+)"`)

// Every key a page template uses has an English text (and so, by the catalogue test, every language has it):
// a page can never show a raw key.
func TestTemplateKeysExist(t *testing.T) {
	names, err := fs.Glob(pageFiles, "pages/*.html")
	if err != nil || len(names) == 0 {
		t.Fatalf("pages: %v %v", names, err)
	}
	used := 0
	for _, name := range names {
		b, err := fs.ReadFile(pageFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKey.FindAllStringSubmatch(string(b), -1) {
			used++
			if !i18n.Has(m[1]) {
				t.Errorf("%s uses %q, which the English catalogue lacks", name, m[1])
			}
		}
	}
	if used < 20 {
		t.Fatalf("found only %d keys in the pages: the pattern no longer matches how templates call T", used)
	}
}

// The keys the gateway's Go code names (titles, messages, error codes) exist too.
func TestCodeKeysExist(t *testing.T) {
	for _, k := range []string{"login.title", "consent.title", "logout.title", "formpost.title", "message.title",
		"message.done", "message.signed_out", "message.signed_out.title", "message.not_signed_in", "message.not_signed_in.title",
		"message.still_signed_in", "message.still_signed_in.title", "error.signin_failed", "error.authorization_failed",
		"error.cannot_start", "error.sign_in_first", "error.code.other",
		"login.bad_credentials", "login.disabled", "login.throttled", "login.missing", "login.locked"} {
		if !i18n.Has(k) {
			t.Errorf("the English catalogue lacks %q", k)
		}
	}
}

func renderLogin(t *testing.T, accept string, pc *tokenv1.PageContext, p *tokenv1.LoginPage) string {
	t.Helper()
	g := &Gateway{}
	r := httptest.NewRequest(http.MethodGet, "/connect/authorize", nil)
	if accept != "" {
		r.Header.Set("Accept-Language", accept)
	}
	w := httptest.NewRecorder()
	g.step(w, r, &tokenv1.Step{Page: pc, Step: &tokenv1.Step_Login{Login: p}})
	if w.Code != http.StatusOK {
		t.Fatalf("login page: %d %s", w.Code, w.Body.String())
	}
	return w.Body.String()
}

// The login page speaks the language ui_locales, then Accept-Language, then the tenant's default choose,
// and shows the translation of the error code, falling back to the service's text.
func TestLoginPageLanguages(t *testing.T) {
	cases := []struct {
		accept string
		pc     *tokenv1.PageContext
		lang   string
		want   string
	}{
		{"", nil, "en", "User name or e-mail"},
		{"zh-TW,zh;q=0.9,en;q=0.5", nil, "zh-Hant", "使用者名稱或電子郵件"},
		{"zh-CN", nil, "zh-Hans", "用户名或电子邮箱"},
		{"zh-TW", &tokenv1.PageContext{UiLocales: []string{"zh-CN"}}, "zh-Hans", "密码"},
		{"", &tokenv1.PageContext{DefaultLocale: "zh-Hant"}, "zh-Hant", "密碼"},
		{"fr", &tokenv1.PageContext{DefaultLocale: "zh-Hans"}, "zh-Hans", "登录"},
	}
	for _, c := range cases {
		body := renderLogin(t, c.accept, c.pc, &tokenv1.LoginPage{InteractionId: "i1", ClientName: "Shop <b>"})
		if !strings.Contains(body, `<html lang="`+c.lang+`">`) || !strings.Contains(body, c.want) {
			t.Errorf("Accept-Language %q, %v: want lang %s and %q:\n%s", c.accept, c.pc, c.lang, c.want, body)
		}
		if strings.Contains(body, "Shop <b>") || !strings.Contains(body, "Shop &lt;b&gt;") {
			t.Errorf("the client name must be escaped:\n%s", body)
		}
	}
	body := renderLogin(t, "zh-TW", nil, &tokenv1.LoginPage{InteractionId: "i1", ErrorCode: "login.bad_credentials", Error: "bad"})
	if !strings.Contains(body, "使用者名稱或密碼不正確。") {
		t.Errorf("error code not translated:\n%s", body)
	}
	body = renderLogin(t, "zh-TW", nil, &tokenv1.LoginPage{InteractionId: "i1", ErrorCode: "login.unknown_code", Error: "Something <odd>"})
	if !strings.Contains(body, "Something &lt;odd&gt;") {
		t.Errorf("unknown error code must fall back to the text:\n%s", body)
	}
}

// The consent page describes known scopes in the page's language and shows unknown ones as given.
func TestConsentScopes(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/connect/consent", nil)
	r.Header.Set("Accept-Language", "zh-CN")
	w := httptest.NewRecorder()
	(&Gateway{}).step(w, r, &tokenv1.Step{Step: &tokenv1.Step_Consent{Consent: &tokenv1.ConsentPage{
		InteractionId: "i", ClientName: "Shop", UserName: "alice", Scopes: []string{"openid", "email", "orders:<read>"}}}})
	body := w.Body.String()
	for _, want := range []string{"确认您的身份", "您的电子邮箱地址", "orders:&lt;read&gt;", "Shop 请求获得 alice 的以下权限", `lang="zh-Hans"`} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, body)
		}
	}
}

// Branding reaches the page only in its safe forms: a raster data URI logo, a #rrggbb colour; the text on
// the colour is black or white by contrast.
func TestBranding(t *testing.T) {
	body := renderLogin(t, "", &tokenv1.PageContext{BrandName: "Acme", LogoDataUri: "data:image/png;base64,iVBORw0KGgo=", PrimaryColor: "#FFD700"},
		&tokenv1.LoginPage{InteractionId: "i"})
	for _, want := range []string{`<img src="data:image/png;base64,iVBORw0KGgo=" alt="Acme">`, "--primary:#ffd700", "--on-primary:#000000", "--link:" + linkFallback, "<title>Sign in · Acme</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("branded page lacks %q:\n%s", want, body)
		}
	}
	for _, pc := range []*tokenv1.PageContext{
		{LogoDataUri: "javascript:alert(1)", PrimaryColor: "red;}body{display:none"},
		{LogoDataUri: "data:image/svg+xml;base64,PHN2Zz4=", PrimaryColor: "#12345"},
		{LogoDataUri: "data:image/png;base64,AAAA\" onerror=\"x", PrimaryColor: "expression(1)"},
	} {
		body := renderLogin(t, "", pc, &tokenv1.LoginPage{InteractionId: "i"})
		if strings.Contains(body, "<img") || !strings.Contains(body, "--primary:"+defaultColor) {
			t.Errorf("unsafe branding %v reached the page:\n%s", pc, body)
		}
	}
	// The largest logo the registry accepts (48 KiB) still shows; an upper-case media type too.
	big := "data:IMAGE/PNG;base64," + strings.Repeat("A", 4*(48<<10)/3)
	if brandOf(&tokenv1.PageContext{LogoDataUri: big}).Logo == "" {
		t.Error("a 48 KiB logo was dropped")
	}
	if brandOf(&tokenv1.PageContext{LogoDataUri: big + strings.Repeat("A", maxLogoURI)}).Logo != "" {
		t.Error("an oversized logo reached the page")
	}
	dark := brandOf(&tokenv1.PageContext{PrimaryColor: "#003366"})
	if dark.OnColor != "#ffffff" || dark.Link != "#003366" {
		t.Errorf("dark brand colour: %+v", dark)
	}
}

func TestContrast(t *testing.T) {
	if c := contrast("#000000", "#ffffff"); c < 20.99 || c > 21.01 {
		t.Errorf("black on white = %v, want 21", c)
	}
	if c := contrast("#777777", "#ffffff"); c < 4.47 || c > 4.49 { // WCAG's well-known borderline grey
		t.Errorf("#777 on white = %v, want 4.48", c)
	}
	if c := contrast("#1a56db", "#1a56db"); c != 1 {
		t.Errorf("same colours = %v", c)
	}
}

// FuzzBrandOf: whatever the page context says, the colours written into the style sheet are #rrggbb, the
// logo is a base64 raster data URI or nothing, and the text on the primary colour contrasts at least as much
// as the other choice.
func FuzzBrandOf(f *testing.F) {
	f.Add("Acme", "data:image/png;base64,AAAA", "#ffd700")
	f.Add("", "javascript:alert(1)", "red")
	f.Add("<b>", "data:image/svg+xml;base64,AA", "#GGGGGG")
	f.Fuzz(func(t *testing.T, name, logo, color string) {
		b := brandOf(&tokenv1.PageContext{BrandName: name, LogoDataUri: logo, PrimaryColor: color})
		for _, c := range []string{string(b.Color), string(b.OnColor), string(b.Link)} {
			if !colorPattern.MatchString(c) {
				t.Fatalf("colour %q", c)
			}
		}
		if b.Logo != "" && (!logoPattern.MatchString(string(b.Logo)) || b.Logo != "" && string(b.Logo) != logo) {
			t.Fatalf("logo %q", b.Logo)
		}
		other := "#ffffff"
		if b.OnColor == "#ffffff" {
			other = "#000000"
		}
		if contrast(string(b.Color), string(b.OnColor)) < contrast(string(b.Color), other) {
			t.Fatalf("text %s on %s contrasts less than %s", b.OnColor, b.Color, other)
		}
		if b.Link != linkFallback && contrast(string(b.Link), "#ffffff") < 4.5 {
			t.Fatalf("link %s on white", b.Link)
		}
		if b.Name == "" || len([]rune(b.Name)) > maxBrandName {
			t.Fatalf("name %q", b.Name)
		}
	})
}

// The error page speaks the browser's language, explains the OAuth error code and shows the description as
// given; an unknown code gets the generic text.
func TestErrorPageLanguages(t *testing.T) {
	g := &Gateway{}
	r := httptest.NewRequest(http.MethodGet, "/connect/authorize", nil)
	r.Header.Set("Accept-Language", "zh-TW")
	w := httptest.NewRecorder()
	g.pageError(w, r, invalidRequest("redirect_uri is not registered"))
	body := w.Body.String()
	for _, want := range []string{`lang="zh-Hant"`, "登入失敗", "應用程式傳送的要求無效。", "redirect_uri is not registered", "invalid_request"} {
		if w.Code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%d: error page lacks %q:\n%s", w.Code, want, body)
		}
	}
	d := errorPageData("en", "Some title", "weird_code", "")
	if d["Friendly"] != "Something went wrong." || d["Title"] != "Some title" {
		t.Errorf("%v", d)
	}
}

// Signed-out pages say what happened in the browser's language.
func TestSignedOutMessages(t *testing.T) {
	for code, want := range map[string]string{"message.signed_out": "您已退出登录", "message.not_signed_in": "您尚未登录", "message.still_signed_in": "您仍处于登录状态", "no.such.key": "操作已完成"} {
		r := httptest.NewRequest(http.MethodGet, "/connect/endsession", nil)
		r.Header.Set("Accept-Language", "zh-Hans")
		w := httptest.NewRecorder()
		(&Gateway{}).showMessage(w, r, nil, http.StatusOK, code, map[string]string{"x": "y"})
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: lacks %q:\n%s", code, want, w.Body.String())
		}
	}
}

// The login page of an authorization request by GET links to the same request in each other language; a
// page answering a POST has no switcher.
func TestLanguageSwitcher(t *testing.T) {
	g := &Gateway{}
	r := httptest.NewRequest(http.MethodGet, "/connect/authorize?client_id=web&scope=openid&ui_locales=fr", nil)
	w := httptest.NewRecorder()
	g.step(w, r, &tokenv1.Step{Step: &tokenv1.Step_Login{Login: &tokenv1.LoginPage{InteractionId: "i"}}})
	body := w.Body.String()
	for _, want := range []string{
		`<span lang="en" aria-current="true">English</span>`,
		`<a href="/connect/authorize?client_id=web&amp;scope=openid&amp;ui_locales=zh-Hans" lang="zh-Hans" hreflang="zh-Hans">简体中文</a>`,
		`<a href="/connect/authorize?client_id=web&amp;scope=openid&amp;ui_locales=zh-Hant" lang="zh-Hant" hreflang="zh-Hant">繁體中文</a>`,
		`aria-label="Language"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("switcher lacks %q:\n%s", want, body)
		}
	}
	r = httptest.NewRequest(http.MethodPost, "/connect/login", nil)
	w = httptest.NewRecorder()
	g.step(w, r, &tokenv1.Step{Step: &tokenv1.Step_Login{Login: &tokenv1.LoginPage{InteractionId: "i"}}})
	if strings.Contains(w.Body.String(), `id="languages"`) {
		t.Errorf("a POSTed page has a switcher:\n%s", w.Body.String())
	}
}
