package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

func init() {
	signinTests = append(signinTests, struct {
		name string
		fn   func(t *testing.T, open func() token.Store)
	}{"ResourcesKeptWithCodesAndFamilies", testResourcesKept})
}

// testResourcesKept: the resources of an authorization request (RFC 8707 §2) are kept with its code and its
// refresh family, through a rotation and a reopen; records without them read back with none.
func testResourcesKept(t *testing.T, open func() token.Store) {
	res := []string{"https://orders.internal", "https://billing.internal"}
	s := open()
	if err := s.PutCode(ctx, token.AuthCode{Hash: h("rc"), ClientID: "web", UserID: "u", FamilyID: "f", Expiry: t0().Add(time.Hour), Resources: res}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCode(ctx, token.AuthCode{Hash: h("rn"), ClientID: "web", UserID: "u", FamilyID: "g", Expiry: t0().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRefreshToken(ctx, token.RefreshToken{Hash: h("rr"), FamilyID: "f", ClientID: "web", UserID: "u", Expiry: t0().Add(time.Hour), Resources: res}); err != nil {
		t.Fatal(err)
	}
	_, err := rotateNoGrace(ctx, s, h("rr"), func(old token.RefreshToken) (token.RefreshToken, error) {
		if !slices.Equal(old.Resources, res) {
			t.Errorf("rotate saw resources %v", old.Resources)
		}
		n := old
		n.Hash = h("rs")
		return n, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	c, err := s.ConsumeCode(ctx, h("rc"), func(token.AuthCode) error { return nil })
	if err != nil || !slices.Equal(c.Resources, res) {
		t.Fatalf("code resources %v, %v", c.Resources, err)
	}
	c, err = s.ConsumeCode(ctx, h("rn"), func(token.AuthCode) error { return nil })
	if err != nil || c.Resources != nil {
		t.Fatalf("code without resources read back %v, %v", c.Resources, err)
	}
	rt, err := s.RefreshToken(ctx, h("rs"))
	if err != nil || !slices.Equal(rt.Resources, res) {
		t.Fatalf("rotated family resources %v, %v", rt.Resources, err)
	}
}
