package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin console's browser harness: a real authsuite (startSuite) and a real headless Chromium driven
// with chromedp. Page tests sign in through the console's own OpenID Connect sign-in, as a system
// administrator (the bootstrap user "admin") or as users they create through REST, then click, fill and
// wait on what the pages show. No sleeps: every step waits on a chromedp condition.
//
// Screenshots: with AUTHSUITE_SCREENSHOTS=1 the tests write full-page PNGs of the pages they visit at 375 and
// 1440 CSS pixels wide to docs/screenshots/console-<name>-<width>.png (otherwise screenshot does nothing).

// consoleAdminPassword is the bootstrap user admin's password (startSuite's AUTHSUITE_BOOTSTRAP_PASSWORD).
const consoleAdminPassword = "admin-password-1"

// consoleFixture is a running suite with an admin API token of the bootstrap client.
type consoleFixture struct {
	t          testing.TB
	s          *suite
	adminToken string
}

func newConsoleFixture(t testing.TB) *consoleFixture {
	t.Helper()
	s := startSuite(t)
	return &consoleFixture{t: t, s: s, adminToken: clientToken(t, s, "admin", bootstrapSecret, "adminapi sudo")}
}

// tenant creates a tenant through REST and returns its id.
func (f *consoleFixture) tenant(code, name string) string {
	f.t.Helper()
	return expect(f.t, "tenant "+code, f.s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{"code": code, "name": name}), 201)["tenantId"].(string)
}

// user creates a user with roles in tenantID through REST and returns its id.
func (f *consoleFixture) user(tenantID, login, password string, roles ...string) string {
	f.t.Helper()
	if roles == nil {
		roles = []string{}
	}
	body := map[string]any{"loginName": login, "password": password, "roles": roles}
	id := expect(f.t, "user "+login, f.s.call("POST", "/api/adminapi2/v1/tenants/"+tenantID+"/users/", f.adminToken, body), 201)["userId"].(string)
	f.s.sync() // the browser sends no revision: let the token service learn the user first
	return id
}

// consoleBrowser is one headless Chromium with its own profile (cookies).
type consoleBrowser struct {
	t    testing.TB
	ctx  context.Context
	base string
}

// browser starts a Chromium for the fixture's suite, 1440 px wide.
func (f *consoleFixture) browser() *consoleBrowser {
	t := f.t
	t.Helper()
	bin := chromium(t.(*testing.T))
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	// The first call starts the browser and must not carry a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &consoleBrowser{t: t, ctx: bctx, base: f.s.base}
}

// run runs chromedp actions, failing the test with what on error.
// stepTimeout bounds one step: a page that never shows what a test waits for fails the test quickly.
const stepTimeout = 20 * time.Second

func (b *consoleBrowser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := b.location()
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		b.t.Fatalf("%s: %v (at %s, showing %q)", what, err, loc, clipText(text, 500))
	}
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// open navigates to a console path ("/console/tenants") and waits for the page's main element.
func (b *consoleBrowser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(css("body")))
}

// fill replaces the value of the input sel with value, as a user typing it.
func (b *consoleBrowser) fill(sel, value string) {
	b.t.Helper()
	b.run("fill "+sel, chromedp.WaitVisible(css(sel)))
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("(e => { e.value = ''; return true })(document.querySelector("+jsString(sel)+"))")); err != nil {
		b.t.Fatalf("clear %s: %v", sel, err)
	}
	if value != "" {
		b.run("type into "+sel, chromedp.SendKeys(css(sel), value))
	}
}

// click clicks sel.
func (b *consoleBrowser) click(sel string) {
	b.t.Helper()
	b.run("click "+sel, chromedp.WaitVisible(css(sel)), chromedp.Click(css(sel)))
}

// submit clicks sel and waits until the page that answers (a new document, not the current one) shows want.
func (b *consoleBrowser) submit(sel, want string) {
	b.t.Helper()
	b.markStale()
	b.run("submit "+sel, chromedp.WaitVisible(css(sel)), chromedp.Click(css(sel)), chromedp.WaitVisible(css(fresh(want))))
}

// markStale marks the current document, so fresh selectors match only in the next one.
func (b *consoleBrowser) markStale() {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.documentElement.setAttribute('data-stale', '1') || true")); err != nil {
		b.t.Fatalf("mark the page: %v", err)
	}
}

// fresh restricts each selector of a list to a document markStale has not marked.
func fresh(sel string) string {
	parts := strings.Split(sel, ",")
	for i, p := range parts {
		parts[i] = "html:not([data-stale]) " + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// wait waits until sel is visible.
func (b *consoleBrowser) wait(sel string) {
	b.t.Helper()
	b.run("wait for "+sel, chromedp.WaitVisible(css(sel)))
}

// text is the text of sel.
func (b *consoleBrowser) text(sel string) string {
	b.t.Helper()
	b.run("wait for "+sel, chromedp.WaitVisible(css(sel)))
	s, err := chromedp.Run(b.ctx, chromedp.Text(css(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// html is the whole document as the browser holds it.
func (b *consoleBrowser) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.OuterHTML(css("html")))
	if err != nil {
		b.t.Fatalf("document: %v", err)
	}
	return s
}

// has reports whether the page has an element matching sel now (no waiting).
func (b *consoleBrowser) has(sel string) bool {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(sel)+").length"))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n > 0
}

// css selects the first element matching a CSS selector (a plain string would be a DOM search).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func (b *consoleBrowser) location() (string, error) {
	return chromedp.Run(b.ctx, chromedp.Location())
}

// path is the current page's path and query.
func (b *consoleBrowser) path() string {
	b.t.Helper()
	loc, err := b.location()
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.base)
}

// signIn signs in to the console: the sign-in page with the tenant code, then authsuite's login page. It
// returns once a console page or the refusal page shows.
func (b *consoleBrowser) signIn(tenantCode, login, password string) {
	b.t.Helper()
	b.open("/console/")
	b.fill("#f-tenant", tenantCode)
	b.submit("#continue", "#login")
	b.fill("#username", login)
	b.fill("#password", password)
	b.markStale()
	b.run("sign in as "+login, chromedp.Click(css("#submit")), chromedp.WaitVisible(css(fresh("#user, #forbidden, #message"))))
}

// signOut presses the header's Sign out and waits for the console's sign-in page.
func (b *consoleBrowser) signOut() {
	b.t.Helper()
	b.markStale()
	b.run("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css(fresh("#signin, #logout, form"))))
}

// screenshotWidths are the widths of the console's screenshots: a phone and a desktop.
var screenshotWidths = []int64{375, 1440}

// screenshot writes the current page, full length, at each width to docs/screenshots/console-<name>-<width>.png
// when AUTHSUITE_SCREENSHOTS=1.
func (b *consoleBrowser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("AUTHSUITE_SCREENSHOTS") != "1" {
		return
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, w := range screenshotWidths {
		b.run("viewport", chromedp.EmulateViewport(w, 900), chromedp.WaitReady(css("body")))
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "console-"+name+"-"+itoa(w)+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.run("restore the viewport", chromedp.EmulateViewport(1440, 900))
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

// consoleGet fetches a console path without a browser (no session), for header and HTML checks.
func (f *consoleFixture) consoleGet(path string) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.s.base+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.s.do(req)
}

// navigate opens a URL path and returns the HTTP status of the document.
func (b *consoleBrowser) navigate(path string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		b.t.Fatalf("navigate %s: %v", path, err)
	}
	b.run("load "+path, chromedp.WaitReady(css("body")))
	return resp.Status
}

// postForm submits a form built in the page (the console's own origin, with the browser's cookies) with
// fields to path, as a forged page would, and waits for the answer to show want.
func (b *consoleBrowser) postForm(path string, fields map[string]string, want string) {
	b.t.Helper()
	js := "(() => { const f = document.createElement('form'); f.method = 'post'; f.action = " + jsString(path) + ";"
	for k, v := range fields {
		js += " { const i = document.createElement('input'); i.type = 'hidden'; i.name = " + jsString(k) + "; i.value = " + jsString(v) + "; f.append(i); }"
	}
	js += " document.body.append(f); f.submit(); return true })()"
	b.markStale()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js)); err != nil {
		b.t.Fatalf("post %s: %v", path, err)
	}
	b.wait(fresh(want))
}
