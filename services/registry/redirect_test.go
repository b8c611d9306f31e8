package registry_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/registry"
)

func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example/cb", "http://127.0.0.1:8080/", "https://a/#", "javascript://x/%0a", "https://u@h/", "/rel", "https://h:99999/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := registry.ValidateRedirectURI("redirectUris[0]", raw); err != nil {
			if !strings.HasPrefix(err.Error(), "redirectUris[0]: ") {
				t.Fatalf("error does not name the field: %v", err)
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if s := strings.ToLower(u.Scheme); s == "javascript" || s == "data" || s == "file" {
			t.Fatalf("accepted scheme %q", s)
		}
	})
}
