package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// filterBatch is how many of a tenant's client list entries a filtered listing reads per round trip.
const filterBatch = 500

// listTenantClientsFiltered is listTenantClients with opts.Filter set: it walks the tenant's client list in
// batches at one revision, reads each batch's clients and keeps the matching ones, until it holds a page and
// one more match (or the list ends), so a filtered listing never ends on an empty page.
func (s *Store) listTenantClientsFiltered(ctx context.Context, tenantID string, opts registry.ListOptions) ([]registry.Client, bool, error) {
	if hasSep(tenantID) {
		return nil, false, nil
	}
	t, rev, err := s.tenantNow(ctx, tenantID)
	if errors.Is(err, apierror.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	limit := opts.EffectiveLimit()
	prefix := s.memberPrefix(tenantID)
	start, end := after(prefix, opts.After), clientv3.GetPrefixRangeEnd(prefix)
	var items []registry.Client
	raw := registry.NewRawMatcher(opts.Filter)
	for {
		resp, err := s.cli.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(filterBatch), clientv3.WithRev(rev))
		if err != nil {
			return nil, false, err
		}
		var keys []string
		for _, kv := range resp.Kvs {
			if string(kv.Value) == t.Gen {
				keys = append(keys, s.clientKey(strings.TrimPrefix(string(kv.Key), prefix)))
			}
		}
		kvs, _, err := s.getAll(ctx, rev, keys)
		if err != nil {
			return nil, false, err
		}
		for i, kv := range kvs {
			if kv == nil {
				return nil, false, fmt.Errorf("registry etcdstore: client list of tenant %q names missing client %q", tenantID, keys[i])
			}
			c, ok, err := matchClient(kv, raw, opts.Filter)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				continue
			}
			if len(items) == limit {
				return items, true, nil
			}
			items = append(items, c)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return items, false, nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// matchClient decodes a stored client when it may match filter, and reports whether it does.
func matchClient(kv *mvccpb.KeyValue, raw *registry.RawMatcher, filter string) (registry.Client, bool, error) {
	if !raw.MayMatch(kv.Value) {
		return registry.Client{}, false, nil
	}
	var sc storedClient
	if err := decode(kv, &sc); err != nil {
		return registry.Client{}, false, err
	}
	c := sc.domain()
	return c, registry.ClientMatches(c, filter), nil
}
