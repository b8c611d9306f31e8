package e2e

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of the headless browser, or skips (fails under CI) when it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium; .ci/run does it)")
	}
	t.Skip("chromium is not on PATH: install it (apt-get install -y chromium) to run the real-browser sign-in test")
	return ""
}

// TestBrowserSignIn drives a real headless Chromium through the sign-in pages: the login form, the consent
// form, the landing on web's redirect URI with a code; then spa signs in through SSO without the password
// form. No JavaScript is needed by the pages; chromedp only types and clicks.
func TestBrowserSignIn(t *testing.T) {
	bin := chromium(t)
	f := newSigninFixture(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first call starts the browser and must not carry a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()

	_, ch := pkce()
	start := time.Now()
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.authorizeURL("web", "openid profile", "st", "n-1", ch)),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", alicePassword),
		chromedp.Click("#submit"),
		chromedp.WaitVisible("#consent"),
	)
	if err != nil {
		t.Fatalf("browser login: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text("h1"))
	if err != nil || heading != "Allow access?" {
		t.Fatalf("consent heading %q, %v", heading, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#remember"), chromedp.Click("#allow")); err != nil {
		t.Fatalf("browser consent: %v", err)
	}
	landed, err := waitLocation(ctx, f.callback)
	if err != nil {
		t.Fatalf("after consent: %v (at %q)", err, landed)
	}
	t.Logf("browser sign-in (login page, consent, redirect): %v", time.Since(start))
	u, _ := url.Parse(landed)
	if u.Query().Get("code") == "" || u.Query().Get("state") != "st" {
		t.Fatalf("landed at %q", landed)
	}

	// SSO: spa signs in without the password form.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.authorizeURL("spa", "openid", "s2", "n-2", ch))); err != nil {
		t.Fatalf("SSO navigate: %v", err)
	}
	landed, err = waitLocation(ctx, f.callback)
	if err != nil {
		t.Fatalf("SSO sign-in: %v (at %q)", err, landed)
	}
	if u, _ := url.Parse(landed); u.Query().Get("code") == "" || u.Query().Get("state") != "s2" {
		t.Fatalf("SSO landed at %q", landed)
	}
}

// waitLocation polls the page's URL until it starts with prefix or ctx ends, and returns it.
func waitLocation(ctx context.Context, prefix string) (string, error) {
	last := ""
	for {
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			last = loc
			if strings.HasPrefix(loc, prefix) {
				return loc, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
