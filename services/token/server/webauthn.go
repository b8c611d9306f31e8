package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/token"
)

// Passkeys (W3C Web Authentication Level 3, "WebAuthn"), through github.com/go-webauthn/webauthn.
//
// The relying party is the issuer: its RP ID is the issuer's host without port (§5.1.4.1 "RP ID"; a
// registrable domain suffix of, or equal to, the origin's effective domain), and the only origin accepted in
// clientDataJSON is the issuer's origin (§7.1 step 9, §7.2 step 13; §13.4.9 "Validating the origin of a
// credential"). Credentials are scoped per user: the user handle is the user id, and the tenant comes from
// the interaction, never from the browser.
//
// Every challenge this service hands out is self-authenticating and single use:
//
//	challenge = expiry (8 bytes, Unix seconds, big endian) || 16 random bytes || HMAC-SHA-256 (16 bytes)
//
// where the HMAC (suitekey Digest, purpose passkeyChallengePurpose) covers the expiry, the random bytes and
// what the ceremony is bound to (tenant, client, purpose, user). A challenge is accepted only when its HMAC
// verifies under a key of the ring for the interaction presenting it and it has not expired, and it is then
// used up atomically in the token store (Store.UseAssertionID), so an assertion replayed — even against a
// login page whose interaction is carried sealed rather than stored — is refused. The SessionData of the
// ceremony is also kept in Interaction.WebAuthnSession when the caller stores the interaction.

const (
	// passkeyCeremonyLifetime is how long a WebAuthn challenge (sign-in or registration) can be answered.
	passkeyCeremonyLifetime = 5 * time.Minute
	// maxPasskeyJSON bounds a PublicKeyCredential posted by the browser (assertion or attestation).
	maxPasskeyJSON = 64 << 10
	// passkeyChallengePurpose is the keyring purpose of challenge HMACs.
	passkeyChallengePurpose = "webauthn challenge v1"
	// passkeyChallengeScope is the Store.UseAssertionID namespace of used challenges. It contains a space,
	// which no client id does, so it never meets a client's assertion ids.
	passkeyChallengeScope = "webauthn challenge"
	// passkeyChallengeLen is the length of a challenge: expiry, random, truncated HMAC.
	passkeyChallengeLen = 8 + 16 + 16
	// rpDisplayName is the relying party's name shown by authenticators (§5.4.2).
	rpDisplayName = "authsuite"
)

// RFC 8176 authentication method references of passkeys. "hwk" (proof of possession of a hardware-secured
// key) is a passkey that cannot leave its authenticator (backup eligibility BE = 0, WebAuthn §6.1.3); "swk"
// (software-secured key) is a synced passkey (BE = 1), whose private key is copied between devices by a
// passkey provider. "user" (RFC 8176 §2: user presence test) is added when the authenticator verified the
// user (the UV flag, §6.1): a PIN or biometric check on the device; sign-in policy treats that as a second
// factor in the same gesture.
const (
	amrHardwareKey = "hwk"
	amrSoftwareKey = "swk"
	amrUser        = "user"
)

// errPasskeyFailed is the error of an assertion or attestation the browser got wrong: unparseable, not an
// answer to a live challenge of this interaction, a credential the user does not own, a bad signature, a
// sign count that went backwards (a cloned authenticator), no user verification when it was required. The
// wrapped detail is for logs only.
var errPasskeyFailed = errors.New("the passkey was not accepted")

// relyingParties keeps one relying party per issuer (built once: webauthn.New validates the configuration).
var relyingParties sync.Map // issuer string -> *webauthn.WebAuthn

// relyingParty is the WebAuthn relying party of issuer: RP ID its host without port, the issuer's origin as
// the only origin, cross-origin use refused. It fails for an issuer whose host is not a valid RP ID (an IP
// address: WebAuthn §5.1.4.1 only allows domains; use a host name such as localhost).
func relyingParty(issuer string) (*webauthn.WebAuthn, error) {
	if v, ok := relyingParties.Load(issuer); ok {
		return v.(*webauthn.WebAuthn), nil
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webauthn: issuer %q has no host", issuer)
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: rpDisplayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyCeremonyLifetime, TimeoutUVD: passkeyCeremonyLifetime},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyCeremonyLifetime, TimeoutUVD: passkeyCeremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: relying party of %q: %w", issuer, err)
	}
	v, _ := relyingParties.LoadOrStore(issuer, rp)
	return v.(*webauthn.WebAuthn), nil
}

// rp is the server's relying party (relyingParty of the issuer).
func (s *Server) rp() (*webauthn.WebAuthn, error) { return relyingParty(s.issuer) }

// passkeyUser is a registry user with their passkeys, as go-webauthn's User. Its WebAuthnID (the user
// handle, §5.4.3, at most 64 bytes) is the user id; the tenant is always the interaction's or the session's.
type passkeyUser struct {
	id, name, display string
	creds             []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *passkeyUser) WebAuthnName() string                       { return u.name }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.display }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// newPasskeyUser adapts the registry's answer about a user to go-webauthn's User.
func newPasskeyUser(f *registryv1.GetFactorsResponse) *passkeyUser {
	u := f.GetUser()
	pu := &passkeyUser{id: u.GetUserId(), name: u.GetLoginName(), display: u.GetDisplayName()}
	if pu.display == "" {
		pu.display = pu.name
	}
	for _, p := range f.GetPasskeys() {
		pu.creds = append(pu.creds, credentialOf(p))
	}
	return pu
}

// credentialOf is the credential record (§4 "credential record") of a stored passkey.
func credentialOf(p *registryv1.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID: bytes.Clone(p.GetCredentialId()), PublicKey: bytes.Clone(p.GetPublicKey()),
		AttestationFormat: p.GetAttestationType(),
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: p.GetUserVerified(),
			BackupEligible: p.GetBackupEligible(), BackupState: p.GetBackupState()},
		Authenticator: webauthn.Authenticator{AAGUID: bytes.Clone(p.GetAaguid()), SignCount: p.GetSignCount()},
	}
	for _, t := range p.GetTransports() {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// passkeyOf is the passkey to store for a verified registration (name and times are the caller's).
func passkeyOf(c *webauthn.Credential) *registryv1.Passkey {
	p := &registryv1.Passkey{
		CredentialId: bytes.Clone(c.ID), PublicKey: bytes.Clone(c.PublicKey), AttestationType: c.AttestationFormat,
		Aaguid: bytes.Clone(c.Authenticator.AAGUID), SignCount: c.Authenticator.SignCount,
		BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState, UserVerified: c.Flags.UserVerified,
	}
	for _, t := range c.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	return p
}

// passkeyBinding is what a challenge is bound to: the tenant, the client (empty for the account page), the
// ceremony ("login", "2fa", "register") and the user (empty for a discoverable login).
func passkeyBinding(tenantID, clientID, ceremony, userID string) []byte {
	var b bytes.Buffer
	for _, s := range []string{tenantID, clientID, ceremony, userID} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// mintChallenge returns a new challenge bound to binding, valid until exp (see the comment at the top).
func (s *Server) mintChallenge(binding []byte, exp time.Time) []byte {
	var nonce [16]byte
	rand.Read(nonce[:]) // never fails (crypto/rand)
	return s.challengeWith(binding, exp, nonce)
}

// challengeWith is the challenge of binding, exp and nonce under the ring's primary key.
func (s *Server) challengeWith(binding []byte, exp time.Time, nonce [16]byte) []byte {
	c := make([]byte, 24, passkeyChallengeLen)
	binary.BigEndian.PutUint64(c[:8], uint64(exp.Unix()))
	copy(c[8:24], nonce[:])
	_, sum := s.kr.Digest(passkeyChallengePurpose, append(bytes.Clone(c), binding...))
	return append(c, sum[:16]...)
}

// checkChallenge reports whether c (base64url, as in clientDataJSON) is a challenge minted for binding
// under a key of the ring, and its expiry. It does not say whether it is still live or unused.
func (s *Server) checkChallenge(c string, binding []byte) (time.Time, bool) {
	if len(c) > 2*passkeyChallengeLen {
		return time.Time{}, false
	}
	// One challenge has one text, so the used-challenge record (keyed by the text) cannot be sidestepped by
	// another spelling of the same bytes: Strict refuses set unused low bits in the last character, and the
	// re-encoding check refuses the CR and LF characters the decoder skips.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(raw) != passkeyChallengeLen || base64.RawURLEncoding.EncodeToString(raw) != c {
		return time.Time{}, false
	}
	data := append(bytes.Clone(raw[:24]), binding...)
	for _, id := range s.kr.IDs() {
		if m := s.kr.MAC(passkeyChallengePurpose, id, data); m != nil && hmac.Equal(m[:16], raw[24:]) {
			return time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0), true
		}
	}
	return time.Time{}, false
}

// useChallenge accepts the challenge the browser signed (clientDataJSON's challenge) once: it must be minted
// for binding, unexpired, and not used before (atomically, on any replica). Its expiry is returned.
func (s *Server) useChallenge(ctx context.Context, c string, binding []byte) (time.Time, error) {
	exp, ok := s.checkChallenge(c, binding)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: not a challenge of this sign-in", errPasskeyFailed)
	}
	if !s.now().Before(exp) {
		return time.Time{}, fmt.Errorf("%w: the challenge expired", errPasskeyFailed)
	}
	fresh, err := s.st.UseAssertionID(ctx, passkeyChallengeScope, c, exp)
	if err != nil {
		return time.Time{}, err
	}
	if !fresh {
		return time.Time{}, fmt.Errorf("%w: the challenge was already answered", errPasskeyFailed)
	}
	return exp, nil
}

// interactionUser is the user a second-factor ceremony of in is for: the pending user.
func interactionUser(in *token.Interaction) string {
	if in.PendingUserID != "" {
		return in.PendingUserID
	}
	return in.UserID
}

// passkeyRequestOptions starts a passkey second factor (§7.2 "Verifying an Authentication Assertion") for
// the user of f, who passed the first factor of in: it answers the PublicKeyCredentialRequestOptions
// (JSON, §5.5) listing the user's credentials, user verification preferred, and keeps the ceremony's
// SessionData (JSON) in in.WebAuthnSession — the caller stores in. It answers "" (and changes nothing) when
// the user has no passkey.
func (s *Server) passkeyRequestOptions(ctx context.Context, in *token.Interaction, f *registryv1.GetFactorsResponse) (string, error) {
	if len(f.GetPasskeys()) == 0 {
		return "", nil
	}
	rp, err := s.rp()
	if err != nil {
		return "", err
	}
	u := newPasskeyUser(f)
	exp := s.now().Add(passkeyCeremonyLifetime)
	ch := s.mintChallenge(passkeyBinding(in.TenantID, in.ClientID, "2fa", u.id), exp)
	assertion, sd, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred), webauthn.WithChallenge(ch))
	if err != nil {
		return "", err
	}
	sd.Expires = exp
	return s.keepCeremony(in, assertion.Response, sd)
}

// passkeyLoginOptions starts a password-less sign-in (a discoverable credential, §5.1.3 with an empty
// allowCredentials) for in when in's tenant allows one (MfaPolicy.passwordless): user verification
// required. It answers the PublicKeyCredentialRequestOptions (JSON) and keeps the SessionData in
// in.WebAuthnSession; "" when the tenant does not allow it. The challenge is bound to in's tenant, client and
// purpose, so PasskeyLogin accepts it even when in is carried sealed and not stored.
func (s *Server) passkeyLoginOptions(ctx context.Context, in *token.Interaction) (string, error) {
	st, err := s.settings.get(ctx, in.TenantID)
	if err != nil {
		return "", err
	}
	if !st.GetMfaPolicy().GetPasswordless() {
		return "", nil
	}
	rp, err := s.rp()
	if err != nil {
		return "", err
	}
	exp := s.now().Add(passkeyCeremonyLifetime)
	ch := s.mintChallenge(passkeyBinding(in.TenantID, in.ClientID, "login:"+in.Purpose, ""), exp)
	assertion, sd, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired), webauthn.WithChallenge(ch))
	if err != nil {
		return "", err
	}
	sd.Expires = exp
	return s.keepCeremony(in, assertion.Response, sd)
}

// keepCeremony stores sd in in.WebAuthnSession and answers the options as JSON.
func (s *Server) keepCeremony(in *token.Interaction, options any, sd *webauthn.SessionData) (string, error) {
	b, err := json.Marshal(sd)
	if err != nil {
		return "", err
	}
	o, err := json.Marshal(options)
	if err != nil {
		return "", err
	}
	in.WebAuthnSession = b
	return string(o), nil
}

// parseAssertion parses a PublicKeyCredential with an AuthenticatorAssertionResponse (JSON, §5.1) of at
// most maxPasskeyJSON bytes.
func parseAssertion(assertionJSON string) (*protocol.ParsedCredentialAssertionData, error) {
	if assertionJSON == "" || len(assertionJSON) > maxPasskeyJSON {
		return nil, fmt.Errorf("%w: empty or over %d bytes", errPasskeyFailed, maxPasskeyJSON)
	}
	p, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(strings.NewReader(assertionJSON), maxPasskeyJSON))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPasskeyFailed, err)
	}
	return p, nil
}

// ceremonySession is the SessionData of the ceremony the assertion answers: the one kept in in (when it
// is for the same challenge), else rebuilt from the verified challenge (a sealed interaction keeps none).
// Its expiry is left zero: useChallenge checked the challenge's own expiry on the server's clock.
func ceremonySession(in *token.Interaction, challenge string, rpID string, userID []byte, uv protocol.UserVerificationRequirement) webauthn.SessionData {
	var sd webauthn.SessionData
	if len(in.WebAuthnSession) > 0 && json.Unmarshal(in.WebAuthnSession, &sd) == nil && sd.Challenge == challenge {
		sd.Expires = time.Time{}
		return sd
	}
	return webauthn.SessionData{Challenge: challenge, RelyingPartyID: rpID, UserID: userID, UserVerification: uv}
}

// verifyPasskeyAssertion checks a passkey second factor for the user of f (§7.2): the assertion must answer
// a live, unused challenge of passkeyRequestOptions for this interaction and user, come from the issuer's
// origin for its RP ID, be signed by one of the user's credentials, and not show a sign count that went
// backwards (a cloned authenticator, §6.1.1). The challenge is used up and in.WebAuthnSession cleared
// (single use; the caller stores in). The credential's new sign count and backup state are recorded in the
// registry. It answers the RFC 8176 methods of the gesture: "hwk" or "swk", plus "user" when the
// authenticator verified the user. Errors wrapping errPasskeyFailed are the browser's (count them as a
// failed attempt); others are failures of this service or the registry.
func (s *Server) verifyPasskeyAssertion(ctx context.Context, in *token.Interaction, f *registryv1.GetFactorsResponse, assertionJSON string) ([]string, error) {
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	p, err := parseAssertion(assertionJSON)
	if err != nil {
		return nil, err
	}
	u := newPasskeyUser(f)
	if u.id == "" || u.id != interactionUser(in) {
		return nil, fmt.Errorf("%w: not the interaction's user", errPasskeyFailed)
	}
	challenge := p.Response.CollectedClientData.Challenge
	if _, err := s.useChallenge(ctx, challenge, passkeyBinding(in.TenantID, in.ClientID, "2fa", u.id)); err != nil {
		return nil, err
	}
	sd := ceremonySession(in, challenge, rp.Config.RPID, u.WebAuthnID(), protocol.VerificationPreferred)
	in.WebAuthnSession = nil
	cred, err := rp.ValidateLogin(u, sd, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPasskeyFailed, err)
	}
	return s.acceptAssertion(ctx, in.TenantID, u.id, cred, p)
}

// acceptAssertion refuses a cloned authenticator, records a verified assertion's use and answers its
// methods (see verifyPasskeyAssertion).
func (s *Server) acceptAssertion(ctx context.Context, tenantID, userID string, cred *webauthn.Credential, p *protocol.ParsedCredentialAssertionData) ([]string, error) {
	if cred.Authenticator.CloneWarning {
		s.log.Warn("audit", "event", "passkey_clone_warning", "tenant_id", tenantID, "user_id", userID)
		return nil, fmt.Errorf("%w: the sign count went backwards (cloned authenticator?)", errPasskeyFailed)
	}
	if s.factors == nil {
		return nil, errors.New("webauthn: no factor API to record the passkey's use")
	}
	flags := p.Response.AuthenticatorData.Flags
	_, err := s.factors.RecordPasskeyUse(ctx, &registryv1.RecordPasskeyUseRequest{
		TenantId: tenantID, UserId: userID, CredentialId: cred.ID,
		SignCount: p.Response.AuthenticatorData.Counter, BackupState: flags.HasBackupState(),
	})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		return nil, fmt.Errorf("%w: the passkey was deleted meanwhile", errPasskeyFailed)
	case codes.FailedPrecondition:
		// The registry's atomic check of the stored counter (a concurrent use may have moved it past this
		// one's): a refused passkey, counted as a failed attempt, not a failure of the server.
		s.log.Warn("audit", "event", "passkey_clone_warning", "tenant_id", tenantID, "user_id", userID)
		return nil, fmt.Errorf("%w: the sign count did not increase (cloned authenticator?)", errPasskeyFailed)
	default:
		return nil, err
	}
	return passkeyAMR(cred.Flags.BackupEligible, flags.HasUserVerified()), nil
}

// passkeyAMR is the RFC 8176 amr of a passkey gesture (see amrHardwareKey).
func passkeyAMR(backupEligible, userVerified bool) []string {
	amr := []string{amrHardwareKey}
	if backupEligible {
		amr[0] = amrSoftwareKey
	}
	if userVerified {
		amr = append(amr, amrUser)
	}
	return amr
}
