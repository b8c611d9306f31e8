package dn

import (
	"crypto/x509/pkix"
	"testing"
)

// TestSubjectMatches: a certificate subject matches its registered name however the name is spelled (type
// aliases, attribute order within an RDN), and no other name: values are case-sensitive, RDN order matters.
func TestSubjectMatches(t *testing.T) {
	subject := pkix.Name{CommonName: "orders, eu", Organization: []string{"Example #1"}, Country: []string{"DE"}}
	for want, ok := range map[string]bool{
		`CN=orders\, eu,O=Example #1,C=DE`:                           true,
		`cn=orders\, eu,o=Example #1,c=DE`:                           true,
		`commonName=orders\2C eu,2.5.4.10=Example #1,countryName=DE`: true,
		`CN=Orders\, eu,O=Example #1,C=DE`:                           false,
		`O=Example #1,CN=orders\, eu,C=DE`:                           false,
		`CN=orders\, eu,O=Example #1`:                                false,
		``:                                                           false,
		`CN=orders, eu`:                                              false, // does not parse
	} {
		if got := SubjectMatches(subject, want); got != ok {
			t.Errorf("SubjectMatches(%q) = %v, want %v", want, got, ok)
		}
	}
}

// FuzzSubjectMatches: for any common name and organization, the subject matches the canonical form of its
// own string, and never a name with another common name; nothing panics.
func FuzzSubjectMatches(f *testing.F) {
	f.Add("svc", "Acme")
	f.Add(" #lead", "a+b,c;d")
	f.Add("x\\y\"z", "")
	f.Fuzz(func(t *testing.T, cn, org string) {
		n := pkix.Name{CommonName: cn}
		if org != "" {
			n.Organization = []string{org}
		}
		c, err := Canonical(n.String())
		if err != nil || c == "" {
			return // not UTF-8, too long, or empty: such names are not registered
		}
		if !SubjectMatches(n, c) {
			t.Fatalf("%q does not match its own canonical form %q", n.String(), c)
		}
		other := n
		other.CommonName = cn + "x"
		if SubjectMatches(other, c) {
			t.Fatalf("%q matches %q", other.String(), c)
		}
	})
}
