package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdTxnOps bounds the puts of one etcd transaction (etcd's default --max-txn-ops is 128).
const etcdTxnOps = 100

// EtcdLog is the Log of the etcd backend: one key per event under a prefix (the prefix and the event ID, so
// keys sort by time like the bbolt log's). An Append is one transaction per 100 events, each also deleting
// the events older than MaxAge; the count bound is enforced right after, by deleting the oldest keys beyond
// it in one range delete, so the log may exceed its bound by one batch between the two.
type EtcdLog struct {
	cli    *clientv3.Client
	prefix string
	max    int
}

// NewEtcdLog returns the audit log under prefix (e.g. "<suite prefix>/registry/audit/"), keeping at most max
// events (MaxEvents when max < 1).
func NewEtcdLog(cli *clientv3.Client, prefix string, max int) *EtcdLog {
	if max < 1 {
		max = MaxEvents
	}
	return &EtcdLog{cli: cli, prefix: prefix, max: max}
}

// Append implements Log.
func (l *EtcdLog) Append(ctx context.Context, events []Event, now time.Time) error {
	horizon := l.prefix + newID(now.Add(-MaxAge), 0)
	for len(events) > 0 {
		n := min(len(events), etcdTxnOps)
		ops := []clientv3.Op{clientv3.OpDelete(l.prefix, clientv3.WithRange(horizon))}
		for _, e := range events[:n] {
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			ops = append(ops, clientv3.OpPut(l.prefix+e.ID, string(v)))
		}
		if _, err := l.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		events = events[n:]
	}
	return l.trim(ctx)
}

// trim deletes the oldest events beyond max.
func (l *EtcdLog) trim(ctx context.Context) error {
	end := clientv3.GetPrefixRangeEnd(l.prefix)
	resp, err := l.cli.Get(ctx, l.prefix, clientv3.WithRange(end), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	extra := resp.Count - int64(l.max)
	if extra <= 0 {
		return nil
	}
	old, err := l.cli.Get(ctx, l.prefix, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(extra),
		clientv3.WithRev(resp.Header.Revision))
	if err != nil || len(old.Kvs) == 0 {
		return err
	}
	last := string(old.Kvs[len(old.Kvs)-1].Key)
	_, err = l.cli.Delete(ctx, l.prefix, clientv3.WithRange(last+"\x00"))
	return err
}

// List implements Log: it reads newest first in batches, at one revision.
func (l *EtcdLog) List(ctx context.Context, q Query) (items []Event, next string, err error) {
	limit := q.EffectiveLimit()
	end := clientv3.GetPrefixRangeEnd(l.prefix)
	if q.Before != "" {
		end = l.prefix + q.Before
	}
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(limit + 1)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := l.cli.Get(ctx, l.prefix, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("audit log: %w", err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			var e Event
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				return nil, "", fmt.Errorf("audit log: decode %q: %w", kv.Key, err)
			}
			if !q.Match(e) {
				continue
			}
			if len(items) == limit {
				return items, items[limit-1].ID, nil
			}
			items = append(items, e)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return items, "", nil
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
}
