package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// BenchmarkSignInWithSecondFactor measures one browser sign-in with a second factor in the token service:
// the authorization request (the login page), the password (factors and policy asked of the registry,
// the pending interaction stored, the second-factor page) and a recovery code (checked by the registry,
// the session started, the code issued). The registry fakes answer over loopback gRPC at once and the
// store is in memory: this is the token service's own cost plus its registry round trips.
func BenchmarkSignInWithSecondFactor(b *testing.B) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	cred := kr.InternalCredential()
	reg := newFakeRegistry(kr)
	regAddr := grpctest.Serve(b, cred, func(s grpc.ServiceRegistrar) { registryv1.RegisterRegistryInternalServiceServer(s, reg) })
	r := reg.record("web", "t-acme", []string{GrantAuthorizationCode}, []string{"openid"}, 3600)
	r.Client.RedirectUris = []string{webCallback}
	r.Client.RequireClientSecret = new(false)
	reg.put(r)
	pw := "pw-alice-123"
	reg.users = append(reg.users, &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice", Password: &pw})
	f := newMFAFactors()
	f.addUser(&registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"})
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = "rc-bench-" + strconv.Itoa(i)
	}
	f.giveTOTP(b, "u-alice", codes...)
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	s, err := New(Deps{Store: st, Keyring: kr, Registry: registryv1.NewRegistryInternalServiceClient(grpctest.Dial(b, regAddr, cred)),
		Factors: f.serve(b, cred), Issuer: testIssuer + "/", SessionLifetime: time.Hour, MaintenanceInterval: time.Hour, SecretUseFlushInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.ReadyC():
	case <-time.After(10 * time.Second):
		b.Fatal("the token service never became ready")
	}
	br := &tokenv1.Browser{RemoteAddr: "192.0.2.50"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := s.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
		if err != nil || a.GetStep().GetLogin() == nil {
			b.Fatalf("authorize: %v, %v", a, err)
		}
		l, err := s.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: pw, Browser: br})
		if err != nil || l.GetStep().GetSecondFactor() == nil {
			b.Fatalf("login: %v, %v", l, err)
		}
		sf, err := s.SecondFactor(ctx, &tokenv1.SecondFactorRequest{InteractionId: l.GetStep().GetSecondFactor().GetInteractionId(), Code: codes[i], Browser: br})
		if err != nil || sf.GetStep().GetSetSessionCookie() == "" {
			b.Fatalf("second factor: %v, %v", sf, err)
		}
	}
}
