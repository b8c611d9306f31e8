package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/token"
)

// doomed is a record an AccountStore deletion matched, as read.
type doomed[V any] struct {
	key string
	mod int64
	ops []clientv3.Op // its deletion, with its index entries
	val V             // what the deletion reports
}

// deleteRecords deletes each record of queue in a nested transaction guarded by its mod revision,
// groupRecords per request, and calls done with each one deleted. A record that changed since it was read
// is read again through match (nil when it no longer matches) and retried as it is now.
func deleteRecords[V any](ctx context.Context, s *Store, queue []doomed[V], match func(kv *mvccpb.KeyValue) (*doomed[V], error), done func(V)) error {
	for len(queue) > 0 {
		group := queue[:min(len(queue), groupRecords)]
		queue = queue[len(group):]
		ops := make([]clientv3.Op, len(group))
		for i, d := range group {
			ops[i] = clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(d.key), "=", d.mod)}, d.ops, nil)
		}
		tr, err := s.commit(ctx, nil, ops...)
		if err != nil {
			return err
		}
		for i, r := range tr.Responses {
			if r.GetResponseTxn().Succeeded {
				done(group[i].val)
				continue
			}
			resp, err := s.get(ctx, group[i].key)
			if err != nil {
				return err
			}
			if len(resp.Kvs) == 0 {
				continue
			}
			d, err := match(resp.Kvs[0])
			if err != nil {
				return err
			}
			if d != nil {
				queue = append(queue, *d)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// DeleteAccountSessions implements token.AccountStore. It scans the sessions and deletes the accounts' ones
// record by record, each with its index entries (token.AccountStore allows it): a call that fails part-way
// has deleted some, and calling it again deletes the rest.
func (s *Store) DeleteAccountSessions(ctx context.Context, accounts []token.Account) ([]token.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := token.NewAccountSet(accounts)
	pre := s.p + "s/" + kindSession + "/"
	match := func(kv *mvccpb.KeyValue) (*doomed[token.Session], error) {
		var r sessionRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("token store: record: %w", err)
		}
		if !set.Has(r.TenantID, r.UserID, r.Incarnation) {
			return nil, nil
		}
		se := r.domain(bytes.Clone(kv.Key[len(pre):]))
		return &doomed[token.Session]{key: string(kv.Key), mod: kv.ModRevision, ops: s.deleteSessionOps(se), val: se}, nil
	}
	recs, err := scanMatching(ctx, s, pre, match)
	if err != nil {
		return nil, err
	}
	var out []token.Session
	if err := deleteRecords(ctx, s, recs, match, func(se token.Session) { out = append(out, se) }); err != nil {
		return nil, err
	}
	return out, nil
}

// scanMatching reads every record under pre and answers those match selects.
func scanMatching[V any](ctx context.Context, s *Store, pre string, match func(kv *mvccpb.KeyValue) (*doomed[V], error)) ([]doomed[V], error) {
	var recs []doomed[V]
	err := s.scan(ctx, pre, "", recordPage, func(kv *mvccpb.KeyValue) error {
		d, err := match(kv)
		if d != nil {
			recs = append(recs, *d)
		}
		return err
	})
	return recs, err
}

// DeleteAccountRefreshTokens implements token.AccountStore record by record, like DeleteAccountSessions.
func (s *Store) DeleteAccountRefreshTokens(ctx context.Context, accounts []token.Account) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := token.NewAccountSet(accounts)
	pre := s.p + "s/" + kindRefresh + "/"
	match := func(kv *mvccpb.KeyValue) (*doomed[string], error) {
		var r refreshRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("token store: record: %w", err)
		}
		if !set.Has(r.TenantID, r.UserID, r.Incarnation) {
			return nil, nil
		}
		t := r.domain(kv.Key[len(pre):])
		return &doomed[string]{key: string(kv.Key), mod: kv.ModRevision, val: r.FamilyID, ops: []clientv3.Op{
			clientv3.OpDelete(string(kv.Key)), clientv3.OpDelete(s.idxKey(kindRefresh, t.Hash, t.Expiry))}}, nil
	}
	recs, err := scanMatching(ctx, s, pre, match)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	err = deleteRecords(ctx, s, recs, match, func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
