package gateway

import (
	"bytes"
	"encoding/base64"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

func renderStep(t *testing.T, accept string, st *tokenv1.Step) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, secondFactorPath, nil)
	if accept != "" {
		r.Header.Set("Accept-Language", accept)
	}
	w := httptest.NewRecorder()
	(&Gateway{}).step(w, r, st)
	if w.Code != http.StatusOK {
		t.Fatalf("%v: %d %s", st, w.Code, w.Body.String())
	}
	return w
}

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSecondFactorPageCode: the code form in each language, with autocomplete=one-time-code and a numeric
// keyboard, the translated error, the interaction's CSRF token, and a CSP without script or with only the
// gateway's own script when a passkey is offered.
func TestSecondFactorPageCode(t *testing.T) {
	for _, c := range []struct{ accept, lang, heading, errText string }{
		{"en", "en", "Verify it&#39;s you", "That code is not correct"},
		{"zh-CN", "zh-Hans", "验证您的身份", "验证码不正确"},
		{"zh-TW", "zh-Hant", "驗證您的身分", "驗證碼不正確"},
	} {
		w := renderStep(t, c.accept, &tokenv1.Step{Step: &tokenv1.Step_SecondFactor{SecondFactor: &tokenv1.SecondFactorPage{
			InteractionId: "i-1", ClientName: "Shop <b>", UserName: "alice", Totp: true, ErrorCode: "secondfactor.bad_code"}}})
		body := w.Body.String()
		for _, want := range []string{`<html lang="` + c.lang + `">`, c.heading, c.errText, `autocomplete="one-time-code"`,
			`inputmode="numeric"`, `name="interaction" value="i-1"`, `action="/connect/secondfactor"`, "Shop &lt;b&gt;"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q:\n%s", c.accept, want, body)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src") {
			t.Errorf("%s: a code-only page has script", c.accept)
		}
		if m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body); m == nil || len(m[1]) < 20 {
			t.Errorf("%s: no CSRF token", c.accept)
		}
	}
	w := renderStep(t, "en", &tokenv1.Step{Step: &tokenv1.Step_SecondFactor{SecondFactor: &tokenv1.SecondFactorPage{
		InteractionId: "i-1", Totp: true, WebauthnOptions: `{"challenge":"abc","rpId":"localhost"}`}}})
	body, csp := w.Body.String(), w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("passkey page CSP %q", csp)
	}
	if !strings.Contains(body, `data-webauthn="get"`) || !strings.Contains(body, `<script src="/static/webauthn.js`) ||
		!strings.Contains(body, `data-webauthn-json="{&#34;challenge&#34;:&#34;abc&#34;`) {
		t.Errorf("passkey form:\n%s", body)
	}
	if regexp.MustCompile(`<script>|<script [^s]`).MatchString(body) {
		t.Errorf("inline script:\n%s", body)
	}
}

// TestSecondFactorPageEnrollment: the enrolment view shows the QR code as a data: PNG (allowed by img-src
// data:) and the key; the recovery-code view lists the codes and a continue button.
func TestSecondFactorPageEnrollment(t *testing.T) {
	qr := tinyPNG(t)
	w := renderStep(t, "zh-TW", &tokenv1.Step{Step: &tokenv1.Step_SecondFactor{SecondFactor: &tokenv1.SecondFactorPage{
		InteractionId: "i-2", Enrollment: "totp", EnrollmentQrPng: qr, EnrollmentSecret: "JBSWY3DPEHPK3PXP"}}})
	body := w.Body.String()
	m := regexp.MustCompile(`<img class="qr" id="qr" src="data:image/png;base64,([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no QR image:\n%s", body)
	}
	got, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1])) // the attribute as the browser reads it
	if err != nil || !bytes.Equal(got, qr) {
		t.Fatalf("QR image %q: %v", m[1], err)
	}
	if !strings.Contains(body, "JBSWY3DPEHPK3PXP") || !strings.Contains(body, "設定兩步驟驗證") || !strings.Contains(w.Header().Get("Content-Security-Policy"), "img-src data:") {
		t.Errorf("enrolment page:\n%s", body)
	}
	w = renderStep(t, "zh-CN", &tokenv1.Step{Step: &tokenv1.Step_SecondFactor{SecondFactor: &tokenv1.SecondFactorPage{
		InteractionId: "i-2", RecoveryCodes: []string{"aaaa-1111", "bbbb-2222"}}}})
	body = w.Body.String()
	if !strings.Contains(body, "<code>aaaa-1111</code>") || !strings.Contains(body, "保存您的恢复码") || strings.Contains(body, `name="code"`) {
		t.Errorf("recovery codes page:\n%s", body)
	}
}

// TestMessageStep: an informational step shows its catalogue text with its arguments.
func TestMessageStep(t *testing.T) {
	w := renderStep(t, "en", &tokenv1.Step{Step: &tokenv1.Step_Message{Message: &tokenv1.MessagePage{MessageCode: "message.signed_out"}}})
	if body := w.Body.String(); !strings.Contains(body, "You have been signed out") || !strings.Contains(body, "<title>Signed out") {
		t.Errorf("message page:\n%s", body)
	}
}

// TestSecondFactorFormCSRF: a second-factor form without the browser's CSRF cookie and token is refused
// before anything reaches the token service.
func TestSecondFactorFormCSRF(t *testing.T) {
	form := url.Values{"interaction": {"i-1"}, "code": {"123456"}, "csrf_token": {"forged"}}
	r := httptest.NewRequest(http.MethodPost, secondFactorPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	(&Gateway{csrfKey: newCSRFKey()}).secondFactor(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("forged form: %d %s", w.Code, w.Body.String())
	}
}
