package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// `authsuite gateway-credential` prints the credential the services derive from AUTHSUITE_MASTER_KEY, which
// is neither the key nor the internal credential; without a usable key it fails naming the setting.
func TestGatewayCredentialCommand(t *testing.T) {
	key := suitekey.Generate()
	kr, err := suitekey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"gateway-credential"}, []string{"AUTHSUITE_MASTER_KEY=" + key}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(out.String())
	if got != internalauth.GatewayCredential(kr) || got == key || got == kr.InternalCredential() {
		t.Fatalf("printed %q", got)
	}
	for _, env := range [][]string{nil, {"AUTHSUITE_MASTER_KEY=not-a-key"}} {
		if err := run(context.Background(), []string{"gateway-credential"}, env, &out, &errOut); err == nil || !strings.Contains(err.Error(), "AUTHSUITE_MASTER_KEY") {
			t.Errorf("env %v: %v, want an error naming AUTHSUITE_MASTER_KEY", env, err)
		}
	}
}
