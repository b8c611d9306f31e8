package clients

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
)

func TestFromRecordDefaultsAndSecrets(t *testing.T) {
	kr, _ := suitekey.New(make([]byte, 32))
	kid, sum := kr.Digest(DigestPurpose, []byte("pw"))
	now := time.Unix(1_700_000_000, 0)
	c, err := fromRecord(&registryv1.ClientRecord{
		Client:     &registryv1.Client{ClientId: "c", TenantId: "t"},
		TenantCode: "code",
		Secrets: []*registryv1.SecretDigest{{SecretId: "s", KeyId: kid, Digest: sum,
			StartTime: timestamppb.New(now.Add(-time.Hour)), Expiration: timestamppb.New(now.Add(time.Hour))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenLifetime != 24*time.Hour || !c.RequireSecret || !c.AllowRememberConsent || !c.BackChannelLogoutSessionRequired || c.TenantCode != "code" {
		t.Fatalf("defaults: %+v", c)
	}
	for _, tc := range []struct {
		value string
		at    time.Time
		ok    bool
	}{
		{"pw", now, true},
		{"pw", now.Add(-time.Hour - time.Second), false}, // not yet valid
		{"pw", now.Add(time.Hour), false},                // expired (end exclusive)
		{"PW", now, false},
		{"", now, false},
	} {
		if id, ok := c.VerifySecret(kr, tc.value, tc.at); ok != tc.ok || (ok && id != "s") {
			t.Errorf("VerifySecret(%q, %v) = %q, %v", tc.value, tc.at, id, ok)
		}
	}
	if _, err := fromRecord(&registryv1.ClientRecord{}); err == nil {
		t.Fatal("record without client id accepted")
	}
}
