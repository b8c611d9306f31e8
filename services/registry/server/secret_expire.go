package server

import (
	"context"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

// ExpireClientSecret ends a secret's validity at the time of the call: the secret stays listed (with its
// last use) but no longer authenticates its client once the token service has seen the write. A secret that
// has already expired keeps its expiration. It is authorized and written like DeleteClientSecret.
func (cs *clientService) ExpireClientSecret(ctx context.Context, req *registryv1.ExpireClientSecretRequest) (*registryv1.ExpireClientSecretResponse, error) {
	var out registry.Secret
	err := cs.updateSecret(ctx, req.GetTenantId(), req.GetClientId(), req.GetSecretId(), func(c *registry.Client, i int, now time.Time) {
		s := c.Secrets[i]
		if s.Expiration.After(now) {
			s.Expiration = now
		}
		if s.StartTime.After(s.Expiration) {
			s.StartTime = s.Expiration // a secret not yet started: keep StartTime <= Expiration
		}
		c.Secrets[i] = s
		out = s
	})
	if err != nil {
		return nil, err
	}
	return &registryv1.ExpireClientSecretResponse{Secret: secretToProto(out, nil)}, nil
}
