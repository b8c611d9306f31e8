package bboltstore

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/provider"
)

// ResealAll reseals, in tx, every value of provider.db sealed under a master key, through reseal: each
// provider's secret and each connector's grant. Pending authorizations (their sealed PKCE verifiers and OAuth
// 1.0a temporary secrets, which live minutes) are dropped instead: a user who was mid-way through one starts
// it again. It is the provider store's part of boltdb.Rekey and reports how many values it changed or dropped.
func ResealAll(tx *bolt.Tx, reseal boltdb.Reseal) (int, error) {
	secrets, err := boltdb.ResealJSONField(tx.Bucket(bucketProviders), "sealed_secret", func(_ []byte, rec map[string]json.RawMessage) ([]byte, error) {
		typ, err := boltdb.StringField(rec, "type")
		if err != nil {
			return nil, err
		}
		name, err := boltdb.StringField(rec, "name")
		return provider.SecretAD(provider.ProviderKey{Type: typ, Name: name}), err
	}, reseal)
	if err != nil {
		return 0, err
	}
	grants, err := boltdb.ResealJSONField(tx.Bucket(bucketConnectors), "sealed_grant", func(_ []byte, rec map[string]json.RawMessage) ([]byte, error) {
		id, err := boltdb.StringField(rec, "id")
		return provider.GrantAD(id), err
	}, reseal)
	if err != nil {
		return 0, err
	}
	dropped := tx.Bucket(bucketAuthStates).Stats().KeyN
	for _, name := range [][]byte{bucketAuthStates, bucketConnectorStates} {
		if err := tx.DeleteBucket(name); err != nil {
			return 0, err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return 0, err
		}
	}
	return secrets + grants + dropped, nil
}
