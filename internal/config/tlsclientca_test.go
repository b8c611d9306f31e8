package config

import (
	"io"
	"strings"
	"testing"
)

// --tls-client-ca belongs to the roles that run the token service; the one-process mode needs HTTPS for it.
func TestTLSClientCAFlag(t *testing.T) {
	key := []string{"AUTHSUITE_MASTER_KEY=k"}
	c, err := Load(RoleToken, []string{"--tls-client-ca", "ca.pem"}, key, io.Discard)
	if err != nil || c.TLSClientCA != "ca.pem" {
		t.Fatalf("token role: %q, %v", c.TLSClientCA, err)
	}
	c, err = Load(RoleAll, []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, []string{"AUTHSUITE_TLS_CLIENT_CA=ca.pem"}, io.Discard)
	if err != nil || c.TLSClientCA != "ca.pem" {
		t.Fatalf("all-in-one from the environment: %q, %v", c.TLSClientCA, err)
	}
	if _, err := Load(RoleAll, []string{"--tls-client-ca", "ca.pem"}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("all-in-one without HTTPS: %v; want an error naming --tls-cert", err)
	}
	for _, role := range []Role{RoleGateway, RoleRegistry, RoleProvider} {
		_, err := Load(role, []string{"--tls-client-ca", "ca.pem"}, key, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--tls-client-ca (AUTHSUITE_TLS_CLIENT_CA)") {
			t.Errorf("%s role with --tls-client-ca: %v; want an error naming the flag", role, err)
		}
	}
}
