package memstore

import (
	"context"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// UseAssertionID implements token.Store: one map lookup and insert under the write lock.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, exp time.Time) (bool, error) {
	key := token.AssertionKey(clientID, jti)
	if err := token.ValidKey(key); err != nil {
		return false, err
	}
	fresh := false
	err := s.write(ctx, func(d *data) error {
		if _, used := d.assertions[string(key)]; used {
			return nil
		}
		d.assertions[string(key)] = expiry(exp)
		fresh = true
		return nil
	})
	return fresh, err
}
