package server_test

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/services/registry"
)

// addProvider adds an upstream provider to acme through the admin API.
func (e *fenv) addProvider(t testing.TB, p *registryv1.UpstreamProvider) {
	t.Helper()
	if _, err := e.idps.CreateIdentityProvider(as(tokAcme), &registryv1.CreateIdentityProviderRequest{TenantId: "acme", Provider: p}); err != nil {
		t.Fatal(err)
	}
}

func corpProvider(id string, linkByEmail, createUsers bool) *registryv1.UpstreamProvider {
	return &registryv1.UpstreamProvider{ProviderId: id, DisplayName: "Corp " + id, Issuer: "https://idp.example/" + id,
		ClientId: "authsuite", ClientSecret: proto.String("upstream-secret-" + id), LinkByEmail: linkByEmail, CreateUsers: createUsers}
}

// TestLinkFederatedIdentity: an identity already linked finds its user; else a verified address links to
// the user with the same verified address (only when the provider links by e-mail); else a user is created
// (only when the provider creates users, its login name made unique); otherwise NOT_FOUND. Disabled users
// and providers are refused.
func TestLinkFederatedIdentity(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	e.addProvider(t, corpProvider("mail", true, false))
	e.addProvider(t, corpProvider("jit", false, true))
	e.addProvider(t, corpProvider("none", false, false))
	link := func(provider, sub, email string, verified bool, login string) (*registryv1.LinkFederatedIdentityResponse, error) {
		return e.factors.LinkFederatedIdentity(ctx, &registryv1.LinkFederatedIdentityRequest{TenantId: "acme", ProviderId: provider,
			Subject: sub, Email: email, EmailVerified: verified, LoginName: login, DisplayName: "Up Stream"})
	}
	// An unverified upstream address links nobody.
	_, err := link("mail", "s1", "alice@example.com", false, "")
	wantCode(t, err, codes.NotFound)
	r, err := link("mail", "s1", "ALICE@example.com", true, "")
	if err != nil || r.GetUser().GetUserId() != "alice" || !r.GetLinked() || r.GetCreated() {
		t.Fatalf("link by e-mail = %v, %v", r, err)
	}
	r, err = link("mail", "s1", "", false, "")
	if err != nil || r.GetUser().GetUserId() != "alice" || r.GetLinked() || r.GetCreated() {
		t.Fatalf("linked identity = %v, %v", r, err)
	}
	// A second account at the same provider with alice's address is not linked to her too.
	_, err = link("mail", "s2", "alice@example.com", true, "")
	wantCode(t, err, codes.FailedPrecondition)
	// bob's address is not verified: nothing links to him.
	if _, err := e.store.UpdateUser(ctx, "acme", "bob", func(u registry.User) (registry.User, error) {
		u.Email = "bob@example.com"
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = link("mail", "s3", "bob@example.com", true, "")
	wantCode(t, err, codes.NotFound)
	_, err = link("none", "s1", "alice@example.com", true, "")
	wantCode(t, err, codes.NotFound)

	// Just in time: login name taken → suffixed; the taken address is not given to the new user.
	r, err = link("jit", "j1", "alice@example.com", true, "alice")
	if err != nil || !r.GetCreated() || !r.GetLinked() || r.GetUser().GetLoginName() != "alice-2" || r.GetUser().GetEmail() != "" {
		t.Fatalf("created = %v, %v", r, err)
	}
	created := r.GetUser().GetUserId()
	r, err = link("jit", "j2", "new@example.com", true, "")
	if err != nil || r.GetUser().GetLoginName() != "jit-j2" || r.GetUser().GetEmail() != "new@example.com" || !r.GetUser().GetEmailVerified() {
		t.Fatalf("created from the subject = %v, %v", r, err)
	}
	if u, err := e.store.FindUserByFederatedIdentity(ctx, "acme", "jit", "j1"); err != nil || u.ID != created {
		t.Fatalf("stored link: %v, %v", u.ID, err)
	}
	f, _ := e.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "acme", UserId: created})
	if len(f.GetFederatedIdentities()) != 1 || f.GetFederatedIdentities()[0].GetSubject() != "j1" {
		t.Fatalf("federated identities %v", f.GetFederatedIdentities())
	}

	// Disabled user, disabled or unknown provider, bad input.
	if _, err := e.store.UpdateUser(ctx, "acme", created, func(u registry.User) (registry.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = link("jit", "j1", "", false, "")
	wantCode(t, err, codes.PermissionDenied)
	dis := corpProvider("jit", false, true)
	dis.Disabled = true
	if _, err := e.idps.UpdateIdentityProvider(as(tokAcme), &registryv1.UpdateIdentityProviderRequest{TenantId: "acme", ProviderId: "jit", Provider: dis}); err != nil {
		t.Fatal(err)
	}
	_, err = link("jit", "j9", "", false, "")
	wantCode(t, err, codes.FailedPrecondition)
	_, err = link("ghost", "j9", "", false, "")
	wantCode(t, err, codes.FailedPrecondition)
	_, err = link("BAD ID", "j9", "", false, "")
	wantField(t, err, "providerId")
	_, err = link("mail", "", "", false, "")
	wantField(t, err, "subject")
	_, err = link("mail", string(make([]byte, 256)), "", false, "")
	wantField(t, err, "subject")
}

// TestLinkFederatedConcurrent: concurrent first sign-ins of one new upstream identity create exactly one
// user, and every call answers it.
func TestLinkFederatedConcurrent(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) *fenv{
		"bbolt":  func(t testing.TB) *fenv { return newFactorEnv(t, nil, "") },
		"memory": newMemFactorEnv,
		"etcd":   newEtcdFactorEnv,
	} {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			e.addProvider(t, corpProvider("jit", false, true))
			var mu sync.Mutex
			ids, created := map[string]int{}, 0
			var wg sync.WaitGroup
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := e.factors.LinkFederatedIdentity(context.Background(), &registryv1.LinkFederatedIdentityRequest{
						TenantId: "acme", ProviderId: "jit", Subject: "same", LoginName: "newbie"})
					if err != nil {
						t.Errorf("LinkFederatedIdentity: %v (%v)", err, apistatus.FromStatus(err).Code)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					ids[r.GetUser().GetUserId()]++
					if r.GetCreated() {
						created++
					}
				}()
			}
			wg.Wait()
			if len(ids) != 1 || created != 1 {
				t.Fatalf("users %v, created %d; want one user created once", ids, created)
			}
		})
	}
}

// TestGetSignInSettings: the internal answer carries the SMTP password and the enabled providers' secrets
// opened, the tenant code and the redirect URI (empty when the registry does not know its public URL);
// disabled providers are left out.
func TestGetSignInSettings(t *testing.T) {
	for _, publicURL := range []string{"", "https://login.example/"} {
		e := newFactorEnv(t, nil, publicURL)
		ctx := context.Background()
		sealed := e.keyring.Seal([]byte("smtp pw"), registry.SMTPPasswordAD("acme"))
		if _, err := e.store.UpdateTenant(ctx, "acme", func(tn registry.Tenant) (registry.Tenant, error) {
			tn.SMTP = registry.SMTPSettings{Host: "127.0.0.1", Port: 2525, Security: registry.SMTPNone, Username: "u", SealedPassword: sealed, From: "a@example.com"}
			tn.DefaultLocale, tn.SelfRegistration = "zh-Hant", true
			return tn, nil
		}); err != nil {
			t.Fatal(err)
		}
		e.addProvider(t, corpProvider("on", true, true))
		off := corpProvider("off", false, false)
		off.Disabled = true
		e.addProvider(t, off)
		r, err := e.factors.GetSignInSettings(ctx, &registryv1.GetSignInSettingsRequest{TenantId: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		s := r.GetSettings()
		if s.GetTenantCode() != "acme-code" || s.GetTenantName() != "Acme" || s.GetDefaultLocale() != "zh-Hant" || !s.GetSelfRegistration() ||
			s.GetSmtp().GetPassword() != "smtp pw" || s.GetSmtp().GetSecurity() != registryv1.SmtpSettings_SECURITY_NONE || s.GetSmtp().GetPort() != 2525 {
			t.Fatalf("settings = %v", s)
		}
		if len(s.GetUpstreamProviders()) != 1 {
			t.Fatalf("providers = %v", s.GetUpstreamProviders())
		}
		p := s.GetUpstreamProviders()[0]
		wantRedirect := ""
		if publicURL != "" {
			wantRedirect = "https://login.example/connect/upstream/callback"
		}
		if p.GetProviderId() != "on" || p.GetClientSecret() != "upstream-secret-on" || p.GetRedirectUri() != wantRedirect || !p.GetLinkByEmail() {
			t.Fatalf("provider = %v", p)
		}
		_, err = e.factors.GetSignInSettings(ctx, &registryv1.GetSignInSettingsRequest{TenantId: "ghost"})
		wantCode(t, err, codes.NotFound)
		_, err = e.noCred.GetSignInSettings(ctx, &registryv1.GetSignInSettingsRequest{TenantId: "acme"})
		wantCode(t, err, codes.PermissionDenied)
	}
}
