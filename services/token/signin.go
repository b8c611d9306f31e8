package token

import (
	"bytes"
	"errors"
	"slices"
	"time"
)

// Errors of the sign-in records.
var (
	// ErrNotFound: no record under that key (or it was swept).
	ErrNotFound = errors.New("token store: not found")
	// ErrUsed: a single-use record (authorization code, rotated refresh token) was already used. The methods
	// returning it also return the record, so the caller can revoke what was issued from it.
	ErrUsed = errors.New("token store: already used")
)

// Every sign-in record has an Expiry after which SweepExpired may delete it; readers must still check it,
// since sweeping runs only now and then. Keys that are bearer secrets (interaction ids, session cookies,
// codes, refresh tokens) are given to the store as SHA-256 digests of ≥256-bit random values, never raw.

// Interaction is a pending authorization request (OIDC Core §3.1.2.1) between the authorization endpoint
// and the code: the validated request, and the user once signed in. With Logout set it is instead a logout
// waiting for the user's confirmation.
type Interaction struct {
	ID            []byte // SHA-256 of the interaction id
	ClientID      string
	TenantID      string
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string
	Prompt        []string
	MaxAge        int64 // -1 when absent
	LoginHint     string
	// ResponseMode is how the response goes to RedirectURI: "" (query) or "form_post" (OAuth 2.0 Form Post
	// Response Mode).
	ResponseMode string
	// Resources are the API resources the request named (RFC 8707 §2), nil when none.
	Resources []string
	UserID    string // set once the user signed in for this interaction
	UserName  string
	SessionID []byte // SHA-256 of the session cookie the user signed in with
	// Logout marks a pending logout confirmation (RP-Initiated Logout 1.0 §2) rather than an authorization
	// request: RedirectURI is then the validated post_logout_redirect_uri with state (or empty).
	Logout bool
	Expiry time.Time
	// SignInState is the interaction's progress beyond the authorization request.
	SignInState
}

// Interaction purposes (SignInState.Purpose).
const (
	// PurposeAuthorize (the zero value) is an authorization request of ClientID: it ends with a code.
	PurposeAuthorize = ""
	// PurposeAccount is a sign-in to the account page (/account) of TenantID: there is no client
	// (ClientID is empty) and it ends with a redirect to /account.
	PurposeAccount = "account"
	// PurposeDevice approves the device authorization whose device code digest is DeviceCodeID (RFC 8628
	// §3.3) for ClientID: it ends with the approval recorded and a page telling the person to return to
	// their device.
	PurposeDevice = "device"
)

// SignInState is what an interaction records as sign-in proceeds past the password: why it exists, the
// language and authentication context asked for, a verified first factor waiting for the second, the open
// WebAuthn ceremony, and an upstream provider round trip. Stores keep it as one opaque JSON member.
type SignInState struct {
	// Purpose is PurposeAuthorize, PurposeAccount or PurposeDevice.
	Purpose string `json:"purpose,omitempty"`
	// DeviceCodeID is, with PurposeDevice, the SHA-256 of the device code being approved.
	DeviceCodeID []byte `json:"device_code_id,omitempty"`
	// UILocales are the request's ui_locales (OIDC Core §3.1.2.1), in order.
	UILocales []string `json:"ui_locales,omitempty"`
	// ACRValues are the request's acr_values (OIDC Core §3.1.2.1), in order of preference.
	ACRValues []string `json:"acr_values,omitempty"`
	// PendingUserID is the user whose first factor verified while a second one is still required; UserID
	// stays empty until sign-in completes. PendingIncarnation is that account's incarnation and PendingAMR
	// the methods used so far (RFC 8176).
	PendingUserID      string   `json:"pending_user_id,omitempty"`
	PendingIncarnation string   `json:"pending_incarnation,omitempty"`
	PendingAMR         []string `json:"pending_amr,omitempty"`
	// WebAuthnSession is the open WebAuthn ceremony's state (its challenge), opaque to the store.
	WebAuthnSession []byte `json:"webauthn_session,omitempty"`
	// Enrollment is a TOTP enrolment the tenant's policy made the pending user start (sealed by the registry).
	Enrollment string `json:"enrollment,omitempty"`
	// UpstreamProvider is the upstream identity provider the browser was sent to; UpstreamNonce the nonce
	// sent; UpstreamVerifier the PKCE code verifier (RFC 7636), sealed; UpstreamBinding the SHA-256 of the
	// browser-binding cookie value.
	UpstreamProvider string `json:"upstream_provider,omitempty"`
	UpstreamNonce    string `json:"upstream_nonce,omitempty"`
	UpstreamVerifier []byte `json:"upstream_verifier,omitempty"`
	UpstreamBinding  []byte `json:"upstream_binding,omitempty"`
}

// Clone returns a copy of st that shares no slice with it.
func (st SignInState) Clone() SignInState {
	st.DeviceCodeID = bytes.Clone(st.DeviceCodeID)
	st.UILocales = slices.Clone(st.UILocales)
	st.ACRValues = slices.Clone(st.ACRValues)
	st.PendingAMR = slices.Clone(st.PendingAMR)
	st.WebAuthnSession = bytes.Clone(st.WebAuthnSession)
	st.UpstreamVerifier = bytes.Clone(st.UpstreamVerifier)
	st.UpstreamBinding = bytes.Clone(st.UpstreamBinding)
	return st
}

// Authn is how a person authenticated (OIDC Core §2 amr and acr): the authentication methods of RFC 8176
// (pwd, otp, hwk, swk, mfa, fed, ...) and the authentication context class reached. A session keeps it;
// the codes and refresh tokens issued in the session carry it to their ID tokens.
type Authn struct {
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
}

// Clone returns a copy of a that shares no slice with it.
func (a Authn) Clone() Authn {
	a.AMR = slices.Clone(a.AMR)
	return a
}

// Session is an SSO session (OIDC Core §3.1.2.1 "End-User session"), found by the SHA-256 of its cookie, or
// by its SID (SessionBySID). SIDs are unique: the store keeps one index entry per SID.
type Session struct {
	ID       []byte // SHA-256 of the cookie value
	SID      string // the public session id of ID tokens and logout tokens
	UserID   string
	UserName string
	TenantID string
	AuthTime time.Time
	Clients  []string // clients that received a code in this session
	Expiry   time.Time
	// Incarnation is the account incarnation (Account) of UserID the session was issued to.
	Incarnation string
	// Authn is how the user authenticated in this session.
	Authn
}

// AuthCode is an authorization code (RFC 6749 §4.1.2), found by the SHA-256 of its value. It is bound to the
// client, the redirect URI, the PKCE challenge (RFC 7636 §4.4) and the nonce; FamilyID names every token
// issued from it, so a replay can revoke them (RFC 6749 §4.1.2, RFC 9700 §4.14).
type AuthCode struct {
	Hash          []byte
	ClientID      string
	TenantID      string
	UserID        string
	RedirectURI   string
	Scopes        []string
	Nonce         string
	CodeChallenge string
	SID           string
	AuthTime      time.Time
	FamilyID      string
	Used          bool
	Expiry        time.Time
	// Incarnation is the account incarnation (Account) of UserID the code was issued to.
	Incarnation string
	// Resources are the API resources the authorization request named (RFC 8707 §2); the token request may
	// narrow them, never widen. Nil: none named.
	Resources []string
	// Authn is how the user authenticated in the session the code was issued in.
	Authn
}

// RefreshToken is a refresh token (RFC 6749 §6), found by the SHA-256 of its value. Tokens rotated from one
// another share FamilyID; Expiry is the family's absolute end (refreshTokenLifetime from the first token).
// A rotated token stays stored with Used set until Expiry, so that its reuse is detected (RFC 9700 §4.14.2).
type RefreshToken struct {
	Hash     []byte
	FamilyID string
	ClientID string
	TenantID string
	UserID   string
	Scopes   []string
	SID      string
	AuthTime time.Time
	Used     bool
	Expiry   time.Time
	// Incarnation is the account incarnation (Account) of UserID the family was issued to.
	Incarnation string
	// IssueTime is when this token was issued (the family's first token, or this rotation); zero for tokens
	// stored before it was kept. Introspection answers it as iat.
	IssueTime time.Time
	// Resources bound the family's audience (RFC 8707 §2.2): the resources of its authorization grant, which
	// a refresh may narrow, never widen. Nil: none named.
	Resources []string
	// Authn is how the user authenticated in the session the family started in.
	Authn

	// The rotation grace period (RotateRefreshTokenGrace), set by the store on rotation:
	// Successor is the SHA-256 of the token this one was rotated to; SealedSuccessor is that token's value,
	// sealed by the caller, kept so that a retry with this token until GraceUntil gets the same successor
	// (and dropped once the successor itself rotates); Predecessor is the SHA-256 of the token this one
	// was rotated from.
	Successor       []byte
	SealedSuccessor []byte
	GraceUntil      time.Time
	Predecessor     []byte
}

// RefreshGrace is the grace period of one rotation (RotateRefreshTokenGrace).
type RefreshGrace struct {
	// Now is the time of the rotation (or of the retry).
	Now time.Time
	// Window is how long after a rotation the rotated token may be presented again to get the same
	// successor.
	Window time.Duration
	// Sealed is the new token's value, sealed by the caller; the store keeps it, opaque, for the window.
	Sealed []byte
}

// RefreshRotated is what RotateRefreshTokenGrace did.
type RefreshRotated struct {
	// Token is the successor: the token just stored, or, when Replayed, the one stored by the earlier
	// rotation.
	Token RefreshToken
	// Sealed is the successor's sealed value: RefreshGrace.Sealed, or, when Replayed, the one kept from the
	// earlier rotation.
	Sealed []byte
	// Replayed is set when the presented token had already been rotated, within its grace window, to a
	// successor still unused: nothing was changed.
	Replayed bool
}

// Consent is a remembered consent: the scopes a user allowed a client.
type Consent struct {
	TenantID string
	UserID   string
	ClientID string
	Scopes   []string
	Expiry   time.Time
	// Incarnation is the account incarnation (Account) of UserID that consented: another account with the
	// same user id has not.
	Incarnation string
}

// LoginFailures counts recent failed sign-ins for one throttling key (an account or an address). Count
// includes the Pending attempts: counted before their password was checked, not settled yet.
type LoginFailures struct {
	Key         string
	Count       int
	Pending     int
	Last        time.Time
	LockedUntil time.Time
	Expiry      time.Time
}
