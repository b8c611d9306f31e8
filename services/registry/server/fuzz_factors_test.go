package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// FuzzNormalizeRecoveryCode: an accepted code is exactly 16 characters of the alphabet (80 bits), the same
// whatever its case and dashes, and normalizing it again changes nothing.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn-pqrs", "ABCDEFGHJKMNPQRS", "0000 1111 2222 3333", "ilo0-ILO0-1111-2222", "", "abcd", "ü", "abcd-efgh-jkmn-pqrsx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, ok := normalizeRecoveryCode(s)
		if !ok {
			return
		}
		if len(norm) != 16 || strings.Trim(norm, recoveryAlphabet) != "" {
			t.Fatalf("%q normalized to %q", s, norm)
		}
		if again, ok := normalizeRecoveryCode(strings.ToUpper(norm[:4]) + "-" + norm[4:]); !ok || again != norm {
			t.Fatalf("not stable: %q → %q", norm, again)
		}
	})
}

// FuzzLoginBase: the login name made for a federated user is always one the directory accepts.
func FuzzLoginBase(f *testing.F) {
	f.Add("alice", "corp", "sub")
	f.Add("", "corp", "a:b\x00c d")
	f.Add(" a:b ", "gh", strings.Repeat("é", 200))
	f.Fuzz(func(t *testing.T, asked, provider, subject string) {
		if registry.ValidateFederatedIdentity(registry.FederatedIdentity{ProviderID: provider, Subject: subject}) != nil {
			return
		}
		name := loginBase(asked, registry.FederatedIdentity{ProviderID: provider, Subject: subject})
		if err := registry.ValidateUser(registry.User{ID: "x", LoginName: name}); err != nil || len(name) > 190 {
			t.Fatalf("loginBase(%q, %q, %q) = %q: %v", asked, provider, subject, name, err)
		}
	})
}

// FuzzValidatePasskey: an accepted registration holds the documented bounds, and a refused one names a
// passkey field.
func FuzzValidatePasskey(f *testing.F) {
	f.Add([]byte{1}, []byte{2}, make([]byte, 16), "none", "Laptop", "internal")
	f.Add([]byte{}, []byte{2}, []byte{1}, "", "", "")
	f.Fuzz(func(t *testing.T, id, key, aaguid []byte, att, name, transport string) {
		p := &registryv1.Passkey{CredentialId: id, PublicKey: key, Aaguid: aaguid, AttestationType: att, Name: name}
		if transport != "" {
			p.Transports = []string{transport}
		}
		err := validatePasskey(p)
		if err != nil {
			if fe, ok := err.(*apierror.FieldError); !ok || !strings.HasPrefix(fe.Field, "passkey") {
				t.Fatalf("error %v names no passkey field", err)
			}
			return
		}
		n := utf8.RuneCountInString(name)
		if len(id) == 0 || len(id) > 1023 || len(key) == 0 || len(key) > 2048 || len(aaguid) != 0 && len(aaguid) != 16 ||
			n < 1 || n > 64 || !utf8.ValidString(name) || len(att) > 64 {
			t.Fatalf("accepted %v", p)
		}
	})
}
