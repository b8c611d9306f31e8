package etcdstore

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/token"
)

// kindAssertion is the sign-in record kind of a used client assertion id (RFC 7523 §3): P s/ja/<client id NUL
// jti> holds {"exp": Unix seconds}, with its entry in the sign-in expiry index, swept by SweepExpired.
const kindAssertion = "ja"

// assertionRecord is what P s/ja/<key> holds.
type assertionRecord struct {
	Exp int64 `json:"exp"`
}

// UseAssertionID implements token.Store: one transaction that writes the record and its index entry only if
// the record's create revision is 0 (it does not exist), so of racing replicas exactly one succeeds.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiry time.Time) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	key := token.AssertionKey(clientID, jti)
	if err := token.ValidKey(key); err != nil {
		return false, err
	}
	v, err := json.Marshal(assertionRecord{Exp: expiry.Unix()})
	if err != nil {
		return false, err
	}
	rec := s.recKey(kindAssertion, key)
	resp, err := s.commit(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(rec), "=", 0)},
		clientv3.OpPut(rec, string(v)), clientv3.OpPut(s.idxKey(kindAssertion, key, expiry), ""))
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}
