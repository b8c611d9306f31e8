package registry

import (
	"bytes"
	"slices"
	"time"
)

// Factors are a user's sign-in factors beyond the password: a TOTP key with its recovery codes, passkeys,
// and links to upstream identity providers. The zero value is a user without any (as every user created
// before factors existed).
type Factors struct {
	TOTP          TOTP
	RecoveryCodes []RecoveryCode
	// Passkeys are ordered by CreateTime, at most MaxPasskeys.
	Passkeys []Passkey
	// FederatedIdentities are unique per tenant by (ProviderID, Subject): the store keeps an index of them
	// (Store.FindUserByFederatedIdentity).
	FederatedIdentities []FederatedIdentity
}

// TOTP is a user's RFC 6238 key. Sealed is the key (base32 text) sealed with the suite keyring (TOTPKeyAD),
// nil when the user has no TOTP. LastStep is the latest time step a code was accepted for: a code of that
// step or an earlier one is never accepted again (RFC 6238 §5.2).
type TOTP struct {
	Sealed     []byte
	LastStep   int64
	EnrollTime time.Time
}

// Enrolled reports whether the user has a TOTP key.
func (t TOTP) Enrolled() bool { return len(t.Sealed) > 0 }

// RecoveryCode is one unused recovery code as stored: its keyed digest (RecoveryCodeDigestPurpose) under
// the master key KeyID. Used codes are removed.
type RecoveryCode struct {
	KeyID  string
	Digest []byte
}

// RecoveryCodeDigestPurpose is the suitekey.Digest purpose recovery codes are hashed under.
const RecoveryCodeDigestPurpose = "recovery-code"

// MaxPasskeys is how many passkeys a user may have.
const MaxPasskeys = 20

// Passkey is a WebAuthn credential of a user (W3C Web Authentication Level 2 §4). Nothing in it is secret.
type Passkey struct {
	CredentialID    []byte
	PublicKey       []byte
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	Transports      []string
	BackupEligible  bool
	BackupState     bool
	UserVerified    bool
	Name            string
	CreateTime      time.Time
	LastUsedTime    time.Time
}

// FederatedIdentity links a user to their subject at an upstream provider of the tenant.
type FederatedIdentity struct {
	ProviderID string
	Subject    string
	Email      string
}

// TOTPKeyAD is the additional data a user's TOTP key is sealed with, binding it to the account (its
// incarnation included, so a user created again with the same ID cannot inherit it).
func TOTPKeyAD(tenantID, userID, incarnation string) []byte {
	return []byte("authsuite totp-key\x00" + tenantID + "\x00" + userID + "\x00" + incarnation)
}

// Passkey returns the user's passkey with credential id, and its index, or -1.
func (f Factors) Passkey(id []byte) int {
	return slices.IndexFunc(f.Passkeys, func(p Passkey) bool { return bytes.Equal(p.CredentialID, id) })
}

// FederatedIdentity returns the index of the user's link to (provider, subject), or -1.
func (f Factors) FederatedIdentity(provider, subject string) int {
	return slices.IndexFunc(f.FederatedIdentities, func(fi FederatedIdentity) bool {
		return fi.ProviderID == provider && fi.Subject == subject
	})
}

// Clone returns a deep copy of f.
func (f Factors) Clone() Factors {
	f.TOTP.Sealed = slices.Clone(f.TOTP.Sealed)
	if f.RecoveryCodes != nil {
		rc := make([]RecoveryCode, len(f.RecoveryCodes))
		for i, c := range f.RecoveryCodes {
			c.Digest = slices.Clone(c.Digest)
			rc[i] = c
		}
		f.RecoveryCodes = rc
	}
	if f.Passkeys != nil {
		ps := make([]Passkey, len(f.Passkeys))
		for i, p := range f.Passkeys {
			p.CredentialID = slices.Clone(p.CredentialID)
			p.PublicKey = slices.Clone(p.PublicKey)
			p.AAGUID = slices.Clone(p.AAGUID)
			p.Transports = slices.Clone(p.Transports)
			ps[i] = p
		}
		f.Passkeys = ps
	}
	f.FederatedIdentities = slices.Clone(f.FederatedIdentities)
	return f
}
