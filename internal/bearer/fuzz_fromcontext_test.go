package bearer_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/bearer"
)

// FuzzFromContext checks bearer extraction (RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, the scheme
// case-insensitive) on arbitrary Authorization metadata:
//   - an accepted value has a scheme equal to "Bearer" ignoring case, followed by a space, and the token
//     returned is non-empty, carries no surrounding white space and is exactly what follows the scheme;
//   - a refused value yields an error wrapping apierror.ErrUnauthenticated that maps to UNAUTHENTICATED
//     and never quotes the credential;
//   - round trip: any non-empty token without surrounding white space, sent as "<Bearer in any case> <token>",
//     comes back unchanged; only the first value counts when several are sent.
func FuzzFromContext(f *testing.F) {
	for _, s := range []struct{ header, second string }{
		{"Bearer abc", ""},
		{"bearer  abc ", ""},
		{"BEARER eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.sig", ""},
		{"Basic YTpiMTIzNDU2", "Bearer x"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Bearer\tabc", ""},
		{" Bearer abc", ""},
		{"Bearerabc", ""},
		{"Bearer a b", ""},
		{"Bearer \x00", ""},
		{"", ""},
	} {
		f.Add(s.header, s.second, "mF_9.B5f-4.1JqM")
	}
	f.Fuzz(func(t *testing.T, header, second, token string) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{"authorization": {header, second}})
		got, err := bearer.FromContext(ctx)
		if err != nil {
			checkUnauthenticated(t, err, header)
		} else {
			scheme, rest, ok := strings.Cut(header, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				t.Fatalf("FromContext(%q) accepted scheme %q", header, scheme)
			}
			if got == "" || strings.TrimSpace(got) != got || strings.TrimSpace(rest) != got {
				t.Fatalf("FromContext(%q) = %q: not the trimmed credential", header, got)
			}
			if !b64token.MatchString(got) {
				t.Fatalf("FromContext(%q) = %q: not an RFC 6750 b64token", header, got)
			}
		}

		// Round trip through every casing of the scheme.
		if !b64token.MatchString(token) {
			return
		}
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{"authorization": {scheme + " " + token, header}})
			if got, err := bearer.FromContext(ctx); err != nil || got != token {
				t.Fatalf("FromContext(%q) = %q, %v; want %q", scheme+" "+token, got, err, token)
			}
		}
	})
}

// b64token is RFC 6750 §2.1's credential syntax, the reference for bearer.IsB64Token.
var b64token = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

func checkUnauthenticated(t *testing.T, err error, header string) {
	t.Helper()
	if !errors.Is(err, apierror.ErrUnauthenticated) {
		t.Fatalf("FromContext(%q): error %v does not wrap ErrUnauthenticated", header, err)
	}
	if c := apistatus.FromStatus(apistatus.ToStatus(err)).Code; c != codes.Unauthenticated {
		t.Fatalf("FromContext(%q): status %v, want UNAUTHENTICATED", header, c)
	}
	// The fixed messages carry no digits, so a credential with one cannot appear in them by chance.
	if _, cred, _ := strings.Cut(header, " "); len(strings.TrimSpace(cred)) >= 6 && strings.ContainsAny(cred, "0123456789") && strings.Contains(err.Error(), strings.TrimSpace(cred)) {
		t.Fatalf("FromContext(%q): error %q quotes the credential", header, err)
	}
}
