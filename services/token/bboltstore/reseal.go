package bboltstore

import (
	"bytes"
	"encoding/json"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
)

// ResealAll reseals, in tx, every value of token.db sealed under a master key, through reseal: each signing
// key's private key (its additional data is the key id), the successors rotated refresh tokens keep for
// their retry grace window, and the client snapshot (sealed by the clients package with snapshotAD). It is
// the token store's part of boltdb.Rekey and reports how many values it changed.
func ResealAll(tx *bolt.Tx, reseal boltdb.Reseal, snapshotAD []byte) (int, error) {
	n, err := boltdb.ResealJSONField(tx.Bucket(bucketKeys), "private", func(_ []byte, rec map[string]json.RawMessage) ([]byte, error) {
		id, err := boltdb.StringField(rec, "id")
		return []byte(id), err
	}, reseal)
	if err != nil {
		return 0, err
	}
	// A rotated refresh token keeps its successor, sealed with the token's hash (the record's key) as
	// additional data, for the retry grace window. Sign-in records are an expiry then JSON (encodeRecord).
	successors, err := boltdb.ResealRecords(tx.Bucket(bucketRefresh), func(k, v []byte) ([]byte, bool, error) {
		if len(v) < 8 {
			return nil, false, errors.New("short record")
		}
		out, changed, err := boltdb.ResealJSONObject(v[8:], "sealed_successor", func(map[string]json.RawMessage) ([]byte, error) { return k, nil }, reseal)
		if err != nil || !changed {
			return nil, false, err
		}
		return append(bytes.Clone(v[:8]), out...), true, nil
	})
	if err != nil {
		return 0, err
	}
	n += successors
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
