package gateway

import (
	"net/http"
	"strings"

	"google.golang.org/grpc"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// The device authorization grant (RFC 8628) in the browser and for devices.
const (
	// DeviceAuthorizationPath is the device authorization endpoint (§3.1; IdentityServer's path).
	DeviceAuthorizationPath = "/connect/deviceauthorization"
	// DevicePath is the end-user verification page (§3.3): verification_uri.
	DevicePath = "/device"
	// deviceFormBinding is what the /device form's CSRF token is bound to (it has no interaction yet).
	deviceFormBinding = "device-user-code"
	// maxTypedUserCode bounds the user code a page shows back (the service looks at 64 characters at most).
	maxTypedUserCode = 64
)

// registerDevice registers the device authorization endpoint and the /device page (RFC 8628 §3.1, §3.3);
// the token service advertises the endpoint in discovery (§4).
func (g *Gateway) registerDevice(cc grpc.ClientConnInterface) error {
	dev := tokenv1.NewDeviceServiceClient(cc)
	return g.handle([]route{
		{http.MethodPost, DeviceAuthorizationPath, noSudo(g.deviceAuthorization(dev))},
		{http.MethodGet, DevicePath, g.devicePage},
		{http.MethodPost, DevicePath, g.deviceSubmit(dev)},
	}...)
}

// deviceAuthorizationJSON is the device authorization response (RFC 8628 §3.2).
type deviceAuthorizationJSON struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int32  `json:"expires_in"`
	Interval                int32  `json:"interval,omitempty"`
}

// deviceAuthorization serves POST /connect/deviceauthorization (RFC 8628 §3.1): a form body read and a
// client authenticated exactly as at the token endpoint (ParseForm, ClientAuth), answered with JSON (§3.2)
// or an RFC 6749 §5.2 error.
func (g *Gateway) deviceAuthorization(dev tokenv1.DeviceServiceClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		noStore(w.Header())
		form, err := ParseForm(r)
		if err != nil {
			writeOAuthError(w, err, false)
			return
		}
		client, err := ClientAuth(r, form)
		if err != nil {
			writeOAuthError(w, err, false)
			return
		}
		resp, err := dev.DeviceAuthorization(r.Context(), &tokenv1.DeviceAuthorizationRequest{
			Client: client, Scope: form.Get("scope"), Resource: form["resource"],
		})
		if err != nil {
			writeOAuthError(w, err, client.GetBasic())
			return
		}
		writeJSON(w, http.StatusOK, deviceAuthorizationJSON{
			DeviceCode: resp.GetDeviceCode(), UserCode: resp.GetUserCode(), VerificationURI: resp.GetVerificationUri(),
			VerificationURIComplete: resp.GetVerificationUriComplete(), ExpiresIn: resp.GetExpiresIn(), Interval: resp.GetInterval(),
		})
	}
}

// devicePage serves GET /device: the form where a person types the code their device shows, prefilled from
// ?user_code= (verification_uri_complete, §3.3.1). The page never says whether a prefilled code is valid:
// only a submission (throttled) does.
func (g *Gateway) devicePage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	q := r.URL.Query()
	g.renderDevice(w, r, http.StatusOK, q.Get("user_code"), q.Get("ui_locales"), "")
}

// deviceSubmit serves POST /device: the CSRF-checked form goes to the token service, whose answer is the
// login or consent page, or this page again with a message (an invalid or expired code; 429 with
// Retry-After when the address must slow down).
func (g *Gateway) deviceSubmit(dev tokenv1.DeviceServiceClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		form, err := ParseForm(r)
		if err != nil {
			g.pageError(w, r, err)
			return
		}
		if !g.validCSRF(r, deviceFormBinding, form.Get("csrf_token")) {
			g.pageError(w, r, apierror.OAuthWithStatus(http.StatusForbidden, apierror.InvalidRequest,
				"The form has expired or did not come from this site. Open the device page again."))
			return
		}
		locales := form.Get("ui_locales")
		resp, err := dev.SubmitUserCode(r.Context(), &tokenv1.SubmitUserCodeRequest{
			UserCode: form.Get("user_code"), UiLocales: strings.Fields(locales), Browser: g.browser(r),
		})
		if err != nil {
			g.pageError(w, r, err)
			return
		}
		if code := resp.GetErrorCode(); code != "" || resp.GetStep() == nil {
			status := http.StatusBadRequest
			if code == "device.throttled" {
				status = http.StatusTooManyRequests
				w.Header().Set("Retry-After", "60")
			}
			if code == "" {
				code = "device.invalid_code"
			}
			g.renderDevice(w, r, status, form.Get("user_code"), locales, code)
			return
		}
		g.step(w, r, resp.GetStep())
	}
}

// renderDevice renders device.html with the typed code, the ui_locales to carry, and the message key of an
// error (empty: none).
func (g *Gateway) renderDevice(w http.ResponseWriter, r *http.Request, status int, typed, locales, errorCode string) {
	if len(typed) > maxTypedUserCode {
		typed = typed[:maxTypedUserCode]
	}
	typed = strings.ToValidUTF8(typed, "")
	if len(locales) > 200 {
		locales = ""
	}
	pc := &tokenv1.PageContext{UiLocales: strings.Fields(locales)}
	d := pageData(r, pc, "device.title")
	d["UserCode"], d["UILocales"], d["CSRF"] = typed, locales, g.formCSRF(w, r, deviceFormBinding)
	if errorCode != "" {
		d["Error"] = errorCode
	}
	g.render(w, status, "device.html", d)
}
