package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
)

// The gateway answers every error the same way: whatever it is — a service's gRPC status, a request the
// gateway refused itself (an *apierror.OAuthError, *apierror.FieldError, …) or a path it does not serve — it
// is read once through apistatus (domain error → status → Info), turned into one problem (HTTP status, error
// code, description, field, violations, retry hint), and rendered the way the route's clients read errors:
//
//   - JSON APIs (admin API, simple token API, provider API): {"error", "error_description", "field",
//     "violations"}, with an RFC 6750 §3 Bearer challenge on 401;
//   - the OAuth form endpoints /connect/token, /connect/introspect, /connect/revocation: the RFC 6749 §5.2
//     error object; every client error is 400 except invalid_client, 401 with a Basic challenge when the
//     client tried HTTP Basic;
//   - /connect/userinfo: the same object with the RFC 6750 §3 challenge;
//   - GET /api/oauth2/server/tokens/revoke: {"code": <HTTP status>, "msg": …};
//   - browser pages (sign-in, consent, logout, a connector's start and return): an HTML page.
//
// JSON bodies are not HTML-escaped and end with a newline. error_description is what the service said, never
// a gRPC code name; internal errors say only "internal error".

// errorBody is the JSON error object: the OAuth 2.0 error object (RFC 6749 §5.2), with the invalid field named
// for validation failures and every problem of a multi-problem refusal listed.
type errorBody struct {
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description,omitempty"`
	Field            string      `json:"field,omitempty"`
	Violations       []violation `json:"violations,omitempty"`
}

// violation is one problem of a refused request (google.rpc.BadRequest.FieldViolation).
type violation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// revokeFailure is the failure shape of GET /api/oauth2/server/tokens/revoke: code is the HTTP status.
type revokeFailure struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

const simpleRevokePath = "/api/oauth2/server/tokens/revoke"

// rendering is how a route's clients read errors.
type rendering int

const (
	adminJSON     rendering = iota // JSON APIs
	oauthJSON                      // RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1
	bearerJSON                     // RFC 6750 §3 (userinfo)
	revokeJSON                     // {code, msg}
	signInPage                     // HTML: authorize, login, consent, endsession
	connectorPage                  // HTML: a connector's start and return steps
)

// answer says how to render one error: the route's rendering and what the request tells about credentials.
type answer struct {
	kind  rendering
	title string // pages: the catalogue key of the heading ("error.signin_failed")
	// accept: pages: the request's Accept-Language header, which picks the page's language.
	accept string
	// basic: the client tried HTTP Basic (oauthJSON: invalid_client carries a Basic challenge, RFC 6749 §5.2).
	basic bool
	// bearer: the request carried a bearer token, so a 401 challenge names the error (RFC 6750 §3.1: a request
	// without credentials gets a challenge without one).
	bearer bool
}

// answerFor is the route's answer to r: the rendering its path calls for.
func answerFor(r *http.Request) answer {
	p := r.URL.Path
	a := answer{bearer: r.Header.Get("Authorization") != "", accept: r.Header.Get("Accept-Language")}
	switch {
	case p == simpleRevokePath:
		a.kind = revokeJSON
	case p == "/connect/userinfo":
		a.kind = bearerJSON
	case p == "/connect/token" || p == "/connect/introspect" || p == "/connect/revocation":
		a.kind = oauthJSON
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		a.basic = strings.EqualFold(scheme, "Basic")
	case strings.HasPrefix(p, "/connect/"):
		a.kind, a.title = signInPage, "error.signin_failed"
	case p == providerReturnPath:
		a.kind, a.title = connectorPage, "error.authorization_failed"
	case strings.HasPrefix(p, "/api/provider/v1/connectors/") && strings.HasSuffix(p, "/start"):
		a.kind, a.title = connectorPage, "error.cannot_start"
	}
	return a
}

// writeError answers err the way r's route renders errors.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	writeAnswer(w, err, answerFor(r), g.log)
}

// writeGRPCError is grpc-gateway's error handler: a body cut at its limit is 413, anything else writeError.
func (g *Gateway) writeGRPCError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if bodyTooLarge(r) { // the body could not be decoded because it was cut at its limit
		g.tooLarge(w, r, g.bodyLimit(r.URL.Path))
		return
	}
	g.writeError(w, r, err)
}

// routingError answers a path or method the gateway does not serve (404, 405).
func routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	err := &apierror.OAuthError{Code: "not_found", Description: "no such path", Status: http.StatusNotFound}
	if code == http.StatusMethodNotAllowed {
		err = &apierror.OAuthError{Code: "method_not_allowed", Description: "method not allowed on this path", Status: code}
	}
	writeAnswer(w, err, answerFor(r), nil)
}

// problem is an error as every rendering needs it.
type problem struct {
	status     int
	code       string // the error code: an OAuth code, or the gRPC code's (errorCodeFor)
	desc       string
	field      string
	violations []violation
	grpc       codes.Code
	info       apistatus.Info
}

// problemOf reads err once (apistatus.Of) and decides the HTTP status and error code for rendering kind.
func problemOf(err error, kind rendering) problem {
	info := apistatus.Of(err)
	p := problem{code: info.OAuthCode, desc: info.Message, field: info.Field, grpc: info.Code, info: info}
	for _, v := range info.Violations {
		p.violations = append(p.violations, violation{Field: v.Field, Description: v.Description})
	}
	if !apierror.IsOAuthCode(p.code) && !gatewayCodes[p.code] {
		// No OAuth code (a field error's ErrorInfo names the gRPC code, a sentinel has none): name the gRPC code.
		p.code = errorCodeFor(info.Code)
	}
	p.status = info.HTTPStatus
	if p.status == 0 {
		p.status = apistatus.HTTPStatus(info.Code)
		if kind == oauthJSON && p.status < 500 {
			p.status = http.StatusBadRequest // RFC 6749 §5.2: 400 unless specified otherwise
		}
	}
	if kind == oauthJSON && p.code == apierror.InvalidClient {
		p.status = http.StatusUnauthorized // RFC 6749 §5.2
	}
	if p.status < 400 || p.status > 599 {
		p.status = http.StatusInternalServerError
	}
	if internal(info.Code) {
		p.desc = "internal error"
	}
	return p
}

// internal reports whether a code is a failure whose message must not reach the caller.
func internal(c codes.Code) bool {
	return c == codes.Internal || c == codes.Unknown || c == codes.DataLoss || c > codes.Unauthenticated
}

// writeAnswer renders err as a says. log, when not nil, records the cause of a failure of the gateway
// itself (not a service's status: services log their internal errors once).
func writeAnswer(w http.ResponseWriter, err error, a answer, log *slog.Logger) {
	p := problemOf(err, a.kind)
	if _, isStatus := status.FromError(err); log != nil && internal(p.grpc) && !isStatus {
		log.Error("gateway error", "err", err)
	}
	if v := apierror.RetryAfterSeconds(p.info.RetryAfter); v != "" {
		w.Header().Set("Retry-After", v) // RFC 9110 §10.2.3: shed load (503), throttling (429)
	}
	body := errorBody{Error: p.code, ErrorDescription: p.desc, Field: p.field, Violations: p.violations}
	switch a.kind {
	case revokeJSON:
		writeJSON(w, p.status, revokeFailure{Code: p.status, Msg: p.desc})
	case signInPage, connectorPage:
		title := a.title
		if a.kind == connectorPage && p.grpc == codes.Unauthenticated {
			title = "error.sign_in_first"
		}
		renderPage(w, p.status, "message.html", errorPageData(a.accept, title, p.code, p.desc), log)
	case oauthJSON:
		if p.code == apierror.InvalidClient && a.basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="authsuite", charset="UTF-8"`)
		}
		writeJSON(w, p.status, body)
	case bearerJSON:
		switch {
		case errors.Is(err, errNoToken) || !a.bearer && p.status == http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="authsuite"`)
		case p.code == apierror.InvalidToken || p.code == apierror.InsufficientScope || p.code == apierror.InvalidRequest:
			w.Header().Set("WWW-Authenticate", `Bearer realm="authsuite", error="`+p.code+`"`)
		}
		writeJSON(w, p.status, body)
	default:
		if p.grpc == codes.Unauthenticated && p.code != apierror.InvalidClient {
			challenge := `Bearer realm="authsuite"`
			if a.bearer {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
		}
		writeJSON(w, p.status, body)
	}
}

// errNoToken is a protected resource's answer to a request without a bearer token: 401 with a challenge that
// names no error (RFC 6750 §3.1).
var errNoToken = &apierror.OAuthError{Code: apierror.InvalidToken, Description: "an access token is required", Status: http.StatusUnauthorized}

// gatewayCodes are the error codes the gateway answers besides the OAuth ones: a path or method it does not
// serve, and the gRPC code names errorCodeFor falls back to.
var gatewayCodes = func() map[string]bool {
	m := map[string]bool{"method_not_allowed": true}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		m[errorCodeFor(c)] = true
	}
	return m
}()

// errorCodeFor names an error without an OAuth code after its gRPC code, in the OAuth style
// (invalid_request for validation failures).
func errorCodeFor(c codes.Code) string {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return apierror.InvalidRequest
	case codes.Unauthenticated:
		return apierror.InvalidToken
	case codes.PermissionDenied:
		return apierror.AccessDenied
	case codes.Unavailable, codes.ResourceExhausted:
		return apierror.TemporarilyUnavailable
	}
	if internal(c) {
		return apierror.ServerError
	}
	return apistatus.CodeName(c)
}

// writeJSON answers status with v as JSON: not HTML-escaped ("<token>" stays as written) and ending with a
// newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the value with "\n"
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"server_error","error_description":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderPage answers status with the named page template; a template failure is a plain 500.
// Data without the layout's "L" and "Brand" gets English and no branding (withPageDefaults).
func renderPage(w http.ResponseWriter, status int, name string, data any, log *slog.Logger) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, withPageDefaults(data)); err != nil {
		if log != nil {
			log.Error("render page", "page", name, "err", err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
