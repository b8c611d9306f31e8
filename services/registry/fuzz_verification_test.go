package registry

import (
	"strings"
	"testing"
)

// FuzzKeepVerification: an update that does not state a verification flag never marks a new, changed or
// removed address verified, keeps the flag for the same address, and leaves stated flags as given.
func FuzzKeepVerification(f *testing.F) {
	f.Add("a@x.test", "A@X.test", "+100", "+100", true, true, false, false, false, false)
	f.Add("a@x.test", "b@x.test", "+100", "+101", true, true, false, true, false, true)
	f.Add("", "", "", "", true, true, false, false, false, false)
	f.Add("ß@x.test", "SS@x.test", "1", "", true, true, false, false, false, false)
	f.Fuzz(func(t *testing.T, oldEmail, newEmail, oldMobile, newMobile string, oldEV, oldPV, statedE, statedP, valE, valP bool) {
		old := User{Email: oldEmail, Mobile: oldMobile, EmailVerified: oldEV, PhoneVerified: oldPV}
		u := User{Email: newEmail, Mobile: newMobile, EmailVerified: valE, PhoneVerified: valP}
		u.KeepVerification(old, Verification{EmailStated: statedE, PhoneStated: statedP})
		switch {
		case statedE && u.EmailVerified != valE:
			t.Fatalf("stated emailVerified %t became %t", valE, u.EmailVerified)
		case !statedE && u.EmailVerified && (newEmail == "" || !oldEV || !strings.EqualFold(newEmail, oldEmail)):
			t.Fatalf("unstated: %q (was %q, verified %t) marked verified", newEmail, oldEmail, oldEV)
		case !statedE && !u.EmailVerified && oldEV && newEmail != "" && newEmail == oldEmail:
			t.Fatalf("unstated: the same address %q lost its verification", newEmail)
		case statedP && u.PhoneVerified != valP:
			t.Fatalf("stated phoneVerified %t became %t", valP, u.PhoneVerified)
		case !statedP && u.PhoneVerified && (newMobile == "" || !oldPV || newMobile != oldMobile):
			t.Fatalf("unstated: %q (was %q, verified %t) marked verified", newMobile, oldMobile, oldPV)
		case !statedP && !u.PhoneVerified && oldPV && newMobile != "" && newMobile == oldMobile:
			t.Fatalf("unstated: the same number %q lost its verification", newMobile)
		}
	})
}
