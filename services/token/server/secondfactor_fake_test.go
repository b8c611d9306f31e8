package server

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
)

// mfaFactors is a FactorInternalService served over loopback gRPC for the second-factor tests: per-tenant
// MFA policies, users with roles, TOTP keys (RFC 6238 with the real clock, each time step accepted once, as
// the registry does) and single-use recovery codes.
type mfaFactors struct {
	registryv1.UnimplementedFactorInternalServiceServer

	mu       sync.Mutex
	policy   map[string]*registryv1.MfaPolicy // tenant → policy
	users    map[string]*registryv1.User      // user id → user
	inc      map[string]string                // user id → incarnation
	totp     map[string]string                // user id → base32 key
	used     map[string]int64                 // user id → last accepted time step
	recovery map[string][]string              // user id → unused recovery codes
	verifies int
	expire   bool // ConfirmTotpEnrollment answers every enrolment expired
	down     bool // GetSignInSettings answers UNAVAILABLE
}

func newMFAFactors() *mfaFactors {
	return &mfaFactors{policy: map[string]*registryv1.MfaPolicy{}, users: map[string]*registryv1.User{},
		inc: map[string]string{}, totp: map[string]string{}, used: map[string]int64{}, recovery: map[string][]string{}}
}

// serve starts f on loopback with the internal credential cred and answers a client of it.
func (f *mfaFactors) serve(t testing.TB, cred string) registryv1.FactorInternalServiceClient {
	addr := grpctest.Serve(t, cred, func(s grpc.ServiceRegistrar) { registryv1.RegisterFactorInternalServiceServer(s, f) })
	return registryv1.NewFactorInternalServiceClient(grpctest.Dial(t, addr, cred))
}

func (f *mfaFactors) addUser(u *registryv1.User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.GetUserId()] = u
}

// giveTOTP enrols a new TOTP key (and recovery codes) for userID and answers the key.
func (f *mfaFactors) giveTOTP(t testing.TB, userID string, recovery ...string) string {
	t.Helper()
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "test", AccountName: userID})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totp[userID], f.recovery[userID] = k.Secret(), slices.Clone(recovery)
	return k.Secret()
}

func (f *mfaFactors) setPolicy(tenantID string, p *registryv1.MfaPolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policy[tenantID] = p
}

func (f *mfaFactors) GetSignInSettings(_ context.Context, req *registryv1.GetSignInSettingsRequest) (*registryv1.GetSignInSettingsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "registry down")
	}
	st := defaultSignInSettings(req.GetTenantId())
	st.TenantName = "Acme"
	if p := f.policy[req.GetTenantId()]; p != nil {
		st.MfaPolicy = proto.Clone(p).(*registryv1.MfaPolicy)
	}
	return &registryv1.GetSignInSettingsResponse{Settings: st}, nil
}

func (f *mfaFactors) GetFactors(_ context.Context, req *registryv1.GetFactorsRequest) (*registryv1.GetFactorsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[req.GetUserId()]
	if !ok || u.GetTenantId() != req.GetTenantId() {
		return nil, status.Error(codes.NotFound, "no such user")
	}
	return &registryv1.GetFactorsResponse{User: proto.Clone(u).(*registryv1.User), Incarnation: f.inc[u.GetUserId()],
		TotpEnrolled: f.totp[u.GetUserId()] != "", RecoveryCodesLeft: int32(len(f.recovery[u.GetUserId()]))}, nil
}

// BeginTotpEnrollment answers a new key; the fake "seals" it as "enr:" + key.
func (f *mfaFactors) BeginTotpEnrollment(_ context.Context, req *registryv1.BeginTotpEnrollmentRequest) (*registryv1.BeginTotpEnrollmentResponse, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: req.GetIssuerLabel(), AccountName: req.GetUserId()})
	if err != nil {
		return nil, err
	}
	return &registryv1.BeginTotpEnrollmentResponse{Enrollment: "enr:" + k.Secret(), OtpauthUri: k.URL(), Secret: k.Secret()}, nil
}

func (f *mfaFactors) ConfirmTotpEnrollment(_ context.Context, req *registryv1.ConfirmTotpEnrollmentRequest) (*registryv1.ConfirmTotpEnrollmentResponse, error) {
	f.mu.Lock()
	expired := f.expire
	f.mu.Unlock()
	secret, ok := strings.CutPrefix(req.GetEnrollment(), "enr:")
	if !ok || expired {
		return nil, status.Error(codes.InvalidArgument, "enrollment: not an enrollment of this registry")
	}
	if !totp.Validate(req.GetCode(), secret) {
		return nil, status.Error(codes.InvalidArgument, "code: wrong code")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	codes := []string{"rc-one-1111", "rc-two-2222"}
	f.totp[req.GetUserId()], f.recovery[req.GetUserId()] = secret, slices.Clone(codes)
	f.used[req.GetUserId()] = time.Now().Unix() / 30
	return &registryv1.ConfirmTotpEnrollmentResponse{RecoveryCodes: codes}, nil
}

func (f *mfaFactors) VerifySecondFactorCode(_ context.Context, req *registryv1.VerifySecondFactorCodeRequest) (*registryv1.VerifySecondFactorCodeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verifies++
	uid := req.GetUserId()
	secret := f.totp[uid]
	if secret == "" {
		return nil, status.Error(codes.FailedPrecondition, "no TOTP")
	}
	if i := slices.Index(f.recovery[uid], req.GetCode()); i >= 0 {
		f.recovery[uid] = slices.Delete(f.recovery[uid], i, i+1)
		return &registryv1.VerifySecondFactorCodeResponse{Method: "recovery", RecoveryCodesLeft: int32(len(f.recovery[uid]))}, nil
	}
	step := time.Now().Unix() / 30
	for _, s := range []int64{step - 1, step, step + 1} {
		want, _ := totp.GenerateCodeCustom(secret, time.Unix(s*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if want == req.GetCode() && s > f.used[uid] {
			f.used[uid] = s
			return &registryv1.VerifySecondFactorCodeResponse{Method: "otp", RecoveryCodesLeft: int32(len(f.recovery[uid]))}, nil
		}
	}
	return nil, status.Error(codes.Unauthenticated, "wrong code")
}

func (f *mfaFactors) verifyCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verifies
}
