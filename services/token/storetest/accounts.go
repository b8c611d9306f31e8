package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// accountTests are the conformance tests of token.AccountStore; Run runs them with the others.
var accountTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"DeleteAccountSessions", testDeleteAccountSessions},
	{"DeleteAccountRefreshTokens", testDeleteAccountRefreshTokens},
	{"AccountIncarnationStored", testAccountIncarnationStored},
}

// testAccountIncarnationStored: sessions, codes, refresh tokens and consents keep the account incarnation
// they were stored with.
func testAccountIncarnationStored(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	exp := t0().Add(time.Hour)
	if err := s.PutSession(ctx, token.Session{ID: h("s"), SID: "s", TenantID: "t", UserID: "u", Incarnation: "i1", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCode(ctx, token.AuthCode{Hash: h("c"), ClientID: "web", TenantID: "t", UserID: "u", Incarnation: "i2", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRefreshToken(ctx, token.RefreshToken{Hash: h("r"), FamilyID: "f", ClientID: "web", TenantID: "t", UserID: "u", Incarnation: "i3", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConsent(ctx, token.Consent{TenantID: "t", UserID: "u", ClientID: "web", Scopes: []string{"openid"}, Incarnation: "i4", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	se, err := s.Session(ctx, h("s"))
	if err != nil || se.Incarnation != "i1" {
		t.Fatalf("session: %+v, %v", se, err)
	}
	c, err := s.ConsumeCode(ctx, h("c"), func(token.AuthCode) error { return nil })
	if err != nil || c.Incarnation != "i2" {
		t.Fatalf("code: %+v, %v", c, err)
	}
	rt, err := s.RefreshToken(ctx, h("r"))
	if err != nil || rt.Incarnation != "i3" {
		t.Fatalf("refresh token: %+v, %v", rt, err)
	}
	co, err := s.Consent(ctx, "t", "u", "web")
	if err != nil || co.Incarnation != "i4" {
		t.Fatalf("consent: %+v, %v", co, err)
	}
}

// testDeleteAccountSessions: the sessions of the listed accounts go, in one call, and are returned; sessions
// of another incarnation of the same user id, of another user or tenant stay; an empty batch changes
// nothing; the deletion survives a reopen.
func testDeleteAccountSessions(t *testing.T, open func() token.Store) {
	s := open()
	exp := t0().Add(time.Hour)
	sessions := []token.Session{
		{ID: h("a1"), SID: "a1", TenantID: "t", UserID: "alice", Incarnation: "inc1", AuthTime: t0(), Clients: []string{"web"}, Expiry: exp},
		{ID: h("a2"), SID: "a2", TenantID: "t", UserID: "alice", Incarnation: "inc1", AuthTime: t0(), Expiry: exp},
		{ID: h("a3"), SID: "a3", TenantID: "t", UserID: "alice", Incarnation: "inc2", AuthTime: t0(), Expiry: exp}, // re-created alice
		{ID: h("b1"), SID: "b1", TenantID: "t", UserID: "bob", Incarnation: "", AuthTime: t0(), Expiry: exp},       // legacy record
		{ID: h("c1"), SID: "c1", TenantID: "other", UserID: "alice", Incarnation: "inc1", AuthTime: t0(), Expiry: exp},
	}
	for _, se := range sessions {
		if err := s.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.DeleteAccountSessions(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %v, %v", got, err)
	}
	got, err := s.DeleteAccountSessions(ctx, []token.Account{
		{TenantID: "t", UserID: "alice", Incarnation: "inc1"},
		{TenantID: "t", UserID: "bob", Incarnation: ""},
		{TenantID: "t", UserID: "nobody", Incarnation: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for _, se := range got {
		sids = append(sids, se.SID)
		if se.SID == "a1" && (!bytes.Equal(se.ID, h("a1")) || !se.Expiry.Equal(exp) || !slices.Equal(se.Clients, []string{"web"})) {
			t.Fatalf("returned session is incomplete: %+v", se)
		}
	}
	slices.Sort(sids)
	if !slices.Equal(sids, []string{"a1", "a2", "b1"}) {
		t.Fatalf("deleted sessions %v; want a1 a2 b1", sids)
	}
	s.Close()
	s = open()
	defer s.Close()
	for _, se := range sessions {
		_, err := s.Session(ctx, se.ID)
		gone := errors.Is(err, token.ErrNotFound)
		if want := slices.Contains(sids, se.SID); gone != want {
			t.Fatalf("session %s after reopen: %v; want gone=%t", se.SID, err, want)
		}
	}
	if again, err := s.DeleteAccountSessions(ctx, []token.Account{{TenantID: "t", UserID: "alice", Incarnation: "inc1"}}); err != nil || len(again) != 0 {
		t.Fatalf("second deletion: %v, %v; want nothing", again, err)
	}
}

// testDeleteAccountRefreshTokens: every refresh token of the listed accounts goes, used or not, and the
// distinct families are returned once each; other incarnations, users and tenants keep theirs; a deleted
// token can be neither rotated nor looked up.
func testDeleteAccountRefreshTokens(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	exp := t0().Add(time.Hour)
	tokens := []token.RefreshToken{
		{Hash: h("r1"), FamilyID: "f1", ClientID: "web", TenantID: "t", UserID: "alice", Incarnation: "inc1", Expiry: exp},
		{Hash: h("r2"), FamilyID: "f1", ClientID: "web", TenantID: "t", UserID: "alice", Incarnation: "inc1", Expiry: exp},
		{Hash: h("r3"), FamilyID: "f2", ClientID: "app", TenantID: "t", UserID: "alice", Incarnation: "inc1", Expiry: exp},
		{Hash: h("r4"), FamilyID: "f3", ClientID: "web", TenantID: "t", UserID: "alice", Incarnation: "inc2", Expiry: exp},
		{Hash: h("r5"), FamilyID: "f4", ClientID: "web", TenantID: "u", UserID: "alice", Incarnation: "inc1", Expiry: exp},
	}
	for _, rt := range tokens {
		if err := s.PutRefreshToken(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	// r1 rotated to r6: r1 is used, r6 carries the family on.
	if _, err := rotateNoGrace(ctx, s, h("r1"), func(old token.RefreshToken) (token.RefreshToken, error) {
		old.Hash = h("r6")
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
	fams, err := s.DeleteAccountRefreshTokens(ctx, []token.Account{{TenantID: "t", UserID: "alice", Incarnation: "inc1"}})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(fams)
	if !slices.Equal(fams, []string{"f1", "f2"}) {
		t.Fatalf("ended families %v; want f1 f2", fams)
	}
	for _, k := range []string{"r1", "r2", "r3", "r6"} {
		if _, err := s.RefreshToken(ctx, h(k)); !errors.Is(err, token.ErrNotFound) {
			t.Fatalf("token %s after deletion: %v; want ErrNotFound", k, err)
		}
		if _, err := rotateNoGrace(ctx, s, h(k), func(old token.RefreshToken) (token.RefreshToken, error) {
			old.Hash = h("n" + k)
			return old, nil
		}); !errors.Is(err, token.ErrNotFound) {
			t.Fatalf("rotating deleted token %s: %v; want ErrNotFound", k, err)
		}
	}
	for _, k := range []string{"r4", "r5"} {
		if _, err := s.RefreshToken(ctx, h(k)); err != nil {
			t.Fatalf("token %s of another account: %v", k, err)
		}
	}
	if fams, err := s.DeleteAccountRefreshTokens(ctx, nil); err != nil || len(fams) != 0 {
		t.Fatalf("empty batch: %v, %v", fams, err)
	}
}
