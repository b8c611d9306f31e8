package server_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// BenchmarkCreateClient measures one CreateClient over loopback gRPC: authorization, validation, one fsynced
// bbolt write and the feed publication.
func BenchmarkCreateClient(b *testing.B) {
	e := newEnv(b)
	ctx := as(tokSystem)
	i := 0
	for b.Loop() {
		i++
		if _, err := e.clients.CreateClient(ctx, &registryv1.CreateClientRequest{TenantId: "acme", Client: validClient(fmt.Sprintf("bench-%d", i))}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordSecretUse measures one RecordSecretUse batch of 100 uses over 100 clients: one write.
func BenchmarkRecordSecretUse(b *testing.B) {
	e := newEnv(b)
	var uses []*registryv1.SecretUse
	for i := range 100 {
		id := fmt.Sprintf("c%03d", i)
		e.createClient(b, "acme", id)
		sec, err := e.clients.CreateClientSecret(as(tokSystem), &registryv1.CreateClientSecretRequest{TenantId: "acme", ClientId: id})
		if err != nil {
			b.Fatal(err)
		}
		uses = append(uses, &registryv1.SecretUse{ClientId: id, SecretId: sec.GetSecret().GetSecretId()})
	}
	req := &registryv1.RecordSecretUseRequest{Uses: uses}
	t := time.Now()
	for b.Loop() {
		t = t.Add(time.Second)
		for _, u := range uses {
			u.UsedTime = timestamppb.New(t)
		}
		if _, err := e.internal.RecordSecretUse(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}
