package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestRESTLimits: the REST bounds have safe defaults, can be set by flag or environment, and nonsense is
// refused naming the setting.
func TestRESTLimits(t *testing.T) {
	c, err := Load(RoleAll, nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxBodyBytes != 1<<20 || c.MaxProviderConfigBytes != 1<<20 || c.HTTPReadTimeout != 30*time.Second ||
		c.HTTPWriteTimeout != time.Minute || c.HTTPIdleTimeout != 2*time.Minute || c.MaxConnections != 1024 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = Load(RoleGateway, []string{"--max-connections", "64"}, []string{"AUTHSUITE_GATEWAY_CREDENTIAL=g", "AUTHSUITE_MAX_PROVIDER_CONFIG_BYTES=8388608"}, io.Discard)
	if err != nil || c.MaxConnections != 64 || c.MaxProviderConfigBytes != 8<<20 {
		t.Fatalf("flag and environment: %+v, %v", c, err)
	}
	for _, tt := range []struct{ args []string }{
		{[]string{"--max-body-bytes", "10"}}, {[]string{"--max-provider-config-bytes", "0"}},
		{[]string{"--http-read-timeout", "0s"}}, {[]string{"--http-write-timeout", "1ms"}},
		{[]string{"--http-idle-timeout", "-1s"}}, {[]string{"--max-connections", "1"}},
	} {
		name := strings.TrimPrefix(tt.args[0], "--")
		if _, err := Load(RoleAll, tt.args, nil, io.Discard); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Load(%v) = %v; want an error naming %s", tt.args, err, name)
		}
	}
}
