package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// clientService implements ClientService for the tenant named in each request's path.
type clientService struct {
	registryv1.UnimplementedClientServiceServer
	s *Server
}

// errClientNotFound hides whether a client exists in another tenant.
func errClientNotFound(tenantID, clientID string) error {
	return apierror.NotFound("client %q in tenant %q", clipID(clientID), clipID(tenantID))
}

// tenantClient returns the client if it belongs to tenantID.
func (s *Server) tenantClient(ctx context.Context, tenantID, clientID string) (registry.Client, error) {
	c, err := s.store.GetClient(ctx, clientID)
	if errors.Is(err, apierror.ErrNotFound) || err == nil && c.TenantID != tenantID {
		return registry.Client{}, errClientNotFound(tenantID, clientID)
	}
	return c, err
}

func (cs *clientService) CreateClient(ctx context.Context, req *registryv1.CreateClientRequest) (resp *registryv1.CreateClientResponse, err error) {
	err = cs.s.adminWrite(ctx, req.GetTenantId(), false, func(p principal) error {
		if req.GetClient() == nil {
			return apierror.Invalid("client", "is required")
		}
		c, err := clientFromProto(req.GetClient())
		if err != nil {
			return err
		}
		c = registry.NormalizeClient(c)
		if err := registry.ValidateClient(c); err != nil {
			return err
		}
		c.TenantID = req.GetTenantId()
		if err := reservedClientID(c.ID, c.TenantID); err != nil {
			return err
		}
		now := cs.s.now().UTC()
		c.CreateTime, c.UpdateTime = now, now
		id := c.ID
		c, err = cs.s.store.CreateClient(ctx, c)
		if errors.Is(err, apierror.ErrAlreadyExists) {
			return cs.s.clientIDTaken(ctx, p, id)
		}
		if err != nil {
			return err
		}
		resp = &registryv1.CreateClientResponse{Client: clientToProto(c)}
		return nil
	})
	return resp, err
}

// clientIDTaken is the ALREADY_EXISTS answer to creating a client whose id is in use: client ids are unique
// across tenants, because token requests name the client without its tenant. The message names the tenant
// holding the id only when the caller administers it (an admin of that tenant or of the system tenant);
// anyone else learns that the id is taken, nothing about where.
func (s *Server) clientIDTaken(ctx context.Context, p principal, clientID string) error {
	if old, err := s.store.GetClient(ctx, clientID); err == nil && p.RequireAdminOf(old.TenantID) == nil {
		name := old.TenantID
		if t, err := s.store.GetTenant(ctx, old.TenantID); err == nil && t.Code != "" {
			name = t.Code
		}
		return apierror.AlreadyExists("client id %q is taken in tenant %s", clipID(clientID), name)
	}
	return apierror.AlreadyExists("client id %q is taken (client ids are unique across tenants)", clipID(clientID))
}

func (cs *clientService) ListClients(ctx context.Context, req *registryv1.ListClientsRequest) (resp *registryv1.ListClientsResponse, err error) {
	err = cs.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		opts, err := registry.ListPageOptions(req.GetPageSize(), req.GetPageToken(), req.GetFilter())
		if err != nil {
			return err
		}
		if _, err := cs.s.store.GetTenant(ctx, req.GetTenantId()); err != nil {
			return err
		}
		items, next, err := cs.s.store.ListClients(ctx, req.GetTenantId(), opts)
		if err != nil {
			return err
		}
		resp = &registryv1.ListClientsResponse{Items: []*registryv1.Client{}, NextPageToken: registry.EncodeListPageToken(next, opts.Filter)}
		for _, c := range items {
			resp.Items = append(resp.Items, clientToProto(c))
		}
		return nil
	})
	return resp, err
}

func (cs *clientService) GetClient(ctx context.Context, req *registryv1.GetClientRequest) (resp *registryv1.GetClientResponse, err error) {
	err = cs.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		c, err := cs.s.tenantClient(ctx, req.GetTenantId(), req.GetClientId())
		if err != nil {
			return err
		}
		resp = &registryv1.GetClientResponse{Client: clientToProto(c)}
		return nil
	})
	return resp, err
}

func (cs *clientService) UpdateClient(ctx context.Context, req *registryv1.UpdateClientRequest) (resp *registryv1.UpdateClientResponse, err error) {
	err = cs.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if req.GetClient() == nil {
			return apierror.Invalid("client", "is required")
		}
		in, err := clientFromProto(req.GetClient())
		if err != nil {
			return err
		}
		in = registry.NormalizeClient(in)
		if in.ID != "" && in.ID != req.GetClientId() {
			return apierror.Invalid("clientId", "the body's clientId must match the path")
		}
		in.ID = req.GetClientId()
		if err := registry.ValidateClient(in); err != nil {
			if fe := (*apierror.FieldError)(nil); errors.As(err, &fe) && fe.Field == "clientId" {
				return errClientNotFound(req.GetTenantId(), in.ID) // no such client can exist
			}
			return err
		}
		now := cs.s.now().UTC()
		c, err := cs.s.store.UpdateClient(ctx, in.ID, func(old registry.Client) (registry.Client, error) {
			if old.TenantID != req.GetTenantId() {
				return registry.Client{}, errClientNotFound(req.GetTenantId(), in.ID)
			}
			in.TenantID, in.CreateTime, in.UpdateTime, in.Secrets = old.TenantID, old.CreateTime, now, old.Secrets
			return in, nil
		})
		if errors.Is(err, apierror.ErrNotFound) {
			return errClientNotFound(req.GetTenantId(), in.ID)
		}
		if err != nil {
			return err
		}
		resp = &registryv1.UpdateClientResponse{Client: clientToProto(c)}
		return nil
	})
	return resp, err
}

func (cs *clientService) DeleteClient(ctx context.Context, req *registryv1.DeleteClientRequest) (resp *registryv1.DeleteClientResponse, err error) {
	err = cs.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if _, err := cs.s.tenantClient(ctx, req.GetTenantId(), req.GetClientId()); err != nil {
			return err
		}
		if err := cs.s.store.DeleteClient(ctx, req.GetClientId()); err != nil {
			return err
		}
		resp = &registryv1.DeleteClientResponse{}
		return nil
	})
	return resp, err
}

func (cs *clientService) CreateClientSecret(ctx context.Context, req *registryv1.CreateClientSecretRequest) (resp *registryv1.CreateClientSecretResponse, err error) {
	err = cs.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		in := req.GetSecret()
		if len(in.GetDescription()) > 200 || strings.ContainsFunc(in.GetDescription(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return apierror.Invalid("description", "must be at most 200 bytes without control characters")
		}
		if in != nil && in.Value != nil || in.GetValueDisplay() != "" {
			return apierror.Invalid("value", "is generated by the server and cannot be set")
		}
		start, err := timeFromProto("startTime", in.GetStartTime())
		if err != nil {
			return err
		}
		exp, err := timeFromProto("expiration", in.GetExpiration())
		if err != nil {
			return err
		}
		now := cs.s.now().UTC()
		start, exp, err = registry.SecretWindow(now, start, exp)
		if err != nil {
			return err
		}
		value, display := registry.NewSecretValue()
		keyID, sum := cs.s.keyring.Digest(registry.SecretDigestPurpose, []byte(value))
		secret := registry.Secret{
			ID: registry.NewID(), Description: in.GetDescription(), KeyID: keyID, Digest: sum,
			ValueDisplay: display, StartTime: start, Expiration: exp,
		}
		_, err = cs.s.store.UpdateClient(ctx, req.GetClientId(), func(c registry.Client) (registry.Client, error) {
			if c.TenantID != req.GetTenantId() {
				return registry.Client{}, errClientNotFound(req.GetTenantId(), req.GetClientId())
			}
			if len(c.Secrets) >= registry.MaxSecretsPerClient {
				return registry.Client{}, apierror.FailedPrecondition("client %q already has %d secrets; delete one first", c.ID, len(c.Secrets))
			}
			c.Secrets = append(c.Secrets, secret)
			sortSecrets(c.Secrets)
			c.UpdateTime = now
			return c, nil
		})
		if errors.Is(err, apierror.ErrNotFound) {
			return errClientNotFound(req.GetTenantId(), req.GetClientId())
		}
		if err != nil {
			return err
		}
		resp = &registryv1.CreateClientSecretResponse{Secret: secretToProto(secret, &value)}
		return nil
	})
	return resp, err
}

func sortSecrets(s []registry.Secret) {
	slices.SortStableFunc(s, func(a, b registry.Secret) int {
		if c := a.StartTime.Compare(b.StartTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (cs *clientService) ListClientSecrets(ctx context.Context, req *registryv1.ListClientSecretsRequest) (resp *registryv1.ListClientSecretsResponse, err error) {
	err = cs.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		c, err := cs.s.tenantClient(ctx, req.GetTenantId(), req.GetClientId())
		if err != nil {
			return err
		}
		sortSecrets(c.Secrets)
		resp = &registryv1.ListClientSecretsResponse{Items: []*registryv1.ClientSecret{}}
		for _, sec := range c.Secrets {
			resp.Items = append(resp.Items, secretToProto(sec, nil))
		}
		return nil
	})
	return resp, err
}

func (cs *clientService) DeleteClientSecret(ctx context.Context, req *registryv1.DeleteClientSecretRequest) (resp *registryv1.DeleteClientSecretResponse, err error) {
	err = cs.updateSecret(ctx, req.GetTenantId(), req.GetClientId(), req.GetSecretId(), func(c *registry.Client, i int, _ time.Time) {
		c.Secrets = slices.Delete(c.Secrets, i, i+1)
	})
	if err != nil {
		return nil, err
	}
	return &registryv1.DeleteClientSecretResponse{}, nil
}

// updateSecret is the write path of the calls on one secret: an admin write to the tenant, changing the
// secret at index i of the client the store hands over (change may run more than once, so it must
// depend on its arguments only). Not found names the client (in this tenant) or the secret.
func (cs *clientService) updateSecret(ctx context.Context, tenantID, clientID, secretID string, change func(c *registry.Client, i int, now time.Time)) error {
	return cs.s.adminWrite(ctx, tenantID, false, func(principal) error {
		now := cs.s.now().UTC()
		_, err := cs.s.store.UpdateClient(ctx, clientID, func(c registry.Client) (registry.Client, error) {
			if c.TenantID != tenantID {
				return registry.Client{}, errClientNotFound(tenantID, clientID)
			}
			i := slices.IndexFunc(c.Secrets, func(s registry.Secret) bool { return s.ID == secretID })
			if i < 0 {
				return registry.Client{}, apierror.NotFound("secret %q of client %q", clipID(secretID), c.ID)
			}
			c.Secrets = slices.Clone(c.Secrets)
			change(&c, i, now)
			c.UpdateTime = now
			return c, nil
		})
		return err
	})
}
