package bboltstore

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/provider"
)

// Export returns every provider (secret sealed), connector (grant sealed as it is, refresh lease included)
// and pending authorization of the store, read in one read transaction: a consistent snapshot even while the
// store is written. Providers carry their connector counts.
func (s *Store) Export(ctx context.Context) (provider.Snapshot, error) {
	var snap provider.Snapshot
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		snap = provider.Snapshot{}
		uses := map[provider.ProviderKey]int{}
		if err := exportJSON(tx, bucketConnectors, func(_ []byte, r storedConnector) {
			c := r.domain()
			snap.Connectors = append(snap.Connectors, c)
			if c.Status != provider.StatusPending {
				uses[c.Provider]++
			}
		}); err != nil {
			return err
		}
		if err := exportJSON(tx, bucketProviders, func(_ []byte, r storedProvider) {
			snap.Providers = append(snap.Providers, r.domain(uses[provider.ProviderKey{Type: r.Type, Name: r.Name}]))
		}); err != nil {
			return err
		}
		return exportJSON(tx, bucketAuthStates, func(k []byte, r storedState) {
			snap.AuthStates = append(snap.AuthStates, provider.AuthState{Hash: append([]byte(nil), k...),
				ConnectorID: r.ConnectorID, SealedVerifier: r.SealedVerifier, Expiry: r.Expiry})
		})
	})
	if err != nil {
		return provider.Snapshot{}, fmt.Errorf("provider store export: %w", err)
	}
	return snap, nil
}

// exportJSON decodes every value of bucket (json.Unmarshal copies out of the mmap) and hands it to add with
// its key (valid only during the call).
func exportJSON[R any](tx *bolt.Tx, bucket []byte, add func(key []byte, r R)) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		var r R
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%s %q: %w", bucket, k, err)
		}
		add(k, r)
		return nil
	})
}
