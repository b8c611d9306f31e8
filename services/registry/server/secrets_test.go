package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

func TestSecretLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokAcme)
	e.createClient(t, "acme", "app")
	before := time.Now()
	resp, err := e.clients.CreateClientSecret(ctx, &registryv1.CreateClientSecretRequest{
		TenantId: "acme", ClientId: "app", Secret: &registryv1.ClientSecret{Description: "ci"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sec := resp.GetSecret()
	value := sec.GetValue()
	if len(value) < 43 || sec.GetValueDisplay() != value[:3] || sec.GetSecretId() == "" || sec.GetDescription() != "ci" {
		t.Fatalf("created secret = %v", sec)
	}
	// Defaults: start now, expiration 6 months later.
	start, exp := sec.GetStartTime().AsTime(), sec.GetExpiration().AsTime()
	if start.Before(before.Add(-time.Second)) || start.After(time.Now().Add(time.Second)) || !exp.Equal(start.AddDate(0, 6, 0)) {
		t.Fatalf("window = %v .. %v", start, exp)
	}
	// Stored as a keyed digest that verifies the value; the value itself is nowhere.
	stored, err := e.store.GetClient(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	s := stored.Secrets[0]
	if !e.keyring.VerifyDigest(registry.SecretDigestPurpose, s.KeyID, []byte(value), s.Digest) {
		t.Fatal("stored digest does not verify the value")
	}
	// Listing shows valueDisplay, never the value.
	list, err := e.clients.ListClientSecrets(ctx, &registryv1.ListClientSecretsRequest{TenantId: "acme", ClientId: "app"})
	if err != nil || len(list.GetItems()) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if it := list.GetItems()[0]; it.Value != nil || it.GetValueDisplay() != value[:3] || it.GetLastUsed() != nil {
		t.Fatalf("listed secret = %v", it)
	}
	// Several secrets per client, ordered by start time.
	later := time.Now().Add(time.Hour)
	second, err := e.clients.CreateClientSecret(ctx, &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "app", Secret: &registryv1.ClientSecret{
		StartTime: timestamppb.New(later), Expiration: timestamppb.New(later.AddDate(1, 0, 0)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetSecret().GetValue() == value {
		t.Fatal("two secrets with the same value")
	}
	// lastUsed appears after RecordSecretUse.
	used := time.Now().Truncate(time.Second)
	if _, err := e.internal.RecordSecretUse(t.Context(), &registryv1.RecordSecretUseRequest{Uses: []*registryv1.SecretUse{
		{ClientId: "app", SecretId: sec.GetSecretId(), UsedTime: timestamppb.New(used)},
		{ClientId: "ghost", SecretId: "x", UsedTime: timestamppb.New(used)},
	}}); err != nil {
		t.Fatal(err)
	}
	list, _ = e.clients.ListClientSecrets(ctx, &registryv1.ListClientSecretsRequest{TenantId: "acme", ClientId: "app"})
	if len(list.GetItems()) != 2 || list.GetItems()[1].GetSecretId() != second.GetSecret().GetSecretId() || !list.GetItems()[0].GetLastUsed().AsTime().Equal(used) {
		t.Fatalf("after use: %v", list.GetItems())
	}
	// Delete one.
	if _, err := e.clients.DeleteClientSecret(ctx, &registryv1.DeleteClientSecretRequest{TenantId: "acme", ClientId: "app", SecretId: sec.GetSecretId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.clients.DeleteClientSecret(ctx, &registryv1.DeleteClientSecretRequest{TenantId: "acme", ClientId: "app", SecretId: sec.GetSecretId()})
	wantCode(t, err, codes.NotFound)
	_, err = e.clients.CreateClientSecret(ctx, &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "ghost"})
	wantCode(t, err, codes.NotFound)
}

func TestSecretWindowValidation(t *testing.T) {
	e := newEnv(t)
	e.createClient(t, "acme", "app")
	now := time.Now()
	tests := []struct {
		name       string
		start, exp time.Time
		field      string
	}{
		{"expires in 23 hours", time.Time{}, now.Add(23 * time.Hour), "expiration"},
		{"expired", time.Time{}, now.Add(-time.Hour), "expiration"},
		{"expires after 3 years and a day", time.Time{}, now.AddDate(3, 0, 1), "expiration"},
		{"expires before start", now.Add(72 * time.Hour), now.Add(48 * time.Hour), "expiration"},
		{"starts too late", now.AddDate(4, 0, 0), now.AddDate(2, 0, 0), "startTime"},
		{"", time.Time{}, now.Add(25 * time.Hour), ""},
		{"", time.Time{}, now.AddDate(3, 0, 0), ""},
	}
	for _, tc := range tests {
		sec := &registryv1.ClientSecret{}
		if !tc.start.IsZero() {
			sec.StartTime = timestamppb.New(tc.start)
		}
		sec.Expiration = timestamppb.New(tc.exp)
		_, err := e.clients.CreateClientSecret(as(tokAcme), &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "app", Secret: sec})
		if tc.field == "" {
			if err != nil {
				t.Errorf("expiration %v: %v", tc.exp, err)
			}
			continue
		}
		t.Run(tc.name, func(t *testing.T) { wantField(t, err, tc.field) })
	}
	_, err := e.clients.CreateClientSecret(as(tokAcme), &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "app",
		Secret: &registryv1.ClientSecret{Value: new("chosen")}})
	wantField(t, err, "value")
	_, err = e.clients.CreateClientSecret(as(tokAcme), &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: "app",
		Secret: &registryv1.ClientSecret{Expiration: &timestamppb.Timestamp{Seconds: 1 << 62}}})
	wantField(t, err, "expiration")
}

func TestSecretUsableWindow(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := registry.Secret{StartTime: start, Expiration: start.Add(24 * time.Hour)}
	for at, want := range map[time.Time]bool{
		start.Add(-time.Nanosecond): false,
		start:                       true,
		start.Add(time.Hour):        true,
		s.Expiration.Add(-1):        true,
		s.Expiration:                false,
	} {
		if s.UsableAt(at) != want {
			t.Errorf("UsableAt(%v) = %v", at, !want)
		}
	}
}
