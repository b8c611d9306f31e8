package config

import (
	"io"
	"strings"
	"testing"
)

// TestAllowPrivateOutbound: off by default; on by flag or by AUTHSUITE_ALLOW_PRIVATE_OUTBOUND; a value that
// is not a boolean is an error naming the variable.
func TestAllowPrivateOutbound(t *testing.T) {
	for _, tc := range []struct {
		args, env []string
		want      bool
	}{
		{nil, nil, false},
		{[]string{"--allow-private-outbound"}, nil, true},
		{nil, []string{"AUTHSUITE_ALLOW_PRIVATE_OUTBOUND=true"}, true},
		{nil, []string{"AUTHSUITE_ALLOW_PRIVATE_OUTBOUND=0"}, false},
		{[]string{"--allow-private-outbound=false"}, []string{"AUTHSUITE_ALLOW_PRIVATE_OUTBOUND=1"}, false},
	} {
		c, err := Load(RoleAll, tc.args, tc.env, io.Discard)
		if err != nil || c.AllowPrivateOutbound != tc.want {
			t.Errorf("Load(%v, %v): AllowPrivateOutbound %v, %v; want %v", tc.args, tc.env, c.AllowPrivateOutbound, err, tc.want)
		}
	}
	if _, err := Load(RoleAll, nil, []string{"AUTHSUITE_ALLOW_PRIVATE_OUTBOUND=maybe"}, io.Discard); err == nil || !strings.Contains(err.Error(), "AUTHSUITE_ALLOW_PRIVATE_OUTBOUND") {
		t.Fatalf("a non-boolean value: %v", err)
	}
}
