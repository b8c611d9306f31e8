package dn_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/dn"
)

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"CN=svc,O=Example,C=DE":                "CN=svc,O=Example,C=DE",
		"cn=svc,commonName=x,2.5.4.10=Example": "CN=svc,CN=x,O=Example",
		"OU=b+CN=a":                            "CN=a+OU=b",
		`CN=a\,b\+c\;d\<\>\"\\`:                `CN=a\,b\+c\;d\<\>\"\\`,
		`CN=\20lead and trail\20`:              `CN=\ lead and trail\ `,
		`CN=\#hash`:                            `CN=\#hash`,
		`CN=x=y`:                               `CN=x=y`,
		`CN=\C3\A4rzte`:                        "CN=ärzte",
		"1.2.840.113549.1.9.1=#160b612e6578616d706c65": "1.2.840.113549.1.9.1=#160b612e6578616d706c65",
		"CN=": "CN=",
		"":    "",
	} {
		got, err := dn.Canonical(in)
		if err != nil || got != want {
			t.Errorf("CanonicalDN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"CN", "=x", "CN=a;b", "CN=a,", ",CN=a", "CN= a", "CN=a ", `CN=a\`, `CN=\zz`, `CN=\ff`,
		"CN=#", "CN=#4", "CN=#4g", "1=a", "01.2=a", "1..2=a", "C N=a", "CN=a\x00", "CN=\"q\"", "CN=a+", "\xff=a"} {
		if got, err := dn.Canonical(bad); err == nil {
			t.Errorf("CanonicalDN(%q) = %q; want an error", bad, got)
		}
	}
	// A certificate's subject as crypto/x509 prints it (RFC 4514) matches the DN an administrator writes.
	name := pkix.Name{CommonName: "orders, eu", Organization: []string{"Example #1"}, Country: []string{"DE"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: " ops "}}}
	fromCert, err := dn.Canonical(name.String())
	if err != nil {
		t.Fatalf("CanonicalDN(%q): %v", name.String(), err)
	}
	written, _ := dn.Canonical(`OU=\ ops\ ,CN=orders\, eu,O=Example #1,C=DE`)
	if fromCert != written {
		t.Errorf("certificate subject %q gives %q; the written DN gives %q", name.String(), fromCert, written)
	}
}

// FuzzCanonical: Canonical never panics; what it accepts has a canonical form that is accepted again,
// is its own canonical form, and parses to the same name; and escaping every value of the parsed name
// differently (every byte as a hex pair) still gives the same canonical form.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"CN=svc,O=Example,C=DE", "OU=b+CN=a", `CN=a\,b\+c`, `CN=\20x\20`, "1.2.3=#0401ff",
		`CN=\C3\A4`, "CN=", "", "cn=x,commonName=y", `CN=\#h`, "CN=a;b", "CN= a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		canon, err := dn.Canonical(s)
		if err != nil {
			return
		}
		again, err := dn.Canonical(canon)
		if err != nil || again != canon {
			t.Fatalf("Canonical(%q) = %q, whose canonical form is %q, %v", s, canon, again, err)
		}
		rdns, _ := dn.ParseDN(s)
		var b strings.Builder
		for i, rdn := range rdns {
			if i > 0 {
				b.WriteByte(',')
			}
			for j, a := range rdn {
				if j > 0 {
					b.WriteByte('+')
				}
				b.WriteString(a.Type + "=")
				if a.Hex {
					b.WriteString("#" + a.Value)
					continue
				}
				for k := 0; k < len(a.Value); k++ {
					b.WriteString("\\" + strings.ToUpper(string("0123456789abcdef"[a.Value[k]>>4])+string("0123456789abcdef"[a.Value[k]&15])))
				}
			}
		}
		if len(b.String()) > dn.MaxDNLen {
			return
		}
		if hexed, err := dn.Canonical(b.String()); err != nil || hexed != canon {
			t.Fatalf("Canonical(%q) = %q; its hex-escaped form %q gives %q, %v", s, canon, b.String(), hexed, err)
		}
	})
}
