package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
)

// errorJSON is the JSON error object, decoded strictly.
type errorJSON struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Field            string `json:"field"`
	Violations       []struct {
		Field       string `json:"field"`
		Description string `json:"description"`
	} `json:"violations"`
}

func decodeStrict(t testing.TB, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("body %q holds more than one value", body)
	}
}

// TestWriteErrorByRoute: one writer, rendered per route family, from a service's status or the gateway's
// own refusal.
func TestWriteErrorByRoute(t *testing.T) {
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	remote := func(err error) error { return apistatus.ToStatus(err) } // as it arrives from a service
	violations := &apierror.Violations{Summary: "invalid OAuth configuration", Field: "oauthConfigurations", Fields: []apierror.FieldError{
		{Field: "oauthConfigurations.github.gh.CLIENT_ID", Reason: "is required"},
		{Field: "oauthConfigurations.nope", Reason: "is not a known connector type"},
	}}
	tests := []struct {
		name, path, auth string
		err              error
		status           int
		code, desc       string // JSON renderings
		challenge        string // WWW-Authenticate, "" for none
		html             []string
		violations       int
	}{
		{name: "admin not found", path: "/api/adminapi2/v1/tenants/x", err: remote(apierror.NotFound("tenant %q", "x")),
			status: 404, code: "not_found", desc: `tenant "x"`},
		{name: "admin precondition", path: "/api/adminapi2/v1/tenants/default", err: remote(apierror.FailedPrecondition("the system tenant %q cannot be deleted", "default")),
			status: 400, code: "failed_precondition", desc: `the system tenant "default" cannot be deleted`},
		{name: "admin field", path: "/api/adminapi2/v1/tenants/t/clients", err: remote(apierror.Invalid("redirectUris[0]", "must be absolute")),
			status: 400, code: "invalid_request", desc: "redirectUris[0]: must be absolute", violations: 1},
		{name: "admin violations", path: providerConfigLoadPath, err: remote(violations),
			status: 400, code: "invalid_request", violations: 2},
		{name: "admin no token", path: "/api/adminapi2/v1/tenants", err: remote(apierror.Unauthenticated("an access token is required")),
			status: 401, code: "invalid_token", desc: "an access token is required", challenge: `Bearer realm="authsuite"`},
		{name: "admin bad token", path: "/api/adminapi2/v1/tenants", auth: "Bearer x", err: remote(apierror.Unauthenticated("invalid or expired access token")),
			status: 401, code: "invalid_token", challenge: `Bearer realm="authsuite", error="invalid_token"`},
		{name: "admin internal", path: "/api/adminapi2/v1/tenants", err: errors.New("disk on fire at /var/secret"),
			status: 500, code: "server_error", desc: "internal error"},
		{name: "admin shed", path: "/api/oauth2/server/tokens/check", err: remote(status.Error(codes.ResourceExhausted, "slow down")),
			status: 503, code: "temporarily_unavailable", desc: "slow down"},
		{name: "token invalid_client by Basic", path: "/connect/token", auth: "Basic eDp5", err: remote(apierror.OAuth(apierror.InvalidClient, "client authentication failed")),
			status: 401, code: "invalid_client", challenge: `Basic realm="authsuite", charset="UTF-8"`},
		{name: "token invalid_client in body", path: "/connect/token", err: remote(apierror.OAuth(apierror.InvalidClient, "client authentication failed")),
			status: 401, code: "invalid_client"},
		{name: "token 4xx without OAuth code", path: "/connect/token", err: remote(apierror.NotFound("x")),
			status: 400, code: "not_found", desc: "x"},
		{name: "token gateway refusal", path: "/connect/token", err: invalidRequest("parameter %q is repeated", "<token>"),
			status: 400, code: "invalid_request", desc: `parameter "<token>" is repeated`},
		{name: "introspect form too large", path: "/connect/introspect", err: apierror.OAuthWithStatus(413, apierror.InvalidRequest, "too large"),
			status: 413, code: "invalid_request"},
		{name: "userinfo no token", path: "/connect/userinfo", err: errNoToken,
			status: 401, code: "invalid_token", challenge: `Bearer realm="authsuite"`},
		{name: "userinfo scope", path: "/connect/userinfo", auth: "Bearer x", err: remote(apierror.OAuth(apierror.InsufficientScope, "openid is required")),
			status: 403, code: "insufficient_scope", challenge: `Bearer realm="authsuite", error="insufficient_scope"`},
		{name: "simple revoke", path: simpleRevokePath, err: remote(apierror.OAuthWithStatus(400, apierror.InvalidRequest, "token is required")),
			status: 400},
		{name: "sign-in page", path: "/connect/login", err: remote(apierror.FailedPrecondition("the sign-in request has expired <b>")),
			status: 400, html: []string{"Sign-in failed", "failed_precondition", "has expired &lt;b&gt;"}},
		{name: "connector start without session", path: "/api/provider/v1/connectors/c1/start", err: remote(apierror.Unauthenticated("sign in first")),
			status: 401, html: []string{"Sign in first"}},
		{name: "connector return refused", path: providerReturnPath, err: remote(apierror.PermissionDenied("another user started this")),
			status: 403, html: []string{"Authorization failed", "another user started this"}},
		{name: "connector internal", path: providerReturnPath, err: remote(errors.New("secret detail")),
			status: 500, html: []string{"internal error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			g.writeError(w, r, tt.err)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("challenge %q, want %q", got, tt.challenge)
			}
			body := w.Body.Bytes()
			if strings.Contains(string(body), "secret") || strings.Contains(string(body), "on fire") {
				t.Errorf("internal detail leaked: %s", body)
			}
			if tt.html != nil {
				if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
					t.Fatalf("Content-Type %q for a page", w.Header().Get("Content-Type"))
				}
				for _, s := range tt.html {
					if !strings.Contains(string(body), s) {
						t.Errorf("page lacks %q: %s", s, body)
					}
				}
				return
			}
			if w.Header().Get("Content-Type") != "application/json" || !bytes.HasSuffix(body, []byte("}\n")) || bytes.Contains(body, []byte(`\u003c`)) {
				t.Fatalf("JSON body %q (Content-Type %q): want one unescaped object and a newline", body, w.Header().Get("Content-Type"))
			}
			if tt.path == simpleRevokePath {
				var rf revokeFailure
				decodeStrict(t, body, &rf)
				if rf.Code != tt.status || rf.Msg != "token is required" {
					t.Errorf("revoke failure %+v", rf)
				}
				return
			}
			var e errorJSON
			decodeStrict(t, body, &e)
			if e.Error != tt.code || (tt.desc != "" && e.ErrorDescription != tt.desc) || len(e.Violations) != tt.violations {
				t.Errorf("body %+v, want error %q description %q and %d violations", e, tt.code, tt.desc, tt.violations)
			}
		})
	}
}

// TestWriteErrorViolationsAndRetry: every problem is a violation with its field, and a retry hint is
// Retry-After in whole seconds.
func TestWriteErrorViolationsAndRetry(t *testing.T) {
	g := &Gateway{}
	v := &apierror.Violations{Summary: "invalid", Fields: []apierror.FieldError{{Field: "a.b", Reason: "is required"}, {Field: "c", Reason: "is <odd>"}}}
	w := httptest.NewRecorder()
	g.writeError(w, httptest.NewRequest(http.MethodPost, providerConfigLoadPath, nil), apistatus.ToStatus(v))
	var e errorJSON
	decodeStrict(t, w.Body.Bytes(), &e)
	if len(e.Violations) != 2 || e.Violations[0].Field != "a.b" || e.Violations[0].Description != "is required" || e.Violations[1].Description != "is <odd>" {
		t.Fatalf("violations %+v", e.Violations)
	}
	if e.ErrorDescription != "invalid (2 problems): a.b: is required; c: is <odd>" {
		t.Fatalf("description %q", e.ErrorDescription)
	}

	w = httptest.NewRecorder()
	g.writeError(w, httptest.NewRequest(http.MethodGet, "/connect/token", nil), apistatus.ToStatus(apierror.Overloaded(1500*time.Millisecond, "busy")))
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("overloaded: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

// knownCode reports whether c is an error code a client may see: the OAuth 2.0 / OIDC ones and the gateway's own.
func knownCode(c string) bool { return apierror.IsOAuthCode(c) || gatewayCodes[c] }

// FuzzWriteError: for any status (code, message, ErrorInfo reason and HTTP status, violations) on any route
// family, the writer does not panic and answers a 4xx/5xx; a JSON answer is exactly one object, ending with
// a newline, not HTML-escaped, with a known error code, and an internal error says no more than "internal
// error"; a page is HTML.
func FuzzWriteError(f *testing.F) {
	f.Add(uint8(codes.NotFound), "tenant \"x\"", "", 0, uint8(0), "", "")
	f.Add(uint8(codes.InvalidArgument), "a: b", "invalid_argument", 0, uint8(0), "a", "b")
	f.Add(uint8(codes.Unauthenticated), "bad", "invalid_client", 401, uint8(1), "", "")
	f.Add(uint8(codes.Internal), "<script>", "made_up", 200, uint8(4), "", "")
	f.Add(uint8(99), "\xff\x00", "server_error", 99999, uint8(3), "f", "\xfe")
	paths := []string{"/api/adminapi2/v1/tenants", "/connect/token", "/connect/userinfo", simpleRevokePath, "/connect/authorize", providerReturnPath}
	g := &Gateway{}
	f.Fuzz(func(t *testing.T, code uint8, msg, reason string, httpStatus int, route uint8, vField, vDesc string) {
		st := status.New(codes.Code(code), msg)
		details := []protoadapt.MessageV1{}
		if reason != "" || httpStatus != 0 {
			details = append(details, &errdetails.ErrorInfo{Domain: apistatus.Domain, Reason: reason, Metadata: map[string]string{"http_status": fmt.Sprint(httpStatus), "field": vField}})
		}
		if vField != "" {
			details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: vField, Description: vDesc}}})
		}
		if ds, err := st.WithDetails(details...); err == nil {
			st = ds
		}
		path := paths[int(route)%len(paths)]
		w := httptest.NewRecorder()
		g.writeError(w, httptest.NewRequest(http.MethodGet, path, nil), st.Err())
		if w.Code < 400 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
		body := w.Body.Bytes()
		if path == "/connect/authorize" || path == providerReturnPath {
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("page Content-Type %q", w.Header().Get("Content-Type"))
			}
			return
		}
		if !bytes.HasSuffix(body, []byte("}\n")) || bytes.Contains(body, []byte(`\u003c`)) || bytes.Contains(body, []byte(`\u003e`)) || bytes.Contains(body, []byte(`\u0026`)) {
			t.Fatalf("body %q", body)
		}
		if path == simpleRevokePath {
			var rf revokeFailure
			decodeStrict(t, body, &rf)
			if rf.Code != w.Code {
				t.Fatalf("revoke code %d, status %d", rf.Code, w.Code)
			}
			return
		}
		var e errorJSON
		decodeStrict(t, body, &e)
		if !knownCode(e.Error) {
			t.Fatalf("error code %q is not a known code", e.Error)
		}
		if c := codes.Code(code); (c == codes.Internal || c == codes.Unknown || c == codes.DataLoss || c > codes.Unauthenticated) && e.ErrorDescription != "internal error" {
			t.Fatalf("internal error described as %q", e.ErrorDescription)
		}
	})
}
