package config

import (
	"io"
	"strings"
	"testing"
)

// TestTrustedProxies: the flag and its variable parse CIDRs and addresses; a bad element stops the start with
// an error naming the setting and the element.
func TestTrustedProxies(t *testing.T) {
	c, err := Load(RoleAll, []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1"}, nil, io.Discard)
	if err != nil || c.TrustedProxies.String() != "10.0.0.0/8,127.0.0.1/32" {
		t.Fatalf("flag: %q, %v", c.TrustedProxies, err)
	}
	c, err = Load(RoleAll, nil, []string{"AUTHSUITE_TRUSTED_PROXIES=::1"}, io.Discard)
	if err != nil || c.TrustedProxies.String() != "::1/128" {
		t.Fatalf("variable: %q, %v", c.TrustedProxies, err)
	}
	if c, err := Load(RoleAll, nil, nil, io.Discard); err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("default: %q, %v", c.TrustedProxies, err)
	}
	_, err = Load(RoleAll, nil, []string{"AUTHSUITE_TRUSTED_PROXIES=10.0.0.0/8,proxy.local"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "AUTHSUITE_TRUSTED_PROXIES") || !strings.Contains(err.Error(), "proxy.local") {
		t.Fatalf("bad element: %v", err)
	}
}
