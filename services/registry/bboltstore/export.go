package bboltstore

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/registry"
)

// Export returns every tenant, client (with its secrets' digests), user (with its password hash and
// incarnation) and API resource of the store, read in one read transaction: a consistent snapshot even while the store is
// written.
func (s *Store) Export(ctx context.Context) (registry.Snapshot, error) {
	var snap registry.Snapshot
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		snap = registry.Snapshot{}
		if err := exportJSON(tx, bucketTenants, func(r storedTenant) { snap.Tenants = append(snap.Tenants, r.domain()) }); err != nil {
			return err
		}
		if err := exportJSON(tx, bucketClients, func(r storedClient) { snap.Clients = append(snap.Clients, r.domain()) }); err != nil {
			return err
		}
		if err := exportJSON(tx, bucketUsers, func(r storedUser) { snap.Users = append(snap.Users, r.domain()) }); err != nil {
			return err
		}
		return exportJSON(tx, bucketResources, func(r storedResource) { snap.Resources = append(snap.Resources, r.domain()) })
	})
	if err != nil {
		return registry.Snapshot{}, fmt.Errorf("registry store export: %w", err)
	}
	return snap, nil
}

// exportJSON decodes every value of bucket (json.Unmarshal copies out of the mmap) and hands it to add.
func exportJSON[R any](tx *bolt.Tx, bucket []byte, add func(R)) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		var r R
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%s %q: %w", bucket, k, err)
		}
		add(r)
		return nil
	})
}
