package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/authsuite/authsuite/internal/i18n"
)

// The sign-in pages in a real Chromium, in each language: every page is opened the way a person reaches it
// (a relying party's authorization request, a wrong password, the consent, RP-initiated logout, a bad
// request), with the browser's Accept-Language set to the language's usual header, and the test checks
// that the page says <html lang> of that language and shows that language's text from the catalogues. With
// AUTHSUITE_SCREENSHOTS=1 it also writes each page, full length at 375 CSS pixels wide (a phone; the pages
// are one column, so a desktop picture only adds grey margins), to
// docs/screenshots/signin/<page>-<lang>.png, and TestSignInScreenshotIndex writes the index beside them.

// signinShotWidth is the width of the sign-in screenshots.
const signinShotWidth = 375

// browserLanguages are the languages a browser of each supported language prefers, in order; Chromium
// adds the q values to its Accept-Language header itself ("zh-TW,zh;q=0.9,en;q=0.8").
var browserLanguages = map[string]string{
	i18n.English:            "en-US,en",
	i18n.SimplifiedChinese:  "zh-CN,zh,en",
	i18n.TraditionalChinese: "zh-TW,zh,en",
}

// signinShooter is one Chromium speaking one language.
type signinShooter struct {
	*consoleBrowser
	lang string
	l    i18n.Localizer
}

// newSigninShooter starts a Chromium whose requests carry lang's Accept-Language, 375 px wide.
func newSigninShooter(t *testing.T, base, lang string) *signinShooter {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(signinShotWidth, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	// The first call starts the browser and must not carry a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	ua, err := chromedp.Run(bctx, chromedp.Evaluate[string]("navigator.userAgent"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: browserLanguages[lang]}); err != nil {
		t.Fatalf("set Accept-Language: %v", err)
	}
	b := &signinShooter{consoleBrowser: &consoleBrowser{t: t, ctx: bctx, base: base}, lang: lang, l: i18n.For(lang)}
	b.run("viewport", chromedp.EmulateViewport(signinShotWidth, 800))
	return b
}

// page checks that the page now shown is in the shooter's language and contains the text of key (with its
// arguments), then writes its screenshot as name when AUTHSUITE_SCREENSHOTS=1.
func (b *signinShooter) page(name, key string, args ...any) {
	b.t.Helper()
	b.expect(name, b.lang, b.l.T(key, args...))
	b.shot(name)
}

// expect checks the shown page's <html lang> and that its text contains want.
func (b *signinShooter) expect(name, lang, want string) {
	b.t.Helper()
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.documentElement.lang"))
	if err != nil || got != lang {
		b.t.Fatalf("%s: <html lang=%q> (%v), want %q", name, got, err, lang)
	}
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil || !strings.Contains(text, want) {
		b.t.Fatalf("%s (%s): the page does not show %q (%v):\n%s", name, lang, want, err, clipText(text, 800))
	}
}

// shot writes the page, full length, to docs/screenshots/signin/<name>-<lang>.png when AUTHSUITE_SCREENSHOTS=1,
// recompressed at the best PNG compression.
func (b *signinShooter) shot(name string) {
	b.t.Helper()
	if os.Getenv("AUTHSUITE_SCREENSHOTS") != "1" {
		return
	}
	dir := filepath.Join("..", "docs", "screenshots", "signin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	raw, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-"+b.lang+".png"), out.Bytes(), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestSignInPagesLanguages walks every sign-in page in Chromium in English, Simplified and Traditional
// Chinese (chosen by the browser's Accept-Language; ui_locales beats it), checks each page's language and
// text, and takes the screenshots.
func TestSignInPagesLanguages(t *testing.T) {
	f := newSigninFixture(t)
	base := f.s.base
	// acme sends mail (to a loopback address nothing listens on: no test here submits a mail form) and lets
	// people register, so its login page links to both; set before any of its pages is shown, since the
	// token service keeps a tenant's settings for a few seconds.
	expect(t, "acme settings", f.s.call("PUT", "/api/adminapi2/v1/tenants/"+f.tenantID, f.adminToken, map[string]any{
		"code": "acme", "name": "Acme", "selfRegistration": true,
		"smtp": map[string]any{"host": "127.0.0.1", "port": 2525, "security": "SECURITY_NONE", "from": "Acme <no-reply@acme.example>"},
	}), 200)
	// globex requires a second factor of everyone: carol, who has none, is asked to enrol one.
	globex := expect(t, "globex", f.s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{
		"code": "globex", "name": "Globex", "mfaPolicy": map[string]any{"requirement": "REQUIREMENT_ALL"},
	}), 201)["tenantId"].(string)
	expect(t, "carol", f.s.call("POST", "/api/adminapi2/v1/tenants/"+globex+"/users/", f.adminToken, map[string]any{
		"loginName": "carol", "displayName": "Carol", "password": alicePassword,
	}), 201)
	expect(t, "globex client", f.s.call("POST", "/api/adminapi2/v1/tenants/"+globex+"/clients/", f.adminToken, map[string]any{
		"clientId": "globex-spa", "clientName": "Globex Portal", "requireClientSecret": false,
		"allowedGrantTypes": []string{"authorization_code"}, "allowedScopes": []string{"openid"}, "redirectUris": []string{f.callback},
	}), 201)
	f.s.sync()
	for _, lang := range i18n.Locales {
		t.Run(lang, func(t *testing.T) {
			b := newSigninShooter(t, base, lang)
			_, ch := pkce()
			scopes := "openid profile email offline_access orders.read"

			b.open(strings.TrimPrefix(f.authorizeURL("web", scopes, "st", "n", ch), base))
			b.wait("#login")
			b.page("login", "login.to_continue", "client", "Web App")

			b.fill("#username", "alice")
			b.fill("#password", "not-the-password")
			b.submit("#submit", "#error")
			b.page("login-error", "login.bad_credentials")

			b.fill("#password", alicePassword)
			b.submit("#submit", "#consent")
			b.page("consent", "scope.offline_access")
			if !strings.Contains(b.text("#scopes"), "orders.read") {
				t.Fatalf("the consent page must show a scope without description as given: %q", b.text("#scopes"))
			}
			b.run("allow", chromedp.Click(css("#allow")))
			if loc, err := waitLocation(b.ctx, f.callback); err != nil {
				t.Fatalf("after consent: %v (at %s)", err, loc)
			}

			b.open("/account")
			b.wait("h1")
			b.page("account", "account.heading")

			b.open("/connect/endsession")
			b.wait("#logout")
			b.page("logout", "logout.question")
			b.submit("#no", "#message")
			b.page("still-signed-in", "message.still_signed_in")

			b.open("/connect/endsession")
			b.submit("#yes", "#message")
			b.page("signed-out", "message.signed_out")

			b.open("/connect/endsession")
			b.wait("#message")
			b.page("not-signed-in", "message.not_signed_in")

			b.open("/account")
			b.wait("h1")
			b.page("account-signin", "account.signin.heading")

			b.open("/account/forgot?tenant=" + f.tenantID)
			b.wait("h1")
			b.page("forgot", "forgot.title")

			b.open("/device")
			b.wait("h1")
			b.page("device", "device.heading")

			b.open(strings.TrimPrefix(f.authorizeURL("web", "openid", "st", "n", ch), base))
			b.submit("#register", "h1")
			b.page("register", "register.title")

			b.open(strings.TrimPrefix(f.authorizeURL("globex-spa", "openid", "st", "n", ch), base))
			b.fill("#username", "carol")
			b.fill("#password", alicePassword)
			b.submit("#submit", "#enroll")
			b.page("secondfactor-enroll", "secondfactor.enroll_title")

			b.open(strings.TrimPrefix(f.authorizeURL("no-such-client", "openid", "st", "n", ch), base))
			b.wait("#error")
			code := b.text("#code")
			key := "error.code." + code
			if !i18n.Has(key) {
				key = "error.code.other"
			}
			b.page("error", key)

			// ui_locales (OIDC Core §3.1.2.1) beats the browser's Accept-Language.
			other := i18n.SimplifiedChinese
			if lang == i18n.SimplifiedChinese {
				other = i18n.TraditionalChinese
			}
			b.open(strings.TrimPrefix(f.authorizeURL("web", "openid", "st", "n", ch, "ui_locales", "fr "+other), base))
			b.wait("#login")
			b.expect("login with ui_locales", other, i18n.For(other).T("login.heading"))

			// The page's language switcher repeats the request in the language chosen.
			b.submit(`#languages a[lang="`+lang+`"]`, "#login")
			b.expect("login after switching back", lang, b.l.T("login.heading"))
		})
	}
}

// signinShotFile is a sign-in screenshot's file name: <page>-<lang>.png.
var signinShotFile = regexp.MustCompile(`^([a-z0-9]+(?:-[a-z0-9]+)*)-(en|zh-Hans|zh-Hant)\.png$`)

// signinShotPages says what each sign-in screenshot shows; a name not here is shown by its name.
var signinShotPages = map[string]string{
	"login":               "Login page of a relying party's authorization request",
	"login-error":         "Login page after a wrong password",
	"login-branded":       "Login page of a tenant with its own name, logo and colour",
	"consent":             "Consent page: the scopes described, a scope without description as given",
	"logout":              "Logout confirmation (RP-initiated logout without id_token_hint)",
	"still-signed-in":     "After answering No to the logout confirmation",
	"signed-out":          "After signing out",
	"not-signed-in":       "Logout without a session",
	"account":             "Account page (/account) of a signed-in person",
	"account-signin":      "Account page without a session: the organisation, then the login page",
	"forgot":              "Forgot password: a reset link by mail",
	"device":              "Device login (RFC 8628): the user code",
	"register":            "Self-registration from the login page",
	"secondfactor-enroll": "Second factor required: enrol an authenticator app (QR code)",
	"error":               "Error page: the OAuth error explained, the description as the service gave it",
}

// signinShotIndex renders the index of the sign-in screenshots named in files (base names).
func signinShotIndex(files []string) []byte {
	langs := map[string][]string{}
	for _, f := range files {
		m := signinShotFile.FindStringSubmatch(f)
		if m == nil {
			continue
		}
		langs[m[1]] = append(langs[m[1]], m[2])
	}
	names := make([]string, 0, len(langs))
	for n := range langs {
		names = append(names, n)
		slices.SortFunc(langs[n], func(a, b string) int { return slices.Index(i18n.Locales, a) - slices.Index(i18n.Locales, b) })
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# Sign-in page screenshots\n\n")
	b.WriteString("Generated by `TestSignInScreenshotIndex` (e2e/signin_screenshots_test.go) from the files in this directory;\n")
	b.WriteString("do not edit. The sign-in tests write the pictures, full length at 375 CSS pixels wide, in English,\n")
	b.WriteString("简体中文 and 繁體中文 (the browser's Accept-Language picks the language):\n\n")
	b.WriteString("    AUTHSUITE_SCREENSHOTS=1 go test ./e2e -run 'TestSignInBranding|TestSignInPages|TestSignInScreenshotIndex' -count=1\n\n")
	b.WriteString("| Page | English | 简体中文 | 繁體中文 |\n|---|---|---|---|\n")
	for _, n := range names {
		d, ok := signinShotPages[n]
		if !ok {
			d = strings.ReplaceAll(n, "-", " ")
		}
		cells := make([]string, 0, 3)
		for _, l := range i18n.Locales {
			if slices.Contains(langs[n], l) {
				cells = append(cells, fmt.Sprintf("[%s](%s-%s.png)", l, n, l))
			} else {
				cells = append(cells, "—")
			}
		}
		fmt.Fprintf(&b, "| %s (`%s`) | %s |\n", d, n, strings.Join(cells, " | "))
	}
	return b.Bytes()
}

// TestSignInScreenshotIndex writes docs/screenshots/signin/README.md with AUTHSUITE_SCREENSHOTS=1, and
// otherwise fails when it does not match the screenshots present.
func TestSignInScreenshotIndex(t *testing.T) {
	dir := filepath.Join("..", "docs", "screenshots", "signin")
	paths, err := filepath.Glob(filepath.Join(dir, "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range paths {
		files = append(files, filepath.Base(p))
	}
	want := signinShotIndex(files)
	index := filepath.Join(dir, "README.md")
	if os.Getenv("AUTHSUITE_SCREENSHOTS") == "1" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(index, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(index)
	if err != nil && len(files) == 0 {
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not list the screenshots present: regenerate it with\n\tAUTHSUITE_SCREENSHOTS=1 go test ./e2e -run TestSignInScreenshotIndex -count=1", index)
	}
}

func TestSignInScreenshotIndexFormat(t *testing.T) {
	got := string(signinShotIndex([]string{"login-en.png", "login-zh-Hant.png", "new-page-zh-Hans.png", "README.md", "login-fr.png"}))
	for _, want := range []string{
		"| Login page of a relying party's authorization request (`login`) | [en](login-en.png) | — | [zh-Hant](login-zh-Hant.png) |",
		"| new page (`new-page`) | — | [zh-Hans](new-page-zh-Hans.png) | — |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("index lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "login-fr") {
		t.Errorf("index:\n%s", got)
	}
}
