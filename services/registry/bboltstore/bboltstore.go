// Package bboltstore is the bbolt implementation of registry.Store (file registry.db). Every write is one
// bbolt read-write transaction, fsynced before it returns; reads are read-only transactions whose results
// are decoded (copied) before the transaction ends. It passes storetest.Run.
//
// Revisions: every commit that changes something writes the next revision into the file in the same
// transaction, so revisions keep growing across restarts; Watch replays the last HistorySize commits of this
// process from memory (older ones, and those of an earlier process, answer changelog.ErrCompacted).
package bboltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
)

// ErrSchemaVersion is returned by Open for a file written by another (newer or unknown) schema version.
var ErrSchemaVersion = boltdb.ErrSchemaVersion

// Store is a registry.Store backed by one bbolt file. It is safe for concurrent use.
type Store struct {
	db  *bolt.DB
	wmu sync.Mutex // held across a write's commit and its Append, so revisions follow commit order
	log *changelog.Log[registry.Change]

	closeOnce sync.Once
	done      chan struct{} // closed by Close, ending every Watch
}

// ErrClosed is returned by Watch when the store is closed.
var ErrClosed = errors.New("registry bboltstore: store is closed")

// HistorySize is how many of the latest commits Watch can replay; older ones answer changelog.ErrCompacted.
const HistorySize = 1024

var _ registry.Store = (*Store)(nil)

// Open opens (creating when missing, mode 0600) the bbolt file at path. It fails after one second when
// another process holds the file, and with ErrSchemaVersion when the file has another schema version.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("registry store: %w", err)
	}
	var rev int64
	if err := db.View(func(tx *bolt.Tx) (err error) { rev, err = readRevision(tx); return err }); err != nil {
		db.Close()
		return nil, fmt.Errorf("registry store: %w", err)
	}
	return &Store{db: db, log: changelog.New[registry.Change](rev, HistorySize), done: make(chan struct{})}, nil
}

// Close closes the file and ends every Watch (with ErrClosed). Methods must not be called after it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return s.db.Close()
}

// Revision implements registry.Store: the revision of the last commit, as stored in the file.
func (s *Store) Revision() int64 { return s.log.Revision() }

// Watch implements registry.Store.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[registry.Change]) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.done:
			cancel(ErrClosed)
		case <-ctx.Done():
		}
	}()
	err := s.log.Watch(ctx, from, func(b changelog.Batch[registry.Change]) error {
		out := changelog.Batch[registry.Change]{Revision: b.Revision, Changes: make([]registry.Change, len(b.Changes))}
		for i, ch := range b.Changes {
			out.Changes[i] = ch.Clone()
		}
		return fn(out)
	})
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	return err
}

func readRevision(tx *bolt.Tx) (int64, error) {
	v := tx.Bucket(bucketRevision).Get(keyRevision)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("revision record of %d bytes, want 8", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// DB exposes the underlying database for tests and backups (bolt.Tx.WriteTo). Do not write through it.
func (s *Store) DB() *bolt.DB { return s.db }

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	return boltdb.View(ctx, s.db, fn)
}

// update runs fn in one read-write transaction. When fn reports changes, the transaction also stores the next
// revision, and after the commit the changes are appended to the log under that revision; the write lock
// spans both, so the log's order is the commit order. The log keeps the changes: fn hands over values
// nothing else holds.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) ([]registry.Change, error)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var changes []registry.Change
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		var err error
		changes, err = fn(tx)
		if err != nil || len(changes) == 0 {
			return err
		}
		return tx.Bucket(bucketRevision).Put(keyRevision, binary.BigEndian.AppendUint64(nil, uint64(s.log.Next())))
	})
	if err == nil && len(changes) > 0 {
		s.log.Append(changes...)
	}
	return err
}

// one is the changes of a write that changes one record.
func one(ch registry.Change) []registry.Change { return []registry.Change{ch} }

var (
	getJSON = boltdb.GetJSON
	putJSON = boltdb.PutJSON
)

// page walks the keys of b that start with prefix, after prefix+after, calling fn with the key's suffix and
// value until limit items were taken; it returns the suffix of the last item when more follow.
func page(b *bolt.Bucket, prefix []byte, after string, limit int, fn func(suffix string, v []byte) error) (string, error) {
	c := b.Cursor()
	start := append(bytes.Clone(prefix), after...)
	k, v := c.Seek(start)
	if after != "" && k != nil && bytes.Equal(k, start) {
		k, v = c.Next()
	}
	n, last := 0, ""
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if n == limit {
			return last, nil
		}
		last = string(k[len(prefix):])
		if err := fn(last, v); err != nil {
			return "", err
		}
		n++
	}
	return "", nil
}

// --- tenants ---

// CreateTenant implements registry.Store.
func (s *Store) CreateTenant(ctx context.Context, t registry.Tenant) (registry.Tenant, error) {
	err := s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		return one(registry.Change{Tenant: new(tenantToStored(t).domain())}), createTenant(tx, t)
	})
	if err != nil {
		return registry.Tenant{}, err
	}
	return tenantToStored(t).domain(), nil
}

func createTenant(tx *bolt.Tx, t registry.Tenant) error {
	tenants, codes := tx.Bucket(bucketTenants), tx.Bucket(bucketTenantCodes)
	if tenants.Get([]byte(t.ID)) != nil {
		return apierror.AlreadyExists("tenant %q", t.ID)
	}
	if codes.Get([]byte(t.Code)) != nil {
		return apierror.AlreadyExists("tenant code %q", t.Code)
	}
	if err := codes.Put([]byte(t.Code), []byte(t.ID)); err != nil {
		return err
	}
	return putJSON(tenants, []byte(t.ID), tenantToStored(t))
}

func getTenant(tx *bolt.Tx, id string) (registry.Tenant, error) {
	var st storedTenant
	ok, err := getJSON(tx.Bucket(bucketTenants), []byte(id), &st)
	if err != nil {
		return registry.Tenant{}, err
	}
	if !ok {
		return registry.Tenant{}, apierror.NotFound("tenant %q", id)
	}
	return st.domain(), nil
}

// GetTenant implements registry.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (t registry.Tenant, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		t, err = getTenant(tx, id)
		return err
	})
	return t, err
}

// GetTenantByCode implements registry.Store.
func (s *Store) GetTenantByCode(ctx context.Context, code string) (t registry.Tenant, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTenantCodes).Get([]byte(code))
		if id == nil {
			return apierror.NotFound("tenant with code %q", code)
		}
		t, err = getTenant(tx, string(id))
		return err
	})
	return t, err
}

// ListTenants implements registry.Store.
func (s *Store) ListTenants(ctx context.Context, opts registry.ListOptions) (items []registry.Tenant, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		next, err = page(tx.Bucket(bucketTenants), nil, opts.After, opts.EffectiveLimit(), func(_ string, v []byte) error {
			var st storedTenant
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			items = append(items, st.domain())
			return nil
		})
		return err
	})
	return items, next, err
}

// UpdateTenant implements registry.Store.
func (s *Store) UpdateTenant(ctx context.Context, id string, update func(registry.Tenant) (registry.Tenant, error)) (t registry.Tenant, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		old, err := getTenant(tx, id)
		if err != nil {
			return nil, err
		}
		t, err = update(old)
		if err != nil {
			return nil, err
		}
		t.ID = old.ID
		codes := tx.Bucket(bucketTenantCodes)
		if t.Code != old.Code {
			if codes.Get([]byte(t.Code)) != nil {
				return nil, apierror.AlreadyExists("tenant code %q", t.Code)
			}
			if err := codes.Delete([]byte(old.Code)); err != nil {
				return nil, err
			}
			if err := codes.Put([]byte(t.Code), []byte(t.ID)); err != nil {
				return nil, err
			}
		}
		return one(registry.Change{Tenant: new(tenantToStored(t).domain())}), putJSON(tx.Bucket(bucketTenants), []byte(id), tenantToStored(t))
	})
	if err != nil {
		return registry.Tenant{}, err
	}
	return tenantToStored(t).domain(), nil
}

// DeleteTenant implements registry.Store.
func (s *Store) DeleteTenant(ctx context.Context, id string) (deleted []string, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		var err error
		if deleted, err = deleteTenant(tx, id); err != nil {
			return nil, err
		}
		changes := make([]registry.Change, 0, len(deleted)+1)
		for _, cid := range deleted {
			changes = append(changes, registry.Change{DeletedClient: cid})
		}
		return append(changes, registry.Change{DeletedTenant: id}), nil
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

// deleteTenant deletes the tenant id with its clients, users and API resources, returning the deleted clients' IDs in order.
func deleteTenant(tx *bolt.Tx, id string) (deleted []string, err error) {
	t, err := getTenant(tx, id)
	if err != nil {
		return nil, err
	}
	prefix := joinKey(id, "")
	// Collect first: deleting while iterating a bolt cursor skips keys.
	var clientKeys [][]byte
	tc := tx.Bucket(bucketTenantClients)
	c := tc.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		clientKeys = append(clientKeys, bytes.Clone(k))
	}
	clients := tx.Bucket(bucketClients)
	for _, k := range clientKeys {
		cid := string(k[len(prefix):])
		if err := clients.Delete([]byte(cid)); err != nil {
			return nil, err
		}
		if err := tc.Delete(k); err != nil {
			return nil, err
		}
		deleted = append(deleted, cid)
	}
	for _, name := range [][]byte{bucketUsers, bucketUserLogins, bucketUserEmails, bucketUserMobiles, bucketResources, bucketUserFederated} {
		if err := deletePrefix(tx.Bucket(name), prefix); err != nil {
			return nil, err
		}
	}
	if err := tx.Bucket(bucketTenantCodes).Delete([]byte(t.Code)); err != nil {
		return nil, err
	}
	return deleted, tx.Bucket(bucketTenants).Delete([]byte(id))
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// --- clients ---

// CreateClient implements registry.Store.
func (s *Store) CreateClient(ctx context.Context, c registry.Client) (registry.Client, error) {
	err := s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		return one(registry.Change{Client: new(clientToStored(c.Clone()).domain())}), createClient(tx, c)
	})
	if err != nil {
		return registry.Client{}, err
	}
	return c.Clone(), nil
}

func createClient(tx *bolt.Tx, c registry.Client) error {
	if tx.Bucket(bucketTenants).Get([]byte(c.TenantID)) == nil {
		return apierror.NotFound("tenant %q", c.TenantID)
	}
	clients := tx.Bucket(bucketClients)
	if clients.Get([]byte(c.ID)) != nil {
		return apierror.AlreadyExists("client %q", c.ID)
	}
	if err := tx.Bucket(bucketTenantClients).Put(joinKey(c.TenantID, c.ID), nil); err != nil {
		return err
	}
	return putJSON(clients, []byte(c.ID), clientToStored(c))
}

func getClient(tx *bolt.Tx, id string) (registry.Client, error) {
	var sc storedClient
	ok, err := getJSON(tx.Bucket(bucketClients), []byte(id), &sc)
	if err != nil {
		return registry.Client{}, err
	}
	if !ok {
		return registry.Client{}, apierror.NotFound("client %q", id)
	}
	return sc.domain(), nil
}

// GetClient implements registry.Store.
func (s *Store) GetClient(ctx context.Context, id string) (c registry.Client, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c, err = getClient(tx, id)
		return err
	})
	return c, err
}

// ListClients implements registry.Store.
func (s *Store) ListClients(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.Client, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		if opts.Filter != "" {
			items, next, err = listClientsFiltered(tx, tenantID, opts)
			return err
		}
		decode := func(v []byte) error {
			var sc storedClient
			if err := json.Unmarshal(v, &sc); err != nil {
				return err
			}
			items = append(items, sc.domain())
			return nil
		}
		if tenantID == "" {
			next, err = page(tx.Bucket(bucketClients), nil, opts.After, opts.EffectiveLimit(), func(_ string, v []byte) error { return decode(v) })
			return err
		}
		clients := tx.Bucket(bucketClients)
		next, err = page(tx.Bucket(bucketTenantClients), joinKey(tenantID, ""), opts.After, opts.EffectiveLimit(), func(id string, _ []byte) error {
			v := clients.Get([]byte(id))
			if v == nil {
				return fmt.Errorf("index tenant_clients names missing client %q", id)
			}
			return decode(v)
		})
		return err
	})
	return items, next, err
}

// UpdateClient implements registry.Store.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(registry.Client) (registry.Client, error)) (c registry.Client, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		old, err := getClient(tx, id)
		if err != nil {
			return nil, err
		}
		c, err = update(old)
		if err != nil {
			return nil, err
		}
		c.ID, c.TenantID = old.ID, old.TenantID
		return one(registry.Change{Client: new(clientToStored(c.Clone()).domain())}), putJSON(tx.Bucket(bucketClients), []byte(id), clientToStored(c))
	})
	if err != nil {
		return registry.Client{}, err
	}
	return c.Clone(), nil
}

// DeleteClient implements registry.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		c, err := getClient(tx, id)
		if err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketTenantClients).Delete(joinKey(c.TenantID, c.ID)); err != nil {
			return nil, err
		}
		return one(registry.Change{DeletedClient: id}), tx.Bucket(bucketClients).Delete([]byte(id))
	})
}

// RecordSecretUse implements registry.Store: all uses in one write transaction, each client rewritten once.
func (s *Store) RecordSecretUse(ctx context.Context, uses []registry.SecretUse) error {
	if len(uses) == 0 {
		return nil
	}
	byClient := map[string][]registry.SecretUse{}
	for _, u := range uses {
		byClient[u.ClientID] = append(byClient[u.ClientID], u)
	}
	ids := slices.Sorted(maps.Keys(byClient))
	return s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		clients := tx.Bucket(bucketClients)
		var changes []registry.Change
		for _, id := range ids {
			us := byClient[id]
			var sc storedClient
			ok, err := getJSON(clients, []byte(id), &sc)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			changed := false
			for _, u := range us {
				for i := range sc.Secrets {
					if sc.Secrets[i].ID == u.SecretID && u.Time.After(sc.Secrets[i].LastUsed) {
						sc.Secrets[i].LastUsed = u.Time.UTC()
						changed = true
					}
				}
			}
			if changed {
				if err := putJSON(clients, []byte(id), sc); err != nil {
					return nil, err
				}
				changes = append(changes, registry.Change{Client: new(sc.domain())})
			}
		}
		return changes, nil
	})
}

// --- users ---

func loginKey(tenantID, login string) []byte { return joinKey(tenantID, strings.ToLower(login)) }
func emailKey(tenantID, email string) []byte { return joinKey(tenantID, strings.ToLower(email)) }
func mobileKey(tenantID, mobile string) []byte {
	return joinKey(tenantID, mobile)
}

// federatedKey is the index key of a federated identity: the subject is hex-encoded, so that no byte of it
// can be taken for a separator.
func federatedKey(tenantID, provider, subject string) []byte {
	return joinKey(tenantID, provider, hex.EncodeToString([]byte(subject)))
}

// FindUserByFederatedIdentity implements registry.Store.
func (s *Store) FindUserByFederatedIdentity(ctx context.Context, tenantID, providerID, subject string) (u registry.User, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUserFederated).Get(federatedKey(tenantID, providerID, subject))
		if id == nil || strings.Contains(tenantID, sep) || strings.Contains(providerID, sep) {
			return apierror.NotFound("user linked to %q at provider %q in tenant %q", subject, providerID, tenantID)
		}
		u, err = getUser(tx, tenantID, string(id))
		return err
	})
	return u, err
}

// putUserIndexes adds u's unique-index entries, failing when one names another user.
func putUserIndexes(tx *bolt.Tx, u registry.User) error {
	type idx struct {
		bucket []byte
		key    []byte
		what   string
	}
	list := []idx{{bucketUserLogins, loginKey(u.TenantID, u.LoginName), "login name"}}
	if u.Email != "" {
		list = append(list, idx{bucketUserEmails, emailKey(u.TenantID, u.Email), "email"})
	}
	if u.Mobile != "" {
		list = append(list, idx{bucketUserMobiles, mobileKey(u.TenantID, u.Mobile), "mobile"})
	}
	for _, fi := range u.FederatedIdentities {
		list = append(list, idx{bucketUserFederated, federatedKey(u.TenantID, fi.ProviderID, fi.Subject), "federated identity"})
	}
	for _, ix := range list {
		b := tx.Bucket(ix.bucket)
		if owner := b.Get(ix.key); owner != nil && string(owner) != u.ID {
			return apierror.AlreadyExists("a user with this %s in tenant %q", ix.what, u.TenantID)
		}
		if err := b.Put(ix.key, []byte(u.ID)); err != nil {
			return err
		}
	}
	return nil
}

func deleteUserIndexes(tx *bolt.Tx, u registry.User) error {
	if err := tx.Bucket(bucketUserLogins).Delete(loginKey(u.TenantID, u.LoginName)); err != nil {
		return err
	}
	if u.Email != "" {
		if err := tx.Bucket(bucketUserEmails).Delete(emailKey(u.TenantID, u.Email)); err != nil {
			return err
		}
	}
	if u.Mobile != "" {
		if err := tx.Bucket(bucketUserMobiles).Delete(mobileKey(u.TenantID, u.Mobile)); err != nil {
			return err
		}
	}
	for _, fi := range u.FederatedIdentities {
		if err := tx.Bucket(bucketUserFederated).Delete(federatedKey(u.TenantID, fi.ProviderID, fi.Subject)); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser implements registry.Store.
func (s *Store) CreateUser(ctx context.Context, u registry.User) (registry.User, error) {
	u.Incarnation = registry.NewIncarnation()
	err := s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		return one(registry.Change{User: new(userToStored(u.Clone()).domain())}), createUser(tx, u)
	})
	if err != nil {
		return registry.User{}, err
	}
	return userToStored(u).domain(), nil
}

// createUser stores u as given; callers set a new incarnation first.
func createUser(tx *bolt.Tx, u registry.User) error {
	if tx.Bucket(bucketTenants).Get([]byte(u.TenantID)) == nil {
		return apierror.NotFound("tenant %q", u.TenantID)
	}
	users := tx.Bucket(bucketUsers)
	key := joinKey(u.TenantID, u.ID)
	if users.Get(key) != nil {
		return apierror.AlreadyExists("user %q in tenant %q", u.ID, u.TenantID)
	}
	if err := putUserIndexes(tx, u); err != nil {
		return err
	}
	return putJSON(users, key, userToStored(u))
}

func getUser(tx *bolt.Tx, tenantID, id string) (registry.User, error) {
	var su storedUser
	ok, err := getJSON(tx.Bucket(bucketUsers), joinKey(tenantID, id), &su)
	if err != nil {
		return registry.User{}, err
	}
	if !ok || strings.Contains(tenantID, sep) || strings.Contains(id, sep) {
		return registry.User{}, apierror.NotFound("user %q in tenant %q", id, tenantID)
	}
	return su.domain(), nil
}

// GetUser implements registry.Store.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (u registry.User, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		u, err = getUser(tx, tenantID, id)
		return err
	})
	return u, err
}

// FindUser implements registry.Store.
func (s *Store) FindUser(ctx context.Context, tenantID string, sel access.Selector) (u registry.User, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var id []byte
		switch sel.Kind {
		case access.ByUID:
			u, err = getUser(tx, tenantID, sel.Value)
			return err
		case access.ByLoginName:
			id = tx.Bucket(bucketUserLogins).Get(loginKey(tenantID, sel.Value))
		case access.ByEmail:
			id = tx.Bucket(bucketUserEmails).Get(emailKey(tenantID, sel.Value))
		case access.ByMobile:
			id = tx.Bucket(bucketUserMobiles).Get(mobileKey(tenantID, sel.Value))
		}
		if id == nil || strings.Contains(tenantID, sep) || strings.Contains(sel.Value, sep) {
			return apierror.NotFound("user %s in tenant %q", sel, tenantID)
		}
		u, err = getUser(tx, tenantID, string(id))
		return err
	})
	return u, err
}

// ListUsers implements registry.Store.
func (s *Store) ListUsers(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.User, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		if opts.Filter != "" {
			items, next, err = listUsersFiltered(tx, tenantID, opts)
			return err
		}
		next, err = page(tx.Bucket(bucketUsers), joinKey(tenantID, ""), opts.After, opts.EffectiveLimit(), func(_ string, v []byte) error {
			var su storedUser
			if err := json.Unmarshal(v, &su); err != nil {
				return err
			}
			items = append(items, su.domain())
			return nil
		})
		return err
	})
	return items, next, err
}

// UpdateUser implements registry.Store.
func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, update func(registry.User) (registry.User, error)) (u registry.User, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		old, err := getUser(tx, tenantID, id)
		if err != nil {
			return nil, err
		}
		u, err = update(old)
		if err != nil {
			return nil, err
		}
		u.ID, u.TenantID, u.Incarnation = old.ID, old.TenantID, old.Incarnation
		if err := deleteUserIndexes(tx, old); err != nil {
			return nil, err
		}
		if err := putUserIndexes(tx, u); err != nil {
			return nil, err
		}
		return one(registry.Change{User: new(userToStored(u.Clone()).domain())}), putJSON(tx.Bucket(bucketUsers), joinKey(tenantID, id), userToStored(u))
	})
	if err != nil {
		return registry.User{}, err
	}
	return userToStored(u).domain(), nil
}

// DeleteUser implements registry.Store.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		u, err := getUser(tx, tenantID, id)
		if err != nil {
			return nil, err
		}
		if err := deleteUserIndexes(tx, u); err != nil {
			return nil, err
		}
		return one(registry.Change{DeletedUser: &u}), tx.Bucket(bucketUsers).Delete(joinKey(tenantID, id))
	})
}

// Seed implements registry.Store.
func (s *Store) Seed(ctx context.Context, tenants []registry.Tenant, clients []registry.Client, users []registry.User) (done bool, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		if k, _ := tx.Bucket(bucketTenants).Cursor().First(); k != nil {
			return nil, nil
		}
		changes := make([]registry.Change, 0, len(tenants)+len(clients)+len(users))
		for _, t := range tenants {
			if err := createTenant(tx, t); err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{Tenant: new(tenantToStored(t).domain())})
		}
		for _, c := range clients {
			if err := createClient(tx, c); err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{Client: new(clientToStored(c.Clone()).domain())})
		}
		for _, u := range users {
			u.Incarnation = registry.NewIncarnation()
			if err := createUser(tx, u); err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{User: new(userToStored(u.Clone()).domain())})
		}
		done = true
		return changes, nil
	})
	return done && err == nil, err
}
