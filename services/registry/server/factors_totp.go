package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// TOTP parameters (RFC 6238 §4: the defaults every authenticator app supports).
const (
	totpPeriod        = 30
	totpDigits        = otp.DigitsSix
	totpSkew          = 1 // steps either side of now (RFC 6238 §5.2)
	totpEnrollmentTTL = 15 * time.Minute
	totpQRSize        = 256
	recoveryCodeCount = 10
	maxCodeLen        = 64
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// enrollmentAD binds a sealed enrolment to its account (incarnation included) and purpose.
func enrollmentAD(u registry.User) []byte {
	return []byte("authsuite totp-enrollment\x00" + u.TenantID + "\x00" + u.ID + "\x00" + u.Incarnation)
}

// sealedEnrollment is the plaintext of an enrolment: the new key and when the enrolment ends.
type sealedEnrollment struct {
	Secret  string `json:"s"`
	Expires int64  `json:"e"`
}

// BeginTotpEnrollment makes a new key and answers it sealed for this account with a 15-minute expiry;
// nothing is stored.
func (f *factorService) BeginTotpEnrollment(ctx context.Context, req *registryv1.BeginTotpEnrollmentRequest) (*registryv1.BeginTotpEnrollmentResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	issuer := strings.TrimSpace(req.GetIssuerLabel())
	if issuer == "" || len(issuer) > 100 || strings.ContainsAny(issuer, ":\x00") {
		issuer = "authsuite"
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: u.LoginName, Period: totpPeriod, Digits: totpDigits,
		Algorithm: otp.AlgorithmSHA1, SecretSize: 20, // RFC 4226 §4 R6: 160 bits
	})
	if err != nil {
		return nil, err
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	plain, _ := json.Marshal(sealedEnrollment{Secret: key.Secret(), Expires: f.s.now().Add(totpEnrollmentTTL).Unix()})
	return &registryv1.BeginTotpEnrollmentResponse{
		Enrollment: base64.RawURLEncoding.EncodeToString(f.s.keyring.Seal(plain, enrollmentAD(u))),
		OtpauthUri: key.URL(), QrPng: buf.Bytes(), Secret: key.Secret(),
	}, nil
}

// ConfirmTotpEnrollment stores the enrolment's key when code is valid for it, with the code's step used,
// and answers new recovery codes.
func (f *factorService) ConfirmTotpEnrollment(ctx context.Context, req *registryv1.ConfirmTotpEnrollmentRequest) (*registryv1.ConfirmTotpEnrollmentResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(req.GetEnrollment())
	if err != nil || len(raw) > 1024 {
		return nil, apierror.Invalid("enrollment", "not an enrolment of this user")
	}
	plain, err := f.s.keyring.Open(raw, enrollmentAD(u))
	var e sealedEnrollment
	if err != nil || json.Unmarshal(plain, &e) != nil || e.Secret == "" {
		return nil, apierror.Invalid("enrollment", "not an enrolment of this user")
	}
	now := f.s.now()
	if now.Unix() >= e.Expires {
		return nil, apierror.Invalid("enrollment", "expired: start again")
	}
	step, ok := matchTOTP(e.Secret, req.GetCode(), now)
	if !ok {
		return nil, apierror.Invalid("code", "not the current code of the new key")
	}
	codes, digests := f.newRecoveryCodes()
	sealed := f.s.keyring.Seal([]byte(e.Secret), registry.TOTPKeyAD(u.TenantID, u.ID, u.Incarnation))
	if _, err := f.updateActive(ctx, u, func(u *registry.User) error {
		u.TOTP = registry.TOTP{Sealed: sealed, LastStep: step, EnrollTime: now.UTC()}
		u.RecoveryCodes = digests
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.ConfirmTotpEnrollmentResponse{RecoveryCodes: codes}, nil
}

// VerifySecondFactorCode checks a TOTP code (6 digits) or a recovery code. A TOTP code counts only for a
// step after the last one accepted, and the step is stored in the same atomic update; a recovery code is
// removed in the update that accepts it. Of concurrent calls with one code, exactly one succeeds.
func (f *factorService) VerifySecondFactorCode(ctx context.Context, req *registryv1.VerifySecondFactorCodeRequest) (*registryv1.VerifySecondFactorCodeResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	if !u.TOTP.Enrolled() {
		return nil, apierror.FailedPrecondition("the user has no TOTP")
	}
	code := req.GetCode()
	if code == "" || len(code) > maxCodeLen {
		return nil, apierror.Unauthenticated("wrong code")
	}
	if digits, ok := totpCode(code); ok {
		secret, err := f.s.keyring.Open(u.TOTP.Sealed, registry.TOTPKeyAD(u.TenantID, u.ID, u.Incarnation))
		if err != nil {
			f.s.log.Error("cannot open a user's TOTP key", "tenant", u.TenantID, "user", u.ID, "err", err)
			return nil, apierror.Unauthenticated("wrong code")
		}
		step, ok := matchTOTP(string(secret), digits, f.s.now())
		if !ok {
			return nil, apierror.Unauthenticated("wrong code")
		}
		sealed := u.TOTP.Sealed
		out, err := f.updateActive(ctx, u, func(u *registry.User) error {
			// The key must be the one the code was checked against, and the step not used yet.
			if !bytes.Equal(u.TOTP.Sealed, sealed) || step <= u.TOTP.LastStep {
				return apierror.Unauthenticated("wrong code")
			}
			u.TOTP.LastStep = step
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &registryv1.VerifySecondFactorCodeResponse{Method: "otp", RecoveryCodesLeft: int32(len(out.RecoveryCodes))}, nil
	}
	norm, ok := normalizeRecoveryCode(code)
	if !ok {
		return nil, apierror.Unauthenticated("wrong code")
	}
	out, err := f.updateActive(ctx, u, func(u *registry.User) error {
		i := f.findRecoveryCode(u.RecoveryCodes, norm)
		if i < 0 {
			return apierror.Unauthenticated("wrong code")
		}
		u.RecoveryCodes = append(u.RecoveryCodes[:i:i], u.RecoveryCodes[i+1:]...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.VerifySecondFactorCodeResponse{Method: "recovery", RecoveryCodesLeft: int32(len(out.RecoveryCodes))}, nil
}

// DeleteTotp removes the key and the recovery codes (nothing to do for a user without them).
func (f *factorService) DeleteTotp(ctx context.Context, req *registryv1.DeleteTotpRequest) (*registryv1.DeleteTotpResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	if _, err := f.updateActive(ctx, u, func(u *registry.User) error {
		u.TOTP, u.RecoveryCodes = registry.TOTP{}, nil
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.DeleteTotpResponse{}, nil
}

// RegenerateRecoveryCodes replaces the recovery codes of a user with TOTP.
func (f *factorService) RegenerateRecoveryCodes(ctx context.Context, req *registryv1.RegenerateRecoveryCodesRequest) (*registryv1.RegenerateRecoveryCodesResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	codes, digests := f.newRecoveryCodes()
	if _, err := f.updateActive(ctx, u, func(u *registry.User) error {
		if !u.TOTP.Enrolled() {
			return apierror.FailedPrecondition("the user has no TOTP")
		}
		u.RecoveryCodes = digests
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.RegenerateRecoveryCodesResponse{RecoveryCodes: codes}, nil
}

// totpCode is a typed TOTP code without the spaces people copy from an authenticator app ("123 456"), and
// whether that is exactly totpDigits decimal digits.
func totpCode(typed string) (string, bool) {
	code := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, typed)
	return code, len(code) == int(totpDigits) && strings.Trim(code, "0123456789") == ""
}

// matchTOTP reports whether code is the code of secret for a step within totpSkew of now, and which step
// (the latest that matches). Every candidate is compared in constant time.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code, valid := totpCode(code)
	if !valid {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	var found int64
	ok := false
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = step, true
		}
	}
	return found, ok
}

// recoveryAlphabet is Crockford's base32 in lower case: 5 bits a character, no i, l, o or u to misread.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newRecoveryCodes returns recoveryCodeCount codes of 80 random bits, shown as xxxx-xxxx-xxxx-xxxx, and
// their keyed digests (of the normalized form).
func (f *factorService) newRecoveryCodes() ([]string, []registry.RecoveryCode) {
	codes := make([]string, 0, recoveryCodeCount)
	digests := make([]registry.RecoveryCode, 0, recoveryCodeCount)
	for range recoveryCodeCount {
		raw := make([]byte, 16)
		rand.Read(raw)
		var b strings.Builder
		for i, r := range raw {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[r&31])
		}
		code := b.String()
		norm, _ := normalizeRecoveryCode(code)
		keyID, sum := f.s.keyring.Digest(registry.RecoveryCodeDigestPurpose, []byte(norm))
		codes = append(codes, code)
		digests = append(digests, registry.RecoveryCode{KeyID: keyID, Digest: sum})
	}
	return codes, digests
}

// normalizeRecoveryCode turns a typed recovery code into the form its digest is of: lower case, without
// dashes or spaces, with Crockford's misreadings (i, l → 1; o → 0) mapped. ok is false unless it is 16
// characters of the alphabet.
func normalizeRecoveryCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case '-', ' ':
			continue
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > 16 {
			return "", false
		}
	}
	return b.String(), b.Len() == 16
}

// findRecoveryCode returns the index of the stored code norm is, or -1.
func (f *factorService) findRecoveryCode(codes []registry.RecoveryCode, norm string) int {
	macs := map[string][]byte{}
	found := -1
	for i, c := range codes {
		m, ok := macs[c.KeyID]
		if !ok {
			m = f.s.keyring.MAC(registry.RecoveryCodeDigestPurpose, c.KeyID, []byte(norm))
			macs[c.KeyID] = m
		}
		if m != nil && hmac.Equal(m, c.Digest) && found < 0 {
			found = i
		}
	}
	return found
}
