package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/png"

	"github.com/pquerna/otp"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/token"
)

// A TOTP enrolment the tenant's policy makes a user start at sign-in (SignInState.Enrollment) is kept in the
// interaction sealed by this service (suitekey Seal, AES-256-GCM): the registry's own sealed enrolment, and
// the otpauth:// URI and base32 key the page shows again after a wrong confirmation code. The key is a
// secret: it never reaches the store or the logs in the clear.

// enrollmentAAD binds sealed enrolments to their use.
var enrollmentAAD = []byte("authsuite token totp enrollment v1")

// maxEnrollment bounds a sealed enrolment (the registry's is well under 1 KiB).
const maxEnrollment = 8 << 10

// enrollQRSize is the side of the QR code image, pixels.
const enrollQRSize = 240

// pendingEnrollment is the sealed content of SignInState.Enrollment.
type pendingEnrollment struct {
	Registry string `json:"e"` // BeginTotpEnrollmentResponse.enrollment
	URI      string `json:"u"` // otpauth://totp/...
	Secret   string `json:"s"` // base32 key
}

// errEnrollment is an enrolment that cannot be opened (another key ring, tampered).
var errEnrollment = errors.New("the TOTP enrolment cannot be opened")

// beginEnrollment starts a TOTP enrolment for the pending user of in (issuer label: the tenant's branded
// name) and keeps it sealed in in.Enrollment; the caller stores in.
func (s *Server) beginEnrollment(ctx context.Context, in *token.Interaction, st *registryv1.SignInSettings) error {
	label := st.GetBranding().GetDisplayName()
	if label == "" {
		label = st.GetTenantName()
	}
	if label == "" {
		label = "authsuite"
	}
	resp, err := s.factors.BeginTotpEnrollment(ctx, &registryv1.BeginTotpEnrollmentRequest{
		TenantId: in.TenantID, UserId: in.PendingUserID, IssuerLabel: label,
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(pendingEnrollment{Registry: resp.GetEnrollment(), URI: resp.GetOtpauthUri(), Secret: resp.GetSecret()})
	if err != nil {
		return err
	}
	in.Enrollment = base64.RawURLEncoding.EncodeToString(s.kr.Seal(b, enrollmentAAD))
	return nil
}

// openEnrollment opens in.Enrollment.
func (s *Server) openEnrollment(in *token.Interaction) (pendingEnrollment, error) {
	var pe pendingEnrollment
	if len(in.Enrollment) > maxEnrollment {
		return pe, errEnrollment
	}
	raw, err := base64.RawURLEncoding.DecodeString(in.Enrollment)
	if err != nil {
		return pe, errEnrollment
	}
	plain, err := s.kr.Open(raw, enrollmentAAD)
	if err != nil || json.Unmarshal(plain, &pe) != nil || pe.Registry == "" {
		return pe, errEnrollment
	}
	return pe, nil
}

// enrollmentQR is the PNG QR code of an otpauth:// URI.
func enrollmentQR(uri string) ([]byte, error) {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, err
	}
	img, err := k.Image(enrollQRSize, enrollQRSize)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
