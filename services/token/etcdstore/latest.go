package etcdstore

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// LatestRevision asks etcd for the newest revision of the cluster's history (a linearizable count-only read
// of one key, whose answer header carries it), so a caller can tell a revision another replica produced
// from one nobody did.
func (s *Store) LatestRevision(ctx context.Context) (int64, error) {
	resp, err := s.get(ctx, s.p+"w/k", clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}
