// Package bboltstore is the bbolt implementation of provider.Store (file provider.db). Every write is one
// bbolt read-write transaction, fsynced before it returns; reads decode (copy) values before their
// transaction ends. Every method is atomic, SweepPendingConnectors and DropGrants included. A commit that
// changes a provider or a connector writes the next revision in the same transaction and is then appended to
// an in-memory changelog.Log (under the write lock, so revisions follow commit order), which Watch serves:
// the history kept is the last LogCapacity commits of this process; an older revision is
// changelog.ErrCompacted. It passes storetest.Run.
package bboltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/provider"
)

// ErrSchemaVersion is returned by Open for a file written by another (newer or unknown) schema version.
var ErrSchemaVersion = boltdb.ErrSchemaVersion

// Store is a provider.Store backed by one bbolt file. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
	// mu serializes the writes that may report changes, so that a commit's revision (log.Next, written in
	// its transaction) and its Append follow commit order.
	mu  sync.Mutex
	log *changelog.Log[provider.Change]
}

// LogCapacity is how many commits Watch can replay: a watcher further behind gets changelog.ErrCompacted.
const LogCapacity = 4096

var _ provider.Store = (*Store)(nil)

// Open opens (creating when missing, mode 0600) the bbolt file at path. It fails after one second when
// another process holds the file, and with ErrSchemaVersion when the file has another schema version.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("provider store: %w", err)
	}
	var rev int64
	if err := db.View(func(tx *bolt.Tx) error {
		rev, err = readRevision(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("provider store: %w", err)
	}
	return &Store{db: db, log: changelog.New[provider.Change](rev, LogCapacity)}, nil
}

// readRevision returns the revision stored in tx's file (0 when none is).
func readRevision(tx *bolt.Tx) (int64, error) {
	v := tx.Bucket(bucketMeta).Get(keyRevision)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("revision record of %d bytes, want 8", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Revision implements provider.Store: the revision of the last commit that changed a provider or a
// connector.
func (s *Store) Revision() int64 { return s.log.Revision() }

// Watch implements provider.Store. It replays from the commits of this process (at most LogCapacity);
// every watcher gets its own copies. Close does not end it; ctx does.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[provider.Change]) error) error {
	return s.log.Watch(ctx, from, func(b changelog.Batch[provider.Change]) error {
		out := changelog.Batch[provider.Change]{Revision: b.Revision, Changes: make([]provider.Change, len(b.Changes))}
		for i, c := range b.Changes {
			out.Changes[i] = c.Clone()
		}
		return fn(out)
	})
}

// changes collects what one transaction changed, for the log.
type changes []provider.Change

func (ch *changes) connector(sc storedConnector) {
	c := sc.domain().Clone()
	*ch = append(*ch, provider.Change{Connector: &c})
}

func (ch *changes) deleted(id string) {
	*ch = append(*ch, provider.Change{DeletedConnector: id})
}

func (ch *changes) provider(k provider.ProviderKey) {
	*ch = append(*ch, provider.Change{Provider: &k})
}

// Close closes the file. Methods must not be called after it.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes the underlying database for tests and backups (bolt.Tx.WriteTo). Do not write through it.
func (s *Store) DB() *bolt.DB { return s.db }

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	return boltdb.View(ctx, s.db, fn)
}

// update runs fn in a read-write transaction. fn reports what it changed in ch; when it reports anything,
// the transaction also stores the next revision, and the commit is appended to the log once it succeeded.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx, ch *changes) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch changes
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		ch = nil
		if err := fn(tx, &ch); err != nil {
			return err
		}
		if len(ch) == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyRevision, binary.BigEndian.AppendUint64(nil, uint64(s.log.Next())))
	})
	if err == nil && len(ch) > 0 {
		s.log.Append(ch...)
	}
	return err
}

var (
	getJSON = boltdb.GetJSON
	putJSON = boltdb.PutJSON
)

func providerKey(k provider.ProviderKey) []byte { return joinKey(k.Type, k.Name) }

// providerConnectors returns the ids of the connectors of provider k, pending ones only when pending is
// true, else every other one.
func providerConnectors(tx *bolt.Tx, k provider.ProviderKey, pending bool) ([]string, error) {
	prefix := append(providerKey(k), sep...)
	c := tx.Bucket(bucketProviderConnectors).Cursor()
	var ids []string
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
		id := string(key[len(prefix):])
		sc, err := getConnector(tx, id)
		if err != nil {
			return nil, err
		}
		if (sc.Status == string(provider.StatusPending)) == pending {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// countConnectors counts the connectors using k: every connector of k except pending ones (see
// provider.Provider.Connectors).
func countConnectors(tx *bolt.Tx, k provider.ProviderKey) (int, error) {
	ids, err := providerConnectors(tx, k, false)
	return len(ids), err
}

// PutProviders implements provider.Store.
func (s *Store) PutProviders(ctx context.Context, ps []provider.Provider) error {
	return s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		b := tx.Bucket(bucketProviders)
		var inUse []provider.ProviderKey
		for _, p := range ps {
			if b.Get(providerKey(p.ProviderKey)) == nil {
				continue
			}
			n, err := countConnectors(tx, p.ProviderKey)
			if err != nil {
				return err
			}
			if n > 0 {
				inUse = append(inUse, p.ProviderKey)
			}
		}
		if len(inUse) > 0 {
			return &provider.InUseError{Providers: inUse}
		}
		for _, p := range ps {
			if err := putJSON(b, providerKey(p.ProviderKey), fromProvider(p)); err != nil {
				return err
			}
			ch.provider(p.ProviderKey)
		}
		return nil
	})
}

// GetProvider implements provider.Store.
func (s *Store) GetProvider(ctx context.Context, k provider.ProviderKey) (provider.Provider, error) {
	var out provider.Provider
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var sp storedProvider
		ok, err := getJSON(tx.Bucket(bucketProviders), providerKey(k), &sp)
		if err != nil {
			return err
		}
		if !ok {
			return apierror.NotFound("provider %s", k)
		}
		n, err := countConnectors(tx, k)
		out = sp.domain(n)
		return err
	})
	return out, err
}

// ListProviders implements provider.Store.
func (s *Store) ListProviders(ctx context.Context) ([]provider.Provider, error) {
	var out []provider.Provider
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProviders).ForEach(func(_, v []byte) error {
			var sp storedProvider
			if err := json.Unmarshal(v, &sp); err != nil {
				return fmt.Errorf("decode provider record: %w", err)
			}
			n, err := countConnectors(tx, provider.ProviderKey{Type: sp.Type, Name: sp.Name})
			out = append(out, sp.domain(n))
			return err
		})
	})
	return out, err
}

// DeleteProvider implements provider.Store.
func (s *Store) DeleteProvider(ctx context.Context, k provider.ProviderKey) error {
	return s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		b := tx.Bucket(bucketProviders)
		if b.Get(providerKey(k)) == nil {
			return apierror.NotFound("provider %s", k)
		}
		n, err := countConnectors(tx, k)
		if err != nil {
			return err
		}
		if n > 0 {
			return apierror.FailedPrecondition("provider %s is used by %d connector(s); delete them first", k, n)
		}
		// Pending connectors never block: they go with their provider.
		pending, err := providerConnectors(tx, k, true)
		if err != nil {
			return err
		}
		for _, id := range pending {
			if err := deleteConnector(tx, id, k); err != nil {
				return err
			}
			ch.deleted(id)
		}
		ch.provider(k)
		return b.Delete(providerKey(k))
	})
}

// CreateConnector implements provider.Store.
func (s *Store) CreateConnector(ctx context.Context, c provider.Connector, st provider.AuthState) error {
	if c.ID == "" {
		return apierror.Invalid("connectorId", "is required")
	}
	return s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		if tx.Bucket(bucketProviders).Get(providerKey(c.Provider)) == nil {
			return apierror.NotFound("provider %s", c.Provider)
		}
		cb := tx.Bucket(bucketConnectors)
		if cb.Get([]byte(c.ID)) != nil {
			return apierror.AlreadyExists("connector %s", c.ID)
		}
		if err := putJSON(cb, []byte(c.ID), fromConnector(c)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketProviderConnectors).Put(joinKey(c.Provider.Type, c.Provider.Name, c.ID), nil); err != nil {
			return err
		}
		ch.connector(fromConnector(c))
		if len(st.Hash) == 0 {
			return nil
		}
		st.ConnectorID = c.ID
		return putState(tx, st)
	})
}

// putState stores st under its hash and indexes it under its connector.
func putState(tx *bolt.Tx, st provider.AuthState) error {
	if err := putJSON(tx.Bucket(bucketAuthStates), st.Hash, storedState{ConnectorID: st.ConnectorID, SealedVerifier: st.SealedVerifier, Expiry: st.Expiry.UTC()}); err != nil {
		return err
	}
	return tx.Bucket(bucketConnectorStates).Put(append(joinKey(st.ConnectorID, ""), st.Hash...), nil)
}

// PutAuthState implements provider.Store.
func (s *Store) PutAuthState(ctx context.Context, st provider.AuthState) error {
	if len(st.Hash) == 0 || st.ConnectorID == "" {
		return apierror.Invalid("state", "hash and connector id are required")
	}
	return s.update(ctx, func(tx *bolt.Tx, _ *changes) error {
		if _, err := getConnector(tx, st.ConnectorID); err != nil {
			return err
		}
		return putState(tx, st)
	})
}

func getConnector(tx *bolt.Tx, id string) (storedConnector, error) {
	var sc storedConnector
	ok, err := getJSON(tx.Bucket(bucketConnectors), []byte(id), &sc)
	if err != nil {
		return sc, err
	}
	if !ok {
		return sc, apierror.NotFound("connector %s", id)
	}
	return sc, nil
}

// GetConnector implements provider.Store.
func (s *Store) GetConnector(ctx context.Context, id string) (provider.Connector, error) {
	var out provider.Connector
	err := s.view(ctx, func(tx *bolt.Tx) error {
		sc, err := getConnector(tx, id)
		out = sc.domain()
		return err
	})
	return out, err
}

// ListConnectors implements provider.Store.
func (s *Store) ListConnectors(ctx context.Context, f provider.ConnectorFilter) ([]provider.Connector, error) {
	var out []provider.Connector
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConnectors).ForEach(func(_, v []byte) error {
			var sc storedConnector
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("decode connector record: %w", err)
			}
			if c := sc.domain(); f.Match(c) {
				out = append(out, c)
			}
			return nil
		})
	})
	return out, err
}

// UpdateConnector implements provider.Store.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(provider.Connector) (provider.Connector, error)) (provider.Connector, error) {
	var out provider.Connector
	err := s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		sc, err := getConnector(tx, id)
		if err != nil {
			return err
		}
		old := sc.domain()
		nc, err := fn(old)
		if err != nil {
			return err
		}
		nc.ID, nc.Provider, nc.TenantID, nc.Owner, nc.CreateTime = old.ID, old.Provider, old.TenantID, old.Owner, old.CreateTime
		if err := putJSON(tx.Bucket(bucketConnectors), []byte(id), fromConnector(nc)); err != nil {
			return err
		}
		out = fromConnector(nc).domain()
		ch.connector(fromConnector(nc))
		return nil
	})
	return out, err
}

// DeleteConnector implements provider.Store.
func (s *Store) DeleteConnector(ctx context.Context, id string) (provider.Connector, error) {
	var out provider.Connector
	err := s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		sc, err := getConnector(tx, id)
		if err != nil {
			return err
		}
		out = sc.domain()
		ch.deleted(id)
		return deleteConnector(tx, id, out.Provider)
	})
	return out, err
}

// deleteConnector deletes connector id of provider k, its index entry and its pending authorizations.
func deleteConnector(tx *bolt.Tx, id string, k provider.ProviderKey) error {
	if err := deleteStates(tx, id); err != nil {
		return err
	}
	if err := tx.Bucket(bucketProviderConnectors).Delete(joinKey(k.Type, k.Name, id)); err != nil {
		return err
	}
	return tx.Bucket(bucketConnectors).Delete([]byte(id))
}

// SweepPendingConnectors implements provider.Store.
func (s *Store) SweepPendingConnectors(ctx context.Context, createdBefore time.Time) ([]provider.Connector, error) {
	var out []provider.Connector
	err := s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		out = nil
		if err := tx.Bucket(bucketConnectors).ForEach(func(_, v []byte) error {
			var sc storedConnector
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("decode connector record: %w", err)
			}
			if sc.Status == string(provider.StatusPending) && sc.CreateTime.Before(createdBefore) {
				out = append(out, sc.domain())
			}
			return nil
		}); err != nil {
			return err
		}
		for _, c := range out {
			if err := deleteConnector(tx, c.ID, c.Provider); err != nil {
				return err
			}
			ch.deleted(c.ID)
		}
		return nil
	})
	return out, err
}

func deleteStates(tx *bolt.Tx, id string) error {
	prefix := joinKey(id, "")
	cs := tx.Bucket(bucketConnectorStates)
	var keys [][]byte
	c := cs.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := tx.Bucket(bucketAuthStates).Delete(k[len(prefix):]); err != nil {
			return err
		}
		if err := cs.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// DropGrants implements provider.Store.
func (s *Store) DropGrants(ctx context.Context, f provider.ConnectorFilter, now time.Time) ([]string, error) {
	if f.Name == "" {
		return nil, apierror.Invalid("oauthProvider", "is required")
	}
	var ids []string
	err := s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		ids = nil
		cb := tx.Bucket(bucketConnectors)
		var changed []storedConnector
		if err := cb.ForEach(func(_, v []byte) error {
			var sc storedConnector
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("decode connector record: %w", err)
			}
			if f.Match(sc.domain()) && (sc.SealedGrant != nil || sc.Status == string(provider.StatusActive)) {
				changed = append(changed, sc)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, sc := range changed {
			sc.SealedGrant, sc.Status, sc.UpdateTime = nil, string(provider.StatusRevoked), now.UTC()
			if err := putJSON(cb, []byte(sc.ID), sc); err != nil {
				return err
			}
			ch.connector(sc)
			ids = append(ids, sc.ID)
		}
		return nil
	})
	return ids, err
}

// TakeAuthState implements provider.Store.
func (s *Store) TakeAuthState(ctx context.Context, hash []byte) (provider.AuthState, error) {
	var out provider.AuthState
	err := s.update(ctx, func(tx *bolt.Tx, _ *changes) error {
		var ss storedState
		ok, err := getJSON(tx.Bucket(bucketAuthStates), hash, &ss)
		if err != nil {
			return err
		}
		if !ok {
			return apierror.NotFound("authorization state")
		}
		if err := tx.Bucket(bucketAuthStates).Delete(hash); err != nil {
			return err
		}
		if err := tx.Bucket(bucketConnectorStates).Delete(append(joinKey(ss.ConnectorID, ""), hash...)); err != nil {
			return err
		}
		out = provider.AuthState{Hash: bytes.Clone(hash), ConnectorID: ss.ConnectorID, SealedVerifier: ss.SealedVerifier, Expiry: ss.Expiry}
		return nil
	})
	return out, err
}

// SweepAuthStates implements provider.Store.
func (s *Store) SweepAuthStates(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx, _ *changes) error {
		b := tx.Bucket(bucketAuthStates)
		type dead struct {
			hash []byte
			id   string
		}
		var gone []dead
		if err := b.ForEach(func(k, v []byte) error {
			var ss storedState
			if err := json.Unmarshal(v, &ss); err != nil || ss.Expiry.Before(now) {
				gone = append(gone, dead{bytes.Clone(k), ss.ConnectorID})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, d := range gone {
			if err := b.Delete(d.hash); err != nil {
				return err
			}
			if err := tx.Bucket(bucketConnectorStates).Delete(append(joinKey(d.id, ""), d.hash...)); err != nil {
				return err
			}
		}
		n = len(gone)
		return nil
	})
	return n, err
}

// ClaimRefresh implements provider.Store.
func (s *Store) ClaimRefresh(ctx context.Context, id, holder string, now, until time.Time) (bool, provider.Connector, error) {
	if err := provider.CheckLease(holder, now, until); err != nil {
		return false, provider.Connector{}, err
	}
	// A lease held by another is answered from a read, so losing claimers cost no write; a free one is
	// taken in a write that checks again.
	var out provider.Connector
	if err := s.view(ctx, func(tx *bolt.Tx) error {
		sc, err := getConnector(tx, id)
		out = sc.domain()
		return err
	}); err != nil {
		return false, provider.Connector{}, err
	}
	if out.RefreshHeld(holder, now) {
		return false, out, nil
	}
	var claimed bool
	err := s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		sc, err := getConnector(tx, id)
		if err != nil {
			return err
		}
		if claimed = !sc.domain().RefreshHeld(holder, now); !claimed {
			out = sc.domain()
			return nil
		}
		sc.RefreshHolder, sc.RefreshUntil = holder, until.UTC()
		if err := putJSON(tx.Bucket(bucketConnectors), []byte(id), sc); err != nil {
			return err
		}
		out = sc.domain()
		ch.connector(sc)
		return nil
	})
	if err != nil {
		return false, provider.Connector{}, err
	}
	return claimed, out, nil
}

// ReleaseRefresh implements provider.Store.
func (s *Store) ReleaseRefresh(ctx context.Context, id, holder string) error {
	return s.update(ctx, func(tx *bolt.Tx, ch *changes) error {
		sc, err := getConnector(tx, id)
		if err != nil || holder == "" || sc.RefreshHolder != holder {
			return err
		}
		sc.RefreshHolder, sc.RefreshUntil = "", time.Time{}
		if err := putJSON(tx.Bucket(bucketConnectors), []byte(id), sc); err != nil {
			return err
		}
		ch.connector(sc)
		return nil
	})
}
