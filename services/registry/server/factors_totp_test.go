package server_test

import (
	"bytes"
	"context"
	"image/png"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/services/registry"
)

var recoveryCodeRE = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

// TestTOTPEnrollment: an enrolment answers a key, its otpauth URI and a 256 px QR code, stores nothing until
// confirmed with a current code, is bound to its user and expires after 15 minutes; the key is stored sealed
// and the confirmation answers 10 distinct recovery codes of 80 bits.
func TestTOTPEnrollment(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	begin, err := e.factors.BeginTotpEnrollment(ctx, &registryv1.BeginTotpEnrollmentRequest{TenantId: "acme", UserId: "alice", IssuerLabel: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(begin.GetOtpauthUri(), "otpauth://totp/Acme:alice?") || !strings.Contains(begin.GetOtpauthUri(), "secret="+begin.GetSecret()) {
		t.Fatalf("otpauth URI %q", begin.GetOtpauthUri())
	}
	img, err := png.Decode(bytes.NewReader(begin.GetQrPng()))
	if err != nil || img.Bounds().Dx() != 256 || img.Bounds().Dy() != 256 {
		t.Fatalf("QR code: %v, %v", err, img)
	}
	if u, _ := e.store.GetUser(ctx, "acme", "alice"); u.TOTP.Enrolled() {
		t.Fatal("BeginTotpEnrollment stored the key")
	}
	now := e.clock.now()
	_, err = e.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: "acme", UserId: "alice",
		Enrollment: begin.GetEnrollment(), Code: code(t, begin.GetSecret(), now.Add(-5*time.Minute))})
	wantField(t, err, "code")
	// Another user cannot confirm alice's enrolment, nor can a tampered one be confirmed.
	_, err = e.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: "acme", UserId: "bob",
		Enrollment: begin.GetEnrollment(), Code: code(t, begin.GetSecret(), now)})
	wantField(t, err, "enrollment")
	tampered := []byte(begin.GetEnrollment())
	tampered[len(tampered)-3] ^= 1
	_, err = e.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: "acme", UserId: "alice",
		Enrollment: string(tampered), Code: code(t, begin.GetSecret(), now)})
	wantField(t, err, "enrollment")

	// Typed as an authenticator app shows it, with a space in the middle.
	c := code(t, begin.GetSecret(), now)
	conf, err := e.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: "acme", UserId: "alice",
		Enrollment: begin.GetEnrollment(), Code: c[:3] + " " + c[3:]})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range conf.GetRecoveryCodes() {
		if !recoveryCodeRE.MatchString(c) || seen[c] {
			t.Fatalf("recovery code %q (seen %v)", c, seen[c])
		}
		seen[c] = true
	}
	if len(seen) != 10 {
		t.Fatalf("%d recovery codes", len(seen))
	}
	u, _ := e.store.GetUser(ctx, "acme", "alice")
	if !u.TOTP.Enrolled() || bytes.Contains(u.TOTP.Sealed, []byte(begin.GetSecret())) || len(u.RecoveryCodes) != 10 {
		t.Fatalf("stored TOTP %+v", u.Factors)
	}
	for _, rc := range u.RecoveryCodes {
		for c := range seen {
			if bytes.Contains(rc.Digest, []byte(c)) {
				t.Fatal("a recovery code is stored in clear")
			}
		}
	}
	f, err := e.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "acme", UserId: "alice"})
	if err != nil || !f.GetTotpEnrolled() || f.GetRecoveryCodesLeft() != 10 || !f.GetUser().GetTotpEnrolled() {
		t.Fatalf("GetFactors = %v, %v", f, err)
	}

	// An enrolment expires after 15 minutes.
	again, err := e.factors.BeginTotpEnrollment(ctx, &registryv1.BeginTotpEnrollmentRequest{TenantId: "acme", UserId: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.add(15*time.Minute + time.Second)
	_, err = e.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: "acme", UserId: "bob",
		Enrollment: again.GetEnrollment(), Code: code(t, again.GetSecret(), e.clock.now())})
	wantField(t, err, "enrollment")

	// Without the internal credential nothing is answered.
	_, err = e.noCred.BeginTotpEnrollment(ctx, &registryv1.BeginTotpEnrollmentRequest{TenantId: "acme", UserId: "alice"})
	wantCode(t, err, codes.PermissionDenied)
}

// TestTOTPCodeUsedOnce: a code is accepted within one step either side of now, only for a step after the
// last accepted one (so never twice, RFC 6238 §5.2), and a wrong, stale or future code is refused; a user
// without TOTP gets FAILED_PRECONDITION and a disabled user PERMISSION_DENIED.
func TestTOTPCodeUsedOnce(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	verify := func(c string) (*registryv1.VerifySecondFactorCodeResponse, error) {
		return e.factors.VerifySecondFactorCode(ctx, &registryv1.VerifySecondFactorCodeRequest{TenantId: "acme", UserId: "alice", Code: c})
	}
	_, err := verify("123456")
	wantCode(t, err, codes.FailedPrecondition)
	secret, _ := e.enrol(t, "alice")
	t0 := e.clock.now()
	_, err = verify(code(t, secret, t0)) // used by the confirmation
	wantCode(t, err, codes.Unauthenticated)
	e.clock.add(30 * time.Second)
	_, err = verify(code(t, secret, t0.Add(-30*time.Second))) // older than the last step used
	wantCode(t, err, codes.Unauthenticated)
	_, err = verify(code(t, secret, t0.Add(3*30*time.Second))) // two steps ahead of now
	wantCode(t, err, codes.Unauthenticated)
	r, err := verify(code(t, secret, e.clock.now()))
	if err != nil || r.GetMethod() != "otp" || r.GetRecoveryCodesLeft() != 10 {
		t.Fatalf("current code: %v, %v", r, err)
	}
	_, err = verify(code(t, secret, e.clock.now()))
	wantCode(t, err, codes.Unauthenticated)
	// The next step's code (clock skew of the phone) is accepted once too, also with the app's space.
	next := code(t, secret, e.clock.now().Add(30*time.Second))
	r, err = verify(" " + next[:3] + " " + next[3:])
	if err != nil || r.GetMethod() != "otp" {
		t.Fatalf("next step: %v, %v", r, err)
	}
	for _, bad := range []string{"000000x", "", strings.Repeat("1", 65), "12345", "abcdef"} {
		_, err = verify(bad)
		wantCode(t, err, codes.Unauthenticated)
	}
	if _, err := e.store.UpdateUser(ctx, "acme", "alice", func(u registry.User) (registry.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.add(time.Minute)
	_, err = verify(code(t, secret, e.clock.now()))
	wantCode(t, err, codes.PermissionDenied)
}

// TestSecondFactorConcurrentUse: of concurrent uses of one TOTP code, or of one recovery code, exactly one
// succeeds (on bbolt, on the memory store and on etcd, whose writes are compare-and-swap).
func TestSecondFactorConcurrentUse(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) *fenv{
		"bbolt":  func(t testing.TB) *fenv { return newFactorEnv(t, nil, "") },
		"memory": newMemFactorEnv,
		"etcd":   newEtcdFactorEnv,
	} {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			secret, recovery := e.enrol(t, "alice")
			e.clock.add(30 * time.Second)
			for _, c := range []string{code(t, secret, e.clock.now()), recovery[3]} {
				var ok, unauth atomic.Int32
				var wg sync.WaitGroup
				for range 12 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := e.factors.VerifySecondFactorCode(context.Background(), &registryv1.VerifySecondFactorCodeRequest{TenantId: "acme", UserId: "alice", Code: c})
						switch apistatus.FromStatus(err).Code {
						case codes.OK:
							ok.Add(1)
						case codes.Unauthenticated:
							unauth.Add(1)
						default:
							t.Errorf("concurrent use: %v", err)
						}
					}()
				}
				wg.Wait()
				if ok.Load() != 1 || unauth.Load() != 11 {
					t.Fatalf("code %q: %d succeeded, %d refused; want exactly one", c, ok.Load(), unauth.Load())
				}
			}
		})
	}
}

// TestRecoveryCodes: a recovery code works once, typed in any case and with or without dashes (Crockford's
// misreadings too); regenerating replaces every code; deleting TOTP removes key and codes.
func TestRecoveryCodes(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	_, recovery := e.enrol(t, "alice")
	verify := func(c string) (*registryv1.VerifySecondFactorCodeResponse, error) {
		return e.factors.VerifySecondFactorCode(ctx, &registryv1.VerifySecondFactorCodeRequest{TenantId: "acme", UserId: "alice", Code: c})
	}
	typed := strings.ToUpper(strings.ReplaceAll(recovery[0], "-", ""))
	typed = strings.ReplaceAll(strings.ReplaceAll(typed, "1", "l"), "0", "O")
	r, err := verify(typed)
	if err != nil || r.GetMethod() != "recovery" || r.GetRecoveryCodesLeft() != 9 {
		t.Fatalf("recovery code %q typed as %q: %v, %v", recovery[0], typed, r, err)
	}
	_, err = verify(recovery[0])
	wantCode(t, err, codes.Unauthenticated)
	// Another user's codes are not alice's.
	_, bobCodes := e.enrol(t, "bob")
	_, err = verify(bobCodes[0])
	wantCode(t, err, codes.Unauthenticated)

	regen, err := e.factors.RegenerateRecoveryCodes(ctx, &registryv1.RegenerateRecoveryCodesRequest{TenantId: "acme", UserId: "alice"})
	if err != nil || len(regen.GetRecoveryCodes()) != 10 {
		t.Fatalf("RegenerateRecoveryCodes = %v, %v", regen, err)
	}
	_, err = verify(recovery[1])
	wantCode(t, err, codes.Unauthenticated)
	if r, err := verify(regen.GetRecoveryCodes()[9]); err != nil || r.GetRecoveryCodesLeft() != 9 {
		t.Fatalf("new code: %v, %v", r, err)
	}
	if _, err := e.factors.DeleteTotp(ctx, &registryv1.DeleteTotpRequest{TenantId: "acme", UserId: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, err = verify(regen.GetRecoveryCodes()[0])
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.factors.RegenerateRecoveryCodes(ctx, &registryv1.RegenerateRecoveryCodesRequest{TenantId: "acme", UserId: "alice"})
	wantCode(t, err, codes.FailedPrecondition)
	if u, _ := e.store.GetUser(ctx, "acme", "alice"); u.TOTP.Enrolled() || u.RecoveryCodes != nil {
		t.Fatalf("after DeleteTotp: %+v", u.Factors)
	}
	_, err = e.factors.DeleteTotp(ctx, &registryv1.DeleteTotpRequest{TenantId: "acme", UserId: "nobody"})
	wantCode(t, err, codes.NotFound)
}
