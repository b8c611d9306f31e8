// Package apierror is the domain error vocabulary every authsuite service returns: sentinels, field errors,
// multi-field violations and OAuth 2.0 errors. It imports no RPC or HTTP package, so domain packages can use it
// and stay free of the wire. Services return these values (wrapped with %w as they like); internal/apistatus
// maps them onto gRPC statuses at the server edge, and the gateway renders the statuses as HTTP answers.
// Failure is never signalled through a response field.
package apierror

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Wrap them with fmt.Errorf("…: %w", ErrX) or use the constructors below, and compare with
// errors.Is.
var (
	// ErrNotFound: the named thing does not exist (gRPC NOT_FOUND, HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique name is taken (gRPC ALREADY_EXISTS, HTTP 409).
	ErrAlreadyExists = errors.New("already exists")
	// ErrFailedPrecondition: the system is not in a state that allows the operation (gRPC FAILED_PRECONDITION).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnauthenticated: no or invalid credentials (gRPC UNAUTHENTICATED, HTTP 401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: valid credentials that do not allow this (gRPC PERMISSION_DENIED, HTTP 403).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: a dependency is briefly unreachable (gRPC UNAVAILABLE, HTTP 503).
	ErrUnavailable = errors.New("unavailable")
)

// NotFound returns an error wrapping ErrNotFound whose message names what was missing.
func NotFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotFound)
}

// AlreadyExists returns an error wrapping ErrAlreadyExists whose message names what is taken.
func AlreadyExists(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrAlreadyExists)
}

// FailedPrecondition returns an error wrapping ErrFailedPrecondition.
func FailedPrecondition(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrFailedPrecondition)
}

// Unauthenticated returns an error wrapping ErrUnauthenticated.
func Unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrUnauthenticated)
}

// PermissionDenied returns an error wrapping ErrPermissionDenied.
func PermissionDenied(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrPermissionDenied)
}

// FieldError reports an invalid request field (gRPC INVALID_ARGUMENT, HTTP 400). Field uses the REST
// (camelCase) name, e.g. "redirectUris[1]".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Invalid returns a *FieldError for field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Violations refuses a request whole for several problems at once (e.g. a provider configuration file with
// many offending entries), so the caller can fix them all in one go. It is INVALID_ARGUMENT (HTTP 400), or
// FAILED_PRECONDITION when Kind is ErrFailedPrecondition (every problem is a state of the system, not of the
// input). Every entry of Fields travels as a google.rpc.BadRequest field violation, and the REST answer lists
// them as "violations": [{"field": …, "description": …}].
type Violations struct {
	// Summary says what was refused, e.g. "invalid OAuth configuration, nothing was stored".
	Summary string
	// Field names what the refusal is about as a whole (e.g. "oauthConfigurations"); empty means the one
	// entry's field when there is exactly one.
	Field string
	// Fields are the problems, in the order to show them. Field uses the REST (camelCase) path.
	Fields []FieldError
	// Kind is nil (invalid input) or ErrFailedPrecondition.
	Kind error
	// Message, when not empty, is the error's whole text in the domain's own words; it must name every
	// problem. Otherwise Error builds the text from Summary and Fields.
	Message string
}

// Error is Message, or the summary followed by every problem: "summary (2 problems): a: why; b: why".
func (e *Violations) Error() string {
	if e.Message != "" {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i := range e.Fields {
		parts[i] = e.Fields[i].Error()
	}
	n := "problem"
	if len(parts) != 1 {
		n = "problems"
	}
	summary := e.Summary
	if summary == "" {
		summary = "invalid request"
	}
	return fmt.Sprintf("%s (%d %s): %s", summary, len(parts), n, strings.Join(parts, "; "))
}

// Unwrap makes errors.Is(err, ErrFailedPrecondition) hold when Kind says so.
func (e *Violations) Unwrap() error { return e.Kind }

// MainField is the field the refusal as a whole is about: Field, or the one problem's field.
func (e *Violations) MainField() string {
	if e.Field == "" && len(e.Fields) == 1 {
		return e.Fields[0].Field
	}
	return e.Field
}

// sentinels are the errors whose text the constructors append.
var sentinels = []error{ErrNotFound, ErrAlreadyExists, ErrFailedPrecondition, ErrUnauthenticated, ErrPermissionDenied, ErrUnavailable}

// Text is err's message as the caller should read it: without the ": not found" (or other sentinel) suffix
// the constructors and %w wrapping append, since the status code already says it. An error that is nothing
// but a sentinel keeps its text.
func Text(err error) string {
	msg := err.Error()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			if t, ok := strings.CutSuffix(msg, ": "+s.Error()); ok && t != "" {
				return t
			}
		}
	}
	return msg
}

// OAuth error codes: RFC 6749 §5.2 (token endpoint), §4.1.2.1 (authorization endpoint), RFC 6750 §3.1
// (bearer tokens), RFC 7009 §2.2.1.
const (
	InvalidRequest          = "invalid_request"
	InvalidClient           = "invalid_client"
	InvalidGrant            = "invalid_grant"
	UnauthorizedClient      = "unauthorized_client"
	UnsupportedGrantType    = "unsupported_grant_type"
	InvalidScope            = "invalid_scope"
	AccessDenied            = "access_denied"
	UnsupportedResponseType = "unsupported_response_type"
	ServerError             = "server_error"
	TemporarilyUnavailable  = "temporarily_unavailable"
	InvalidToken            = "invalid_token"
	InsufficientScope       = "insufficient_scope"
	UnsupportedTokenType    = "unsupported_token_type"
	LoginRequired           = "login_required"
	ConsentRequired         = "consent_required"
	// OpenID Connect Core §3.1.2.6.
	InteractionRequired      = "interaction_required"
	AccountSelectionRequired = "account_selection_required"
	InvalidRequestURI        = "invalid_request_uri"
	InvalidRequestObject     = "invalid_request_object"
	RequestNotSupported      = "request_not_supported"
	RequestURINotSupported   = "request_uri_not_supported"
	RegistrationNotSupported = "registration_not_supported"
	// RFC 8707 §2 and RFC 8693 §2.2.2: a resource or audience that is unknown, malformed or not allowed.
	InvalidTarget = "invalid_target"
	// RFC 8628 §3.5: the device access token response.
	AuthorizationPending = "authorization_pending"
	SlowDown             = "slow_down"
	ExpiredToken         = "expired_token"
)

// oauthCodes are the codes above.
var oauthCodes = map[string]bool{
	InvalidRequest: true, InvalidClient: true, InvalidGrant: true, UnauthorizedClient: true, UnsupportedGrantType: true,
	InvalidScope: true, AccessDenied: true, UnsupportedResponseType: true, ServerError: true, TemporarilyUnavailable: true,
	InvalidToken: true, InsufficientScope: true, UnsupportedTokenType: true, LoginRequired: true, ConsentRequired: true,
	InteractionRequired: true, AccountSelectionRequired: true, InvalidRequestURI: true, InvalidRequestObject: true,
	RequestNotSupported: true, RequestURINotSupported: true, RegistrationNotSupported: true, InvalidTarget: true,
	AuthorizationPending: true, SlowDown: true, ExpiredToken: true,
}

// IsOAuthCode reports whether code is one of the OAuth 2.0 / OpenID Connect error codes above.
func IsOAuthCode(code string) bool { return oauthCodes[code] }

// OAuthError is an OAuth 2.0 error: Code is one of the constants above, Description is safe to show to the
// caller (it never contains a secret or token). Status, when not zero, overrides the HTTP status the code
// maps to by default (see HTTPStatus).
type OAuthError struct {
	Code        string
	Description string
	Status      int
	// RetryAfter, when not zero, says when the same request may pass (throttling, RFC 6585 §4): it travels as
	// google.rpc.RetryInfo and the REST gateway sends it as Retry-After.
	RetryAfter time.Duration
}

func (e *OAuthError) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// OAuth returns an *OAuthError with the code's default status.
func OAuth(code, format string, args ...any) error {
	return &OAuthError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// OAuthWithStatus returns an *OAuthError answered with the given HTTP status.
func OAuthWithStatus(status int, code, format string, args ...any) error {
	return &OAuthError{Code: code, Description: fmt.Sprintf(format, args...), Status: status}
}

// HTTPStatus is the HTTP status an OAuth error answers with: invalid_client 401 (RFC 6749 §5.2),
// invalid_token 401 (RFC 6750 §3.1), insufficient_scope and access_denied 403, server_error 500,
// temporarily_unavailable 503, anything else 400.
func (e *OAuthError) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case InvalidClient, InvalidToken:
		return 401
	case InsufficientScope, AccessDenied:
		return 403
	case ServerError:
		return 500
	case TemporarilyUnavailable:
		return 503
	}
	return 400
}
