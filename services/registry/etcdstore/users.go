package etcdstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// userIndex is one unique-index key of a user.
type userIndex struct{ key, what string }

// indexes lists u's unique-index keys: its login name always, its email and mobile when set. Login names
// and emails compare case-insensitively.
func (s *Store) indexes(u registry.User) []userIndex {
	list := []userIndex{{s.loginPrefix(u.TenantID) + strings.ToLower(u.LoginName), "login name"}}
	if u.Email != "" {
		list = append(list, userIndex{s.emailPrefix(u.TenantID) + strings.ToLower(u.Email), "email"})
	}
	if u.Mobile != "" {
		list = append(list, userIndex{s.mobilePrefix(u.TenantID) + u.Mobile, "mobile"})
	}
	for _, fi := range u.FederatedIdentities {
		list = append(list, userIndex{s.federatedKey(u.TenantID, fi.ProviderID, fi.Subject), "federated identity"})
	}
	return list
}

// federatedKey is the index key of a federated identity; the subject is hex-encoded, so that no byte of it
// can be taken for a separator.
func (s *Store) federatedKey(tid, provider, subject string) string {
	return s.federatedPrefix(tid) + provider + sep + hex.EncodeToString([]byte(subject))
}

// userSnap is a tenant and (maybe) one of its users read in one snapshot.
type userSnap struct {
	rev      int64
	tenant   storedTenant
	tenantCR int64
	user     *storedUser // nil: no such user (of this generation)
	userMod  int64       // ModRevision of the user key, also when the record there does not count
}

// readUser reads tenant tid and user key u/tid/id (plus extra keys, returned) in one transaction, at rev when
// rev > 0. ErrNotFound when the tenant does not exist.
func (s *Store) readUser(ctx context.Context, tid, id string, rev int64, extra ...string) (userSnap, []*mvccpb.KeyValue, error) {
	var opts []clientv3.OpOption
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	ops := []clientv3.Op{clientv3.OpGet(s.tenantKey(tid), opts...), clientv3.OpGet(s.userKey(tid, id), opts...)}
	for _, k := range extra {
		ops = append(ops, clientv3.OpGet(k, opts...))
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return userSnap{}, nil, err
	}
	first := func(i int) *mvccpb.KeyValue {
		if kvs := resp.Responses[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
			return kvs[0]
		}
		return nil
	}
	snap := userSnap{rev: resp.Header.Revision}
	if rev > 0 {
		snap.rev = rev
	}
	tkv := first(0)
	if tkv == nil {
		return snap, nil, apierror.NotFound("tenant %q", tid)
	}
	if err := decode(tkv, &snap.tenant); err != nil {
		return snap, nil, err
	}
	snap.tenantCR = tkv.CreateRevision
	if ukv := first(1); ukv != nil {
		snap.userMod = ukv.ModRevision
		var su storedUser
		if err := decode(ukv, &su); err != nil {
			return snap, nil, err
		}
		if su.TenantGen == snap.tenant.Gen {
			snap.user = &su
		}
	}
	kvs := make([]*mvccpb.KeyValue, len(extra))
	for i := range extra {
		kvs[i] = first(2 + i)
	}
	return snap, kvs, nil
}

// liveUser reads user tid/id; ErrNotFound when it (or its tenant) does not exist.
func (s *Store) liveUser(ctx context.Context, tid, id string, rev int64) (userSnap, error) {
	if hasSep(tid, id) {
		return userSnap{}, apierror.NotFound("user %q in tenant %q", id, tid)
	}
	snap, _, err := s.readUser(ctx, tid, id, rev)
	if errors.Is(err, apierror.ErrNotFound) || (err == nil && snap.user == nil) {
		return userSnap{}, apierror.NotFound("user %q in tenant %q", id, tid)
	}
	return snap, err
}

// writeUser stores u in snap's tenant, replacing old (nil for a new user), keeping the unique indexes: it
// reads u's index keys at snap's revision, fails with ErrAlreadyExists when one names another user, and
// commits if the tenant, the user key and those index keys are as read (else errConflict).
func (s *Store) writeUser(ctx context.Context, snap userSnap, old *storedUser, u registry.User) error {
	if badPart(u.LoginName, u.Email, u.Mobile) {
		return errBadID
	}
	for _, fi := range u.FederatedIdentities {
		if badPart(fi.ProviderID) {
			return errBadID
		}
	}
	idx := s.indexes(u)
	keys := make([]string, len(idx))
	for i, ix := range idx {
		keys[i] = ix.key
	}
	kvs, _, err := s.getAll(ctx, snap.rev, keys)
	if err != nil {
		return err
	}
	conds := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(s.tenantKey(u.TenantID)), "=", snap.tenantCR),
		clientv3.Compare(clientv3.ModRevision(s.userKey(u.TenantID, u.ID)), "=", snap.userMod),
	}
	ref, err := json.Marshal(storedIndex{UserID: u.ID, TenantGen: snap.tenant.Gen})
	if err != nil {
		return err
	}
	var puts []clientv3.Op
	newKeys := map[string]bool{}
	for i, kv := range kvs {
		var mod int64
		if kv != nil {
			var si storedIndex
			if err := decode(kv, &si); err != nil {
				return err
			}
			if si.TenantGen == snap.tenant.Gen && si.UserID != u.ID {
				return apierror.AlreadyExists("a user with this %s in tenant %q", idx[i].what, u.TenantID)
			}
			mod = kv.ModRevision
		}
		conds = append(conds, clientv3.Compare(clientv3.ModRevision(keys[i]), "=", mod))
		puts = append(puts, clientv3.OpPut(keys[i], string(ref)))
		newKeys[keys[i]] = true
	}
	su := userToStored(u)
	su.TenantGen = snap.tenant.Gen
	raw, err := json.Marshal(su)
	if err != nil {
		return err
	}
	ops := []clientv3.Op{clientv3.OpPut(s.userKey(u.TenantID, u.ID), string(raw))}
	if old != nil {
		for _, ix := range s.indexes(old.domain()) {
			if !newKeys[ix.key] {
				ops = append(ops, clientv3.OpDelete(ix.key))
			}
		}
	}
	resp, err := s.cli.Txn(ctx).If(conds...).Then(append(ops, puts...)...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errConflict
	}
	s.note(resp.Header.Revision)
	return nil
}

// CreateUser implements registry.Store.
func (s *Store) CreateUser(ctx context.Context, u registry.User) (registry.User, error) {
	if badID(u.ID) || badPart(u.TenantID) {
		return registry.User{}, errBadID
	}
	u.Incarnation = registry.NewIncarnation()
	err := retry(ctx, func() error {
		snap, _, err := s.readUser(ctx, u.TenantID, u.ID, 0)
		if err != nil {
			return err
		}
		if snap.user != nil {
			return apierror.AlreadyExists("user %q in tenant %q", u.ID, u.TenantID)
		}
		return s.writeUser(ctx, snap, nil, u)
	})
	if err != nil {
		return registry.User{}, err
	}
	return userToStored(u).domain(), nil
}

// GetUser implements registry.Store.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (registry.User, error) {
	snap, err := s.liveUser(ctx, tenantID, id, 0)
	if err != nil {
		return registry.User{}, err
	}
	return snap.user.domain(), nil
}

// FindUser implements registry.Store.
func (s *Store) FindUser(ctx context.Context, tenantID string, sel access.Selector) (u registry.User, err error) {
	var key string
	switch sel.Kind {
	case access.ByUID:
		return s.GetUser(ctx, tenantID, sel.Value)
	case access.ByLoginName:
		key = s.loginPrefix(tenantID) + strings.ToLower(sel.Value)
	case access.ByEmail:
		key = s.emailPrefix(tenantID) + strings.ToLower(sel.Value)
	case access.ByMobile:
		key = s.mobilePrefix(tenantID) + sel.Value
	}
	notFound := apierror.NotFound("user %s in tenant %q", sel, tenantID)
	if key == "" || hasSep(tenantID, sel.Value) {
		return registry.User{}, notFound
	}
	return s.findByIndex(ctx, tenantID, key, notFound)
}

// FindUserByFederatedIdentity implements registry.Store.
func (s *Store) FindUserByFederatedIdentity(ctx context.Context, tenantID, providerID, subject string) (registry.User, error) {
	notFound := apierror.NotFound("user linked to %q at provider %q in tenant %q", subject, providerID, tenantID)
	if hasSep(tenantID, providerID) {
		return registry.User{}, notFound
	}
	return s.findByIndex(ctx, tenantID, s.federatedKey(tenantID, providerID, subject), notFound)
}

// findByIndex reads the user the unique-index key names, notFound when none (of the tenant's generation).
func (s *Store) findByIndex(ctx context.Context, tenantID, key string, notFound error) (u registry.User, err error) {
	err = retry(ctx, func() error {
		// The user key read here ("") is never a user's; the index entry names the one to read next.
		snap, kvs, err := s.readUser(ctx, tenantID, "", 0, key)
		if errors.Is(err, apierror.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		var si storedIndex
		if kvs[0] == nil {
			return notFound
		}
		if err := decode(kvs[0], &si); err != nil {
			return err
		}
		if si.TenantGen != snap.tenant.Gen {
			return notFound
		}
		found, err := s.liveUser(ctx, tenantID, si.UserID, snap.rev)
		if errors.Is(err, apierror.ErrNotFound) {
			return notFound
		}
		if err == nil {
			u = found.user.domain()
		}
		return err
	})
	return u, err
}

// ListUsers implements registry.Store.
func (s *Store) ListUsers(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.User, next string, err error) {
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
		prefix, raw := s.userPrefix(tenantID), registry.NewRawMatcher(opts.Filter)
		items, more, _, err = page(ctx, s, rev, after(prefix, opts.After), clientv3.GetPrefixRangeEnd(prefix), opts.EffectiveLimit(),
			func(kv *mvccpb.KeyValue, _ int64) (registry.User, bool, error) {
				if !raw.MayMatch(kv.Value) {
					return registry.User{}, false, nil
				}
				var su storedUser
				if err := decode(kv, &su); err != nil {
					return registry.User{}, false, err
				}
				u := su.domain()
				return u, su.TenantGen == t.Gen && registry.UserMatches(u, opts.Filter), nil
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

// UpdateUser implements registry.Store. update may run more than once.
func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, update func(registry.User) (registry.User, error)) (u registry.User, err error) {
	err = retry(ctx, func() error {
		snap, err := s.liveUser(ctx, tenantID, id, 0)
		if err != nil {
			return err
		}
		old := snap.user.domain()
		u, err = update(old)
		if err != nil {
			return err
		}
		u.ID, u.TenantID, u.Incarnation = old.ID, old.TenantID, old.Incarnation
		return s.writeUser(ctx, snap, snap.user, u)
	})
	if err != nil {
		return registry.User{}, err
	}
	return userToStored(u).domain(), nil
}

// DeleteUser implements registry.Store.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string) error {
	return retry(ctx, func() error {
		snap, err := s.liveUser(ctx, tenantID, id, 0)
		if err != nil {
			return err
		}
		ops := []clientv3.Op{clientv3.OpDelete(s.userKey(tenantID, id))}
		for _, ix := range s.indexes(snap.user.domain()) {
			ops = append(ops, clientv3.OpDelete(ix.key))
		}
		resp, err := s.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(s.tenantKey(tenantID)), "=", snap.tenantCR),
			clientv3.Compare(clientv3.ModRevision(s.userKey(tenantID, id)), "=", snap.userMod),
		).Then(ops...).Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			return errConflict
		}
		s.note(resp.Header.Revision)
		return nil
	})
}
