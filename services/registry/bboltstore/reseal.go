package bboltstore

import (
	"bytes"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/registry"
)

// ResealAll reseals, within tx, every value of registry.db sealed with the suite keyring, through reseal
// (`authsuite rekey`, internal/rekey): tenants' SMTP passwords and upstream client secrets, and users' TOTP
// keys, each with the additional data it was sealed with. It reports how many values changed. Recovery codes
// and client secrets are keyed digests, not sealed: their digest subkeys are retained instead
// (suitekey.RetainedPurposes).
func ResealAll(tx *bolt.Tx, reseal boltdb.Reseal) (int, error) {
	changed := 0
	one := func(sealed *[]byte, ad []byte) (bool, error) {
		if len(*sealed) == 0 {
			return false, nil
		}
		out, ch, err := reseal(*sealed, ad)
		if err != nil || !ch {
			return false, err
		}
		*sealed = out
		changed++
		return true, nil
	}
	err := resealRecords(tx.Bucket(bucketTenants), func(st *storedTenant) (bool, error) {
		any := false
		if st.SMTP != nil {
			ch, err := one(&st.SMTP.SealedPassword, registry.SMTPPasswordAD(st.ID))
			if err != nil {
				return false, err
			}
			any = any || ch
		}
		for i := range st.IdentityProviders {
			p := &st.IdentityProviders[i]
			ch, err := one(&p.SealedClientSecret, registry.IdentityProviderSecretAD(st.ID, p.ID))
			if err != nil {
				return false, err
			}
			any = any || ch
		}
		return any, nil
	})
	if err != nil {
		return 0, err
	}
	err = resealRecords(tx.Bucket(bucketUsers), func(su *storedUser) (bool, error) {
		return one(&su.TOTPSealed, registry.TOTPKeyAD(su.TenantID, su.ID, su.Incarnation))
	})
	return changed, err
}

// resealRecords runs fn on every JSON record of b and writes back the ones it changed.
func resealRecords[R any](b *bolt.Bucket, fn func(*R) (bool, error)) error {
	type kv struct {
		k []byte
		v []byte
	}
	var list []kv
	if err := b.ForEach(func(k, v []byte) error {
		list = append(list, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, e := range list {
		var r R
		if err := json.Unmarshal(e.v, &r); err != nil {
			return err
		}
		ch, err := fn(&r)
		if err != nil {
			return err
		}
		if ch {
			if err := putJSON(b, e.k, r); err != nil {
				return err
			}
		}
	}
	return nil
}
