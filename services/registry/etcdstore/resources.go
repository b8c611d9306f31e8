package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// storedResource is the stored form of an API resource (key r/<tenant> NUL <resource>), with its tenant's
// generation: it counts only while its tenant exists with that generation.
type storedResource struct {
	ID                         string    `json:"id"`
	TenantID                   string    `json:"tenant_id"`
	DisplayName                string    `json:"display_name,omitempty"`
	Scopes                     []string  `json:"scopes,omitempty"`
	AccessTokenLifetimeSeconds int64     `json:"access_token_lifetime_s,omitempty"`
	CreateTime                 time.Time `json:"create_time"`
	UpdateTime                 time.Time `json:"update_time"`
	TenantGen                  string    `json:"tenant_gen"`
}

func resourceToStored(r registry.ApiResource) storedResource {
	return storedResource{
		ID: r.ID, TenantID: r.TenantID, DisplayName: r.DisplayName, Scopes: r.Scopes,
		AccessTokenLifetimeSeconds: int64(r.AccessTokenLifetime / time.Second),
		CreateTime:                 r.CreateTime, UpdateTime: r.UpdateTime,
	}
}

func (s storedResource) domain() registry.ApiResource {
	return registry.ApiResource{
		ID: s.ID, TenantID: s.TenantID, DisplayName: s.DisplayName, Scopes: s.Scopes,
		AccessTokenLifetime: time.Duration(s.AccessTokenLifetimeSeconds) * time.Second,
		CreateTime:          s.CreateTime, UpdateTime: s.UpdateTime,
	}
}

// resourceSnap is a tenant and (maybe) one of its API resources read in one snapshot.
type resourceSnap struct {
	tenant   storedTenant
	tenantCR int64
	res      *storedResource // nil: no such resource (of this generation)
	resMod   int64           // ModRevision of the resource key, also when the record there does not count
}

// readResource reads tenant tid and key r/tid/id in one transaction. ErrNotFound when the tenant does not
// exist.
func (s *Store) readResource(ctx context.Context, tid, id string) (resourceSnap, error) {
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.tenantKey(tid)), clientv3.OpGet(s.resourceKey(tid, id))).Commit()
	if err != nil {
		return resourceSnap{}, err
	}
	tkvs, rkvs := resp.Responses[0].GetResponseRange().GetKvs(), resp.Responses[1].GetResponseRange().GetKvs()
	if len(tkvs) == 0 {
		return resourceSnap{}, apierror.NotFound("tenant %q", tid)
	}
	var snap resourceSnap
	if err := decode(tkvs[0], &snap.tenant); err != nil {
		return resourceSnap{}, err
	}
	snap.tenantCR = tkvs[0].CreateRevision
	if len(rkvs) > 0 {
		snap.resMod = rkvs[0].ModRevision
		var sr storedResource
		if err := decode(rkvs[0], &sr); err != nil {
			return resourceSnap{}, err
		}
		if sr.TenantGen == snap.tenant.Gen {
			snap.res = &sr
		}
	}
	return snap, nil
}

// liveResource reads API resource tid/id; ErrNotFound when it (or its tenant) does not exist.
func (s *Store) liveResource(ctx context.Context, tid, id string) (resourceSnap, error) {
	notFound := apierror.NotFound("API resource %q in tenant %q", id, tid)
	if hasSep(tid, id) {
		return resourceSnap{}, notFound
	}
	snap, err := s.readResource(ctx, tid, id)
	if errors.Is(err, apierror.ErrNotFound) || (err == nil && snap.res == nil) {
		return resourceSnap{}, notFound
	}
	return snap, err
}

// casResource commits ops if the tenant of snap still has its generation and the resource key is unchanged,
// else errConflict.
func (s *Store) casResource(ctx context.Context, snap resourceSnap, tid, id string, ops ...clientv3.Op) error {
	resp, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(s.tenantKey(tid)), "=", snap.tenantCR),
		clientv3.Compare(clientv3.ModRevision(s.resourceKey(tid, id)), "=", snap.resMod),
	).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errConflict
	}
	s.note(resp.Header.Revision)
	return nil
}

// putResource returns the operation storing r under generation gen, and r as it reads back.
func (s *Store) putResource(r registry.ApiResource, gen string) (clientv3.Op, registry.ApiResource, error) {
	sr := resourceToStored(r)
	sr.TenantGen = gen
	raw, err := json.Marshal(sr)
	if err != nil {
		return clientv3.Op{}, registry.ApiResource{}, err
	}
	var back storedResource
	if err := json.Unmarshal(raw, &back); err != nil {
		return clientv3.Op{}, registry.ApiResource{}, err
	}
	return clientv3.OpPut(s.resourceKey(r.TenantID, r.ID), string(raw)), back.domain(), nil
}

// CreateApiResource implements registry.Store. A record left behind by an earlier generation of the tenant
// does not hold its ID: it is replaced.
func (s *Store) CreateApiResource(ctx context.Context, r registry.ApiResource) (out registry.ApiResource, err error) {
	if badID(r.ID, r.TenantID) {
		return registry.ApiResource{}, errBadID
	}
	err = retry(ctx, func() error {
		snap, err := s.readResource(ctx, r.TenantID, r.ID)
		if err != nil {
			return err
		}
		if snap.res != nil {
			return apierror.AlreadyExists("API resource %q in tenant %q", r.ID, r.TenantID)
		}
		op, stored, err := s.putResource(r, snap.tenant.Gen)
		if err != nil {
			return err
		}
		out = stored
		return s.casResource(ctx, snap, r.TenantID, r.ID, op)
	})
	if err != nil {
		return registry.ApiResource{}, err
	}
	return out, nil
}

// GetApiResource implements registry.Store.
func (s *Store) GetApiResource(ctx context.Context, tenantID, id string) (registry.ApiResource, error) {
	snap, err := s.liveResource(ctx, tenantID, id)
	if err != nil {
		return registry.ApiResource{}, err
	}
	return snap.res.domain(), nil
}

// ListApiResources implements registry.Store: the tenant's generation and its resources are read at one
// revision.
func (s *Store) ListApiResources(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.ApiResource, next string, err error) {
	if hasSep(tenantID) {
		return nil, "", nil
	}
	var more bool
	err = retry(ctx, func() error {
		t, rev, err := s.tenantNow(ctx, tenantID)
		if errors.Is(err, apierror.ErrNotFound) {
			items, more = nil, false
			return nil
		}
		if err != nil {
			return err
		}
		prefix := s.resourcePrefix(tenantID)
		items, more, _, err = page(ctx, s, rev, after(prefix, opts.After), clientv3.GetPrefixRangeEnd(prefix), opts.EffectiveLimit(),
			func(kv *mvccpb.KeyValue, _ int64) (registry.ApiResource, bool, error) {
				var sr storedResource
				if err := decode(kv, &sr); err != nil {
					return registry.ApiResource{}, false, err
				}
				return sr.domain(), sr.TenantGen == t.Gen, nil
			})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if more {
		next = items[len(items)-1].ID
	}
	return items, next, nil
}

// UpdateApiResource implements registry.Store. update may run more than once.
func (s *Store) UpdateApiResource(ctx context.Context, tenantID, id string, update func(registry.ApiResource) (registry.ApiResource, error)) (r registry.ApiResource, err error) {
	err = retry(ctx, func() error {
		snap, err := s.liveResource(ctx, tenantID, id)
		if err != nil {
			return err
		}
		r, err = update(snap.res.domain())
		if err != nil {
			return err
		}
		r.ID, r.TenantID = snap.res.ID, snap.res.TenantID
		op, stored, err := s.putResource(r, snap.tenant.Gen)
		if err != nil {
			return err
		}
		r = stored
		return s.casResource(ctx, snap, tenantID, id, op)
	})
	if err != nil {
		return registry.ApiResource{}, err
	}
	return r, nil
}

// DeleteApiResource implements registry.Store.
func (s *Store) DeleteApiResource(ctx context.Context, tenantID, id string) error {
	return retry(ctx, func() error {
		snap, err := s.liveResource(ctx, tenantID, id)
		if err != nil {
			return err
		}
		return s.casResource(ctx, snap, tenantID, id, clientv3.OpDelete(s.resourceKey(tenantID, id)))
	})
}
