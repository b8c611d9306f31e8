package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// Passkey registration from the account page (W3C WebAuthn §7.1 "Registering a New Credential").
//
// BeginPasskeyRegistration answers the creation options and a ceremony: the SessionData with the user, the
// tenant, the session and an expiry, sealed under the suite keyring (AES-GCM, suitekey.Seal) with its own
// additional data, so the browser carries it but can neither read nor change it. FinishPasskeyRegistration
// accepts a ceremony only from the same signed-in session, within passkeyCeremonyLifetime, once (its
// challenge is used up in the token store), and only with an attestation that answers its challenge from the
// issuer's origin.

// maxPasskeys is how many passkeys a user may hold (the registry refuses more).
const maxPasskeys = 20

// maxCeremony bounds the sealed ceremony a browser may send back.
const maxCeremony = 16 << 10

// passkeyCeremonyAAD binds sealed registration ceremonies to their use.
var passkeyCeremonyAAD = []byte("authsuite passkey registration v1")

// passkeyCeremony is the sealed state of one registration.
type passkeyCeremony struct {
	TenantID  string               `json:"tenant_id"`
	UserID    string               `json:"user_id"`
	SessionID []byte               `json:"session_id"` // SHA-256 of the session cookie
	Exp       int64                `json:"exp"`
	Session   webauthn.SessionData `json:"session"`
}

// BeginPasskeyRegistration answers PublicKeyCredentialCreationOptions (JSON, §5.4) for the signed-in person
// (a sign-in within RecentSignIn): a discoverable credential is required (residentKey "required", §5.4.6) so
// the passkey also signs in without a password, user verification is preferred, no attestation is asked
// (§5.4.7 "none": the AAGUID is kept, authenticators are not vetted) and the person's existing credentials
// are excluded (§5.4 excludeCredentials). FAILED_PRECONDITION when they hold maxPasskeys already.
func (a accountService) BeginPasskeyRegistration(ctx context.Context, req *tokenv1.BeginPasskeyRegistrationRequest) (*tokenv1.BeginPasskeyRegistrationResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	f, err := s.passkeyFactors(ctx, as.TenantID, as.UserID)
	if err != nil {
		return nil, err
	}
	if len(f.GetPasskeys()) >= maxPasskeys {
		return nil, apierror.FailedPrecondition("at most %d passkeys per person; delete one first", maxPasskeys)
	}
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	u := newPasskeyUser(f)
	creation, sd, err := rp.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationPreferred,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
	)
	if err != nil {
		return nil, err
	}
	exp := s.now().Add(passkeyCeremonyLifetime)
	sd.Expires = exp
	plain, err := json.Marshal(passkeyCeremony{TenantID: as.TenantID, UserID: as.UserID, SessionID: as.Session.ID, Exp: exp.Unix(), Session: *sd})
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(creation.Response)
	if err != nil {
		return nil, err
	}
	return &tokenv1.BeginPasskeyRegistrationResponse{
		WebauthnOptions: string(opts),
		Ceremony:        base64.RawURLEncoding.EncodeToString(s.kr.Seal(plain, passkeyCeremonyAAD)),
	}, nil
}

// FinishPasskeyRegistration verifies the attestation (§7.1) answering a ceremony of BeginPasskeyRegistration
// made for this browser's session and stores the passkey under name. INVALID_ARGUMENT naming ceremony (not
// one of this session, expired, already used), webauthn_attestation (unparseable, not answering the
// challenge, wrong origin or RP ID, no user presence) or name (over 64 characters, control characters);
// ALREADY_EXISTS when the credential is registered already.
func (a accountService) FinishPasskeyRegistration(ctx context.Context, req *tokenv1.FinishPasskeyRegistrationRequest) (*tokenv1.FinishPasskeyRegistrationResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	name, err := passkeyName(req.GetName())
	if err != nil {
		return nil, err
	}
	c, ok := s.openCeremony(req.GetCeremony())
	if !ok || c.TenantID != as.TenantID || c.UserID != as.UserID || !bytes.Equal(c.SessionID, as.Session.ID) || !s.now().Before(time.Unix(c.Exp, 0)) {
		return nil, apierror.Invalid("ceremony", "not a live passkey registration of this session; start again")
	}
	att := req.GetWebauthnAttestation()
	if att == "" || len(att) > maxPasskeyJSON {
		return nil, apierror.Invalid("webauthn_attestation", "required, at most %d bytes", maxPasskeyJSON)
	}
	p, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(strings.NewReader(att), maxPasskeyJSON))
	if err != nil {
		return nil, apierror.Invalid("webauthn_attestation", "not a PublicKeyCredential with an attestation: %v", clip(err.Error()))
	}
	f, err := s.passkeyFactors(ctx, as.TenantID, as.UserID)
	if err != nil {
		return nil, err
	}
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	// Used up before it is checked: a ceremony answers one attestation, right or wrong.
	fresh, err := s.st.UseAssertionID(ctx, passkeyChallengeScope, c.Session.Challenge, time.Unix(c.Exp, 0))
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, apierror.Invalid("ceremony", "this passkey registration was already used; start again")
	}
	sd := c.Session
	sd.Expires = time.Time{} // checked above on the server's clock
	cred, err := rp.CreateCredential(newPasskeyUser(f), sd, p)
	if err != nil {
		return nil, apierror.Invalid("webauthn_attestation", "the passkey could not be verified: %v", clip(passkeyErrText(err)))
	}
	pk := passkeyOf(cred)
	pk.Name = name
	resp, err := s.factors.AddPasskey(ctx, &registryv1.AddPasskeyRequest{TenantId: as.TenantID, UserId: as.UserID, Passkey: pk})
	if err != nil {
		return nil, err
	}
	s.log.Info("audit", "event", "passkey_added", "tenant_id", as.TenantID, "user_id", as.UserID)
	return &tokenv1.FinishPasskeyRegistrationResponse{Passkey: accountPasskey(resp.GetPasskey())}, nil
}

// DeleteAccountPasskey removes one of the signed-in person's passkeys (a sign-in within RecentSignIn).
// INVALID_ARGUMENT naming id when it is not base64url; NOT_FOUND when the person has no such passkey.
func (a accountService) DeleteAccountPasskey(ctx context.Context, req *tokenv1.DeleteAccountPasskeyRequest) (*tokenv1.DeleteAccountPasskeyResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	id, err := parseCredentialID(req.GetId())
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, apierror.FailedPrecondition("passkeys are not available")
	}
	if _, err := s.factors.DeletePasskey(ctx, &registryv1.DeletePasskeyRequest{TenantId: as.TenantID, UserId: as.UserID, CredentialId: id}); err != nil {
		return nil, err
	}
	s.log.Info("audit", "event", "passkey_deleted", "tenant_id", as.TenantID, "user_id", as.UserID)
	return &tokenv1.DeleteAccountPasskeyResponse{}, nil
}

// passkeyFactors asks the registry for a user's factors (FAILED_PRECONDITION when this service has no
// factor API).
func (s *Server) passkeyFactors(ctx context.Context, tenantID, userID string) (*registryv1.GetFactorsResponse, error) {
	if s.factors == nil {
		return nil, apierror.FailedPrecondition("passkeys are not available")
	}
	return s.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: tenantID, UserId: userID})
}

// openCeremony opens a sealed registration ceremony; false for anything this keyring did not seal as one.
func (s *Server) openCeremony(v string) (*passkeyCeremony, bool) {
	if v == "" || len(v) > maxCeremony {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	plain, err := s.kr.Open(raw, passkeyCeremonyAAD)
	if err != nil {
		return nil, false
	}
	var c passkeyCeremony
	if err := json.Unmarshal(plain, &c); err != nil || c.Session.Challenge == "" {
		return nil, false
	}
	return &c, true
}

// passkeyName validates the name a person gives a passkey: trimmed, "Passkey" when empty, at most 64
// characters, no control characters (INVALID_ARGUMENT naming name).
func passkeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "Passkey", nil
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64:
		return "", apierror.Invalid("name", "at most 64 characters")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", apierror.Invalid("name", "must not contain control characters")
	}
	return name, nil
}

// parseCredentialID decodes a credential id as the account page names it (base64url without padding, at
// most 1023 bytes: WebAuthn §5.1 credential ids are at most 1023 bytes).
func parseCredentialID(id string) ([]byte, error) {
	if id == "" || len(id) > 1364 {
		return nil, apierror.Invalid("id", "a passkey id (base64url) is required")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(b) == 0 || len(b) > 1023 || base64.RawURLEncoding.EncodeToString(b) != id { // one spelling per id
		return nil, apierror.Invalid("id", "not a passkey id (base64url)")
	}
	return b, nil
}

// accountPasskey is a stored passkey as the account page shows it (GetAccount uses it too).
func accountPasskey(p *registryv1.Passkey) *tokenv1.AccountPasskey {
	ap := &tokenv1.AccountPasskey{
		Id: base64.RawURLEncoding.EncodeToString(p.GetCredentialId()), Name: p.GetName(), Synced: p.GetBackupState(),
	}
	if t := p.GetCreateTimeUnix(); t > 0 {
		ap.CreateTime = timestamppb.New(time.Unix(t, 0))
	}
	if t := p.GetLastUsedTimeUnix(); t > 0 {
		ap.LastUsedTime = timestamppb.New(time.Unix(t, 0))
	}
	return ap
}

// passkeyErrText is the detail of a go-webauthn error, for the person and the logs (never a secret).
func passkeyErrText(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return fmt.Sprintf("%s", pe.Details)
	}
	return err.Error()
}
