package clients

import (
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// TestAccountAddresses: the account view keeps the addresses and their verification the feed reports, a
// change of only those is a change of the view (so ID tokens follow it) but ends nothing, and a flag without
// its address is dropped.
func TestAccountAddresses(t *testing.T) {
	rec := &registryv1.UserRecord{TenantId: "t", UserId: "u", Incarnation: "i", Email: "a@x.test", EmailVerified: true, Mobile: "+100", PhoneVerified: true}
	a, err := accountFromRecord(rec)
	if err != nil || a.Email != "a@x.test" || !a.EmailVerified || a.Mobile != "+100" || !a.PhoneVerified {
		t.Fatalf("account %+v, %v", a, err)
	}
	rec.Email = "b@x.test"
	b, _ := accountFromRecord(rec)
	if a.same(b) {
		t.Fatal("a new e-mail address is not a change of the view")
	}
	if a.endedBy(b) {
		t.Fatal("a new e-mail address ends the account's sessions and tokens")
	}
	c, _ := accountFromRecord(&registryv1.UserRecord{TenantId: "t", UserId: "u", EmailVerified: true, PhoneVerified: true})
	if c.EmailVerified || c.PhoneVerified {
		t.Fatalf("verified without an address: %+v", c)
	}
	if _, err := accountFromRecord(&registryv1.UserRecord{TenantId: "t", UserId: "u", Email: "\xff"}); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}

	cache := NewCache(Config{})
	if _, ok := cache.Account("t", "u", "i"); ok {
		t.Fatal("unknown account found")
	}
	cache.replace(map[string]*Client{}, map[accountKey]*Account{a.key(): a})
	if got, ok := cache.Account("t", "u", "i"); !ok || got.Email != "a@x.test" {
		t.Fatalf("Account = %+v, %t", got, ok)
	}
	if _, ok := cache.Account("t", "u", "other-incarnation"); ok {
		t.Fatal("another incarnation's addresses released")
	}
}
