package server

import (
	"fmt"
	"slices"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/token"
)

// Authentication methods (RFC 8176 §2) the sign-in records in a session's amr.
const (
	// amrPassword: a password (the login form, the password grant).
	amrPassword = "pwd"
	// amrOTP: a one-time code: a TOTP code (RFC 6238), and also a recovery code, for which RFC 8176 has no
	// value of its own (it is a one-time password the user was given at enrolment).
	amrOTP = "otp"
	// amrMFA: more than one factor was used (RFC 8176 §2 "mfa").
	amrMFA = "mfa"
	// amrFederated: an upstream identity provider signed the user in (RFC 8176 §2 "fed").
	amrFederated = "fed"
)

// Authentication context classes (OIDC Core §2 acr) of this server. ACRValuesSupported lists them, weakest
// first.
const (
	// ACRPassword is one factor: a password (or an upstream provider's sign-in).
	ACRPassword = "urn:authsuite:acr:pwd"
	// ACRMFA is two factors: a password and a TOTP or recovery code or a passkey, or a passkey that
	// verified the user (WebAuthn UV: possession plus PIN or biometrics).
	ACRMFA = "urn:authsuite:acr:mfa"
)

// ACRValuesSupported are the acr values this server can satisfy, weakest first (OpenID Connect Discovery
// 1.0 §3 acr_values_supported).
var ACRValuesSupported = []string{ACRPassword, ACRMFA}

// acrRank orders the classes: a higher rank satisfies every request for a lower one. Unknown: 0.
func acrRank(acr string) int {
	switch acr {
	case ACRPassword:
		return 1
	case ACRMFA:
		return 2
	}
	return 0
}

// Limits of acr_values (OIDC Core §3.1.2.1: space-separated, in order of preference).
const (
	maxACRValues   = 10
	maxACRValueLen = 256
)

// parseACRValues splits the acr_values parameter (OIDC Core §3.1.2.1) into its values, in order, without
// repeats. Each value is 1-maxACRValueLen visible ASCII characters (%x21-7E) and there are at most
// maxACRValues; otherwise it fails naming the problem (invalid_request). Empty: nil. Values this server does
// not know are kept (acr is a voluntary claim: they are simply not satisfied).
func parseACRValues(raw string) ([]string, error) {
	if len(raw) > maxACRValues*(maxACRValueLen+1) {
		return nil, fmt.Errorf("acr_values is too long")
	}
	var out []string
	for _, v := range strings.Split(raw, " ") {
		if v == "" {
			continue
		}
		if len(v) > maxACRValueLen {
			return nil, fmt.Errorf("an acr_values value is longer than %d characters", maxACRValueLen)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x21 || v[i] > 0x7e {
				return nil, fmt.Errorf("acr_values must be space-separated visible ASCII values")
			}
		}
		if slices.Contains(out, v) {
			continue
		}
		if len(out) == maxACRValues {
			return nil, fmt.Errorf("acr_values has more than %d values", maxACRValues)
		}
		out = append(out, v)
	}
	return out, nil
}

// requestedACR is the class an interaction asks for: the strongest known class among its acr_values (a
// request naming mfa anywhere is honoured as asking for mfa: satisfying a stronger class than the first
// value is always allowed, OIDC Core §5.5.1.1), or "" when it names none this server knows.
func requestedACR(values []string) string {
	best := ""
	for _, v := range values {
		if acrRank(v) > acrRank(best) {
			best = v
		}
	}
	return best
}

// wantsMFA reports whether acr_values ask for the two-factor class.
func wantsMFA(values []string) bool { return requestedACR(values) == ACRMFA }

// authnOf is the Authn of a sign-in that used the methods amr (RFC 8176), in order, without repeats: "mfa"
// is added, and the class is ACRMFA, when two distinct factors were used (a password or upstream sign-in,
// a one-time code, a passkey, the passkey's user verification); otherwise the class is ACRPassword.
func authnOf(amr ...string) token.Authn {
	var out []string
	factors := 0
	for _, m := range amr {
		if m == "" || m == amrMFA || slices.Contains(out, m) {
			continue
		}
		out = append(out, m)
		factors++
	}
	if factors >= 2 {
		return token.Authn{AMR: append(out, amrMFA), ACR: ACRMFA}
	}
	return token.Authn{AMR: out, ACR: ACRPassword}
}

// policyRequiresMFA reports whether the tenant's policy makes a user with roles present a second factor
// (MfaPolicy: ALL, or ROLES and the user holds one of them).
func policyRequiresMFA(p *registryv1.MfaPolicy, roles []string) bool {
	switch p.GetRequirement() {
	case registryv1.MfaPolicy_REQUIREMENT_ALL:
		return true
	case registryv1.MfaPolicy_REQUIREMENT_ROLES:
		for _, r := range p.GetRoles() {
			if slices.Contains(roles, r) {
				return true
			}
		}
	}
	return false
}

// hasSecondFactor reports whether the user of f has a factor to present after the password.
func hasSecondFactor(f *registryv1.GetFactorsResponse) bool {
	return f.GetTotpEnrolled() || len(f.GetPasskeys()) > 0
}

// factorNeed is what a sign-in must do after its first factor.
type factorNeed int

const (
	// needNothing: the first factor is enough (nobody asks for more, or the user has nothing more and
	// the policy does not require it: acr_values are voluntary, OIDC Core §3.1.2.1).
	needNothing factorNeed = iota
	// needVerify: the user presents an enrolled factor (TOTP or recovery code, or a passkey).
	needVerify
	// needEnroll: the policy requires a factor the user does not have: TOTP is enrolled now.
	needEnroll
)

// decideFactor is the second-factor rule of a password sign-in: a user who enrolled a factor is always
// asked for it (the optional policy); a user the policy requires (ALL, or ROLES and a role of theirs) must
// present one, enrolling TOTP when they have none. acr_values asking for mfa cannot make a user without a
// factor present one (acr is voluntary, OIDC Core §3.1.2.1: the ID token then says acr pwd, and the
// client decides).
func decideFactor(p *registryv1.MfaPolicy, f *registryv1.GetFactorsResponse) factorNeed {
	switch {
	case hasSecondFactor(f):
		return needVerify
	case policyRequiresMFA(p, f.GetUser().GetRoles()):
		return needEnroll
	}
	return needNothing
}
