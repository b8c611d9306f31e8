package boltstore

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
)

// ResealAll reseals, in tx, every value of token.db sealed under a master key, through reseal: each signing
// key's private key (its additional data is the key id) and the client snapshot (sealed by the clients
// package with snapshotAD). It is the token store's part of boltdb.Rekey and reports how many values it
// changed.
func ResealAll(tx *bolt.Tx, reseal boltdb.Reseal, snapshotAD []byte) (int, error) {
	n, err := boltdb.ResealJSONField(tx.Bucket(bucketKeys), "private", func(_ []byte, rec map[string]json.RawMessage) ([]byte, error) {
		id, err := boltdb.StringField(rec, "id")
		return []byte(id), err
	}, reseal)
	if err != nil {
		return 0, err
	}
	b := tx.Bucket(bucketClients)
	if sealed := b.Get(keyClientSnapshot); len(sealed) > 0 {
		out, changed, err := reseal(sealed, snapshotAD)
		if err != nil {
			return 0, err
		}
		if changed {
			if err := b.Put(keyClientSnapshot, out); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}
