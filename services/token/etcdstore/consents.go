package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/token"
)

// ListConsents implements token.Store: one range read of the keys that start with tenant NUL user NUL
// (etcd answers them in key order: by client id), limited to token.MaxListConsents. A record whose own
// tenant or user differs (an id containing the separator) is skipped.
func (s *Store) ListConsents(ctx context.Context, tenantID, userID string) ([]token.Consent, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	prefix := s.recKey(kindConsent, consentKey(tenantID, userID, ""))
	resp, err := s.get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithLimit(token.MaxListConsents))
	if err != nil {
		return nil, err
	}
	out := make([]token.Consent, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var r consentRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("token store: consent record: %w", err)
		}
		if r.TenantID == tenantID && r.UserID == userID {
			out = append(out, r.domain())
		}
	}
	return out, nil
}

// DeleteConsent implements token.Store: one delete, whose count says whether there was a record (etcd
// serialises concurrent deletions: one counts it). Its expiry index entry goes at its time (SweepExpired).
func (s *Store) DeleteConsent(ctx context.Context, tenantID, userID, clientID string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	key := consentKey(tenantID, userID, clientID)
	if token.ValidKey(key) != nil {
		return token.ErrNotFound
	}
	resp, err := s.commit(ctx, nil, clientv3.OpDelete(s.recKey(kindConsent, key)))
	if err != nil {
		return err
	}
	if len(resp.Responses) == 0 || resp.Responses[0].GetResponseDeleteRange().GetDeleted() == 0 {
		return token.ErrNotFound
	}
	return nil
}

// ClientRefreshFamilies implements token.Store: a paged scan of the refresh tokens at one revision.
func (s *Store) ClientRefreshFamilies(ctx context.Context, tenantID, userID, clientID string) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	err := s.scan(ctx, s.p+"s/"+kindRefresh+"/", "", 500, func(kv *mvccpb.KeyValue) error {
		var r refreshRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return fmt.Errorf("token store: refresh record: %w", err)
		}
		if r.TenantID == tenantID && r.UserID == userID && r.ClientID == clientID && !seen[r.FamilyID] {
			seen[r.FamilyID] = true
			out = append(out, r.FamilyID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}
