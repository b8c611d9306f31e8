package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// resourceService implements ApiResourceService for the tenant named in each request's path. Its callers are
// those of ClientService: a system administrator in any tenant, a tenant administrator in their own
// (Server.admin). A resource is named by its resource indicator in normal form (registry.NormalizeResourceID):
// a path naming it in another spelling of the same URI finds it.
type resourceService struct {
	registryv1.UnimplementedApiResourceServiceServer
	s *Server
}

// errResourceNotFound is the answer for a resource the tenant does not have.
func errResourceNotFound(tenantID, id string) error {
	return apierror.NotFound("API resource %q in tenant %q", apierror.Clip(id, 128), clipID(tenantID))
}

// pathResourceID returns the resource indicator a request's path names, in normal form; a value no resource
// can have is errResourceNotFound.
func pathResourceID(tenantID, raw string) (string, error) {
	id := registry.NormalizeResourceID(raw)
	if registry.ValidateResourceID("resourceId", id) != nil {
		return "", errResourceNotFound(tenantID, raw)
	}
	return id, nil
}

// resourceFromProto reads the settings of a request body's resource; output-only fields are ignored.
func resourceFromProto(p *registryv1.ApiResource) registry.ApiResource {
	r := registry.ApiResource{
		ID:          registry.NormalizeResourceID(p.GetResourceId()),
		DisplayName: p.GetDisplayName(),
		Scopes:      slices.Clone(p.GetScopes()),
	}
	if p.AccessTokenLifetime != nil {
		r.AccessTokenLifetime = time.Duration(p.GetAccessTokenLifetime()) * time.Second
	}
	return r
}

// resourceToProto is the answer form of r: access_token_lifetime is absent when the client's applies, and
// scopes is always a list.
func resourceToProto(r registry.ApiResource) *registryv1.ApiResource {
	p := &registryv1.ApiResource{
		ResourceId: r.ID, TenantId: r.TenantID, DisplayName: r.DisplayName, Scopes: slices.Clone(r.Scopes),
		CreateTime: timestamp(r.CreateTime), UpdateTime: timestamp(r.UpdateTime),
	}
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	if r.AccessTokenLifetime > 0 {
		p.AccessTokenLifetime = proto.Int32(int32(r.AccessTokenLifetime / time.Second))
	}
	return p
}

// validLifetime refuses a lifetime that would not survive the conversion to a duration (negative values are
// left to ValidateApiResource, which names the same field).
func validLifetime(p *registryv1.ApiResource) error {
	if p.AccessTokenLifetime != nil && p.GetAccessTokenLifetime() == 0 {
		return apierror.Invalid("accessTokenLifetime", "must be unset or %d to %d seconds",
			int64(registry.MinResourceTokenLifetime/time.Second), int64(registry.MaxResourceTokenLifetime/time.Second))
	}
	return nil
}

func (rs *resourceService) CreateApiResource(ctx context.Context, req *registryv1.CreateApiResourceRequest) (resp *registryv1.CreateApiResourceResponse, err error) {
	err = rs.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if req.GetResource() == nil {
			return apierror.Invalid("resource", "is required")
		}
		if err := validLifetime(req.GetResource()); err != nil {
			return err
		}
		r := resourceFromProto(req.GetResource())
		if err := registry.ValidateApiResource(r); err != nil {
			return err
		}
		r.TenantID = req.GetTenantId()
		now := rs.s.now().UTC()
		r.CreateTime, r.UpdateTime = now, now
		id := r.ID
		r, err := rs.s.store.CreateApiResource(ctx, r)
		if errors.Is(err, apierror.ErrAlreadyExists) {
			return apierror.AlreadyExists("API resource %q already exists in tenant %q", apierror.Clip(id, 128), clipID(req.GetTenantId()))
		}
		if err != nil {
			return err
		}
		resp = &registryv1.CreateApiResourceResponse{Resource: resourceToProto(r)}
		return nil
	})
	return resp, err
}

func (rs *resourceService) ListApiResources(ctx context.Context, req *registryv1.ListApiResourcesRequest) (resp *registryv1.ListApiResourcesResponse, err error) {
	err = rs.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		opts, err := registry.PageOptions(req.GetPageSize(), req.GetPageToken())
		if err != nil {
			return err
		}
		if _, err := rs.s.store.GetTenant(ctx, req.GetTenantId()); err != nil {
			return err
		}
		items, next, err := rs.s.store.ListApiResources(ctx, req.GetTenantId(), opts)
		if err != nil {
			return err
		}
		resp = &registryv1.ListApiResourcesResponse{Items: []*registryv1.ApiResource{}, NextPageToken: registry.EncodePageToken(next)}
		for _, r := range items {
			resp.Items = append(resp.Items, resourceToProto(r))
		}
		return nil
	})
	return resp, err
}

func (rs *resourceService) GetApiResource(ctx context.Context, req *registryv1.GetApiResourceRequest) (resp *registryv1.GetApiResourceResponse, err error) {
	err = rs.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		id, err := pathResourceID(req.GetTenantId(), req.GetResourceId())
		if err != nil {
			return err
		}
		r, err := rs.s.store.GetApiResource(ctx, req.GetTenantId(), id)
		if errors.Is(err, apierror.ErrNotFound) {
			return errResourceNotFound(req.GetTenantId(), id)
		}
		if err != nil {
			return err
		}
		resp = &registryv1.GetApiResourceResponse{Resource: resourceToProto(r)}
		return nil
	})
	return resp, err
}

func (rs *resourceService) UpdateApiResource(ctx context.Context, req *registryv1.UpdateApiResourceRequest) (resp *registryv1.UpdateApiResourceResponse, err error) {
	err = rs.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		id, err := pathResourceID(req.GetTenantId(), req.GetResourceId())
		if err != nil {
			return err
		}
		if req.GetResource() == nil {
			return apierror.Invalid("resource", "is required")
		}
		if err := validLifetime(req.GetResource()); err != nil {
			return err
		}
		in := resourceFromProto(req.GetResource())
		if req.GetResource().GetResourceId() != "" && in.ID != id {
			return apierror.Invalid("resourceId", "the body's resourceId must match the path")
		}
		in.ID = id
		if err := registry.ValidateApiResource(in); err != nil {
			return err
		}
		now := rs.s.now().UTC()
		r, err := rs.s.store.UpdateApiResource(ctx, req.GetTenantId(), id, func(old registry.ApiResource) (registry.ApiResource, error) {
			out := in.Clone()
			out.TenantID, out.CreateTime, out.UpdateTime = old.TenantID, old.CreateTime, now
			return out, nil
		})
		if errors.Is(err, apierror.ErrNotFound) {
			return errResourceNotFound(req.GetTenantId(), id)
		}
		if err != nil {
			return err
		}
		resp = &registryv1.UpdateApiResourceResponse{Resource: resourceToProto(r)}
		return nil
	})
	return resp, err
}

func (rs *resourceService) DeleteApiResource(ctx context.Context, req *registryv1.DeleteApiResourceRequest) (resp *registryv1.DeleteApiResourceResponse, err error) {
	err = rs.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		id, err := pathResourceID(req.GetTenantId(), req.GetResourceId())
		if err != nil {
			return err
		}
		err = rs.s.store.DeleteApiResource(ctx, req.GetTenantId(), id)
		if errors.Is(err, apierror.ErrNotFound) {
			return errResourceNotFound(req.GetTenantId(), id)
		}
		if err != nil {
			return err
		}
		resp = &registryv1.DeleteApiResourceResponse{}
		return nil
	})
	return resp, err
}
