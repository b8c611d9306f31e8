package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// consentTests cover ListConsents and DeleteConsent (the account page's remembered consents).
var consentTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"ListConsents", testListConsents},
	{"DeleteConsent", testDeleteConsent},
	{"ConcurrentDeleteConsent", testConcurrentDeleteConsent},
	{"ClientRefreshFamilies", testClientRefreshFamilies},
}

func clientIDs(cs []token.Consent) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ClientID
	}
	return ids
}

// putConsents stores the consents of the listing tests: three of user t/u (out of client-id order), and
// neighbours that must never be listed with them: another user, another tenant, a user whose id starts
// with u and the separator, and a tenant whose id ends with the separator.
func putConsents(t *testing.T, s token.Store) token.Consent {
	t.Helper()
	exp := t0().Add(time.Hour)
	mine := token.Consent{TenantID: "t", UserID: "u", ClientID: "b-web", Scopes: []string{"openid", "email"}, Expiry: exp, Incarnation: "inc-1"}
	for _, c := range []token.Consent{
		{TenantID: "t", UserID: "u", ClientID: "c-cli", Scopes: []string{"openid"}, Expiry: exp.Add(time.Minute)},
		mine,
		{TenantID: "t", UserID: "u", ClientID: "a-app", Scopes: []string{"profile"}, Expiry: exp},
		{TenantID: "t", UserID: "u2", ClientID: "a-app", Scopes: []string{"openid"}, Expiry: exp},
		{TenantID: "t2", UserID: "u", ClientID: "a-app", Scopes: []string{"openid"}, Expiry: exp},
		{TenantID: "t", UserID: "u\x00x", ClientID: "d-evil", Scopes: []string{"openid"}, Expiry: exp},
		{TenantID: "t\x00u", UserID: "", ClientID: "e"}, // refused (no user): nothing stored
	} {
		err := s.PutConsent(ctx, c)
		if (err != nil) != (c.UserID == "") {
			t.Fatalf("PutConsent(%q/%q/%q) = %v", c.TenantID, c.UserID, c.ClientID, err)
		}
	}
	return mine
}

func testListConsents(t *testing.T, open func() token.Store) {
	s := open()
	if got, err := s.ListConsents(ctx, "t", "u"); err != nil || len(got) != 0 {
		t.Fatalf("empty store: ListConsents = %v, %v; want none", got, err)
	}
	mine := putConsents(t, s)
	check := func(s token.Store, when string) {
		t.Helper()
		got, err := s.ListConsents(ctx, "t", "u")
		if err != nil {
			t.Fatalf("%s: ListConsents: %v", when, err)
		}
		if ids := clientIDs(got); !slices.Equal(ids, []string{"a-app", "b-web", "c-cli"}) {
			t.Fatalf("%s: ListConsents(t, u) clients = %q; want a-app b-web c-cli in order", when, ids)
		}
		b := got[1]
		if b.TenantID != "t" || b.UserID != "u" || !slices.Equal(b.Scopes, mine.Scopes) || !b.Expiry.Equal(mine.Expiry) || b.Incarnation != mine.Incarnation {
			t.Fatalf("%s: listed consent = %+v; want %+v", when, b, mine)
		}
		for _, c := range got {
			if c.TenantID != "t" || c.UserID != "u" {
				t.Fatalf("%s: ListConsents(t, u) answered %q/%q's consent", when, c.TenantID, c.UserID)
			}
		}
		if got, err := s.ListConsents(ctx, "t", "u2"); err != nil || !slices.Equal(clientIDs(got), []string{"a-app"}) {
			t.Fatalf("%s: ListConsents(t, u2) = %v, %v", when, got, err)
		}
		if got, err := s.ListConsents(ctx, "t", "nobody"); err != nil || len(got) != 0 {
			t.Fatalf("%s: ListConsents(t, nobody) = %v, %v; want none", when, got, err)
		}
	}
	check(s, "fresh")
	s.Close()
	s = open()
	defer s.Close()
	check(s, "reopened")
}

func testDeleteConsent(t *testing.T, open func() token.Store) {
	s := open()
	putConsents(t, s)
	if err := s.DeleteConsent(ctx, "t", "u", "b-web"); err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	if err := s.DeleteConsent(ctx, "t", "u", "b-web"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("DeleteConsent again = %v; want ErrNotFound", err)
	}
	for _, k := range [][3]string{{"t", "u", "zzz"}, {"t", "nobody", "a-app"}, {"", "", ""}, {"t", "u", string(make([]byte, 2*token.MaxKeyBytes))}} {
		if err := s.DeleteConsent(ctx, k[0], k[1], k[2]); !errors.Is(err, token.ErrNotFound) {
			t.Fatalf("DeleteConsent(%q, %q, %.10q) = %v; want ErrNotFound", k[0], k[1], k[2], err)
		}
	}
	if _, err := s.Consent(ctx, "t", "u", "b-web"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("Consent after delete: %v; want ErrNotFound", err)
	}
	s.Close()
	s = open()
	defer s.Close()
	got, err := s.ListConsents(ctx, "t", "u")
	if err != nil || !slices.Equal(clientIDs(got), []string{"a-app", "c-cli"}) {
		t.Fatalf("after delete and reopen: ListConsents(t, u) = %q, %v; want a-app c-cli", clientIDs(got), err)
	}
	for _, k := range [][3]string{{"t", "u2", "a-app"}, {"t2", "u", "a-app"}, {"t", "u\x00x", "d-evil"}} {
		if _, err := s.Consent(ctx, k[0], k[1], k[2]); err != nil {
			t.Fatalf("neighbour %q lost: %v", k, err)
		}
	}
}

func testConcurrentDeleteConsent(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	if err := s.PutConsent(ctx, token.Consent{TenantID: "t", UserID: "u", ClientID: "web", Scopes: []string{"openid"}, Expiry: t0().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.DeleteConsent(ctx, "t", "u", "web"); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, token.ErrNotFound):
				gone.Add(1)
			default:
				t.Errorf("DeleteConsent: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 7 {
		t.Fatalf("concurrent deletes: %d succeeded, %d not found; want 1 and 7", ok.Load(), gone.Load())
	}
}

func testClientRefreshFamilies(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	if got, err := s.ClientRefreshFamilies(ctx, "t", "u", "web"); err != nil || len(got) != 0 {
		t.Fatalf("empty store: ClientRefreshFamilies = %v, %v; want none", got, err)
	}
	exp := t0().Add(time.Hour)
	for i, r := range []token.RefreshToken{
		{FamilyID: "f2", ClientID: "web", TenantID: "t", UserID: "u"},
		{FamilyID: "f2", ClientID: "web", TenantID: "t", UserID: "u", Used: true}, // a rotated one: same family
		{FamilyID: "f1", ClientID: "web", TenantID: "t", UserID: "u"},
		{FamilyID: "x-other-client", ClientID: "cli", TenantID: "t", UserID: "u"},
		{FamilyID: "x-other-user", ClientID: "web", TenantID: "t", UserID: "u2"},
		{FamilyID: "x-other-tenant", ClientID: "web", TenantID: "t2", UserID: "u"},
	} {
		r.Hash = []byte{byte('a' + i), 1, 2, 3}
		r.Scopes, r.Expiry, r.AuthTime, r.Incarnation = []string{"openid", "offline_access"}, exp, t0(), "i"
		if err := s.PutRefreshToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ClientRefreshFamilies(ctx, "t", "u", "web")
	if err != nil || !slices.Equal(got, []string{"f1", "f2"}) {
		t.Fatalf("ClientRefreshFamilies(t, u, web) = %q, %v; want f1 f2", got, err)
	}
	if got, err := s.ClientRefreshFamilies(ctx, "t", "u", "nobody"); err != nil || len(got) != 0 {
		t.Fatalf("ClientRefreshFamilies(t, u, nobody) = %q, %v; want none", got, err)
	}
}
