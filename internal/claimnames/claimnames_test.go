package claimnames

import "testing"

// A configured claim spelled like a reserved one up to case is reserved: JSON decoders that match member
// names ignoring case would let it replace the real claim.
func TestReservedIgnoresCase(t *testing.T) {
	for _, n := range []string{"sub", "SUB", "Exp", "ſub", "Tenant", "pjti"} {
		if !Reserved(n) {
			t.Errorf("Reserved(%q) = false", n)
		}
	}
	for _, n := range []string{"department", "subject", "role", "x-sub"} {
		if Reserved(n) {
			t.Errorf("Reserved(%q) = true", n)
		}
	}
}
