// Package fence keeps a suite's etcd prefix closed while data is imported into it (authsuite migrate, or a
// restore of an etcd backup), so that no replica ever serves a partial import.
//
// An import is written in many transactions (etcd allows 128 operations and 1.5 MiB per request), so it
// cannot appear at once by itself. Instead Claim writes a marker key, in the one transaction that finds the
// prefix empty; the import writes its records; Finish deletes the marker in the transaction that writes the
// import's last keys (the master key record, which a replica reads first). A replica checks the marker
// before anything else (Check) and refuses to start while it exists: an import in progress, or one that
// failed part way, is never served. After a failure the operator clears the prefix and imports again.
package fence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Key is the marker key of the suite at prefix. It lies outside every store's own range.
func Key(prefix string) string { return prefix + "suite/import" }

// ErrNotEmpty is returned by Claim when the prefix holds keys.
var ErrNotEmpty = errors.New("etcd prefix is not empty")

// ErrLost is returned by Finish when the marker is no longer the one Claim wrote (someone cleared the prefix
// or finished another import meanwhile): nothing was written.
var ErrLost = errors.New("the import marker changed while importing")

// marker is the marker's value: what is being imported, and since when, for the operator who finds it.
type marker struct {
	From    string    `json:"from"`
	Started time.Time `json:"started"`
}

// Claim writes the marker of an import from source into prefix if, and only if, no key starts with prefix
// (one transaction: two importers cannot both claim it). It returns the marker's revision for Finish; a
// non-empty prefix is an error wrapping ErrNotEmpty naming the prefix and how many keys it holds.
func Claim(ctx context.Context, cli *clientv3.Client, prefix, source string) (int64, error) {
	v, _ := json.Marshal(marker{From: source, Started: time.Now().UTC()}) // strings and a time: cannot fail
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(prefix), "=", 0).WithPrefix()).
		Then(clientv3.OpPut(Key(prefix), string(v))).
		Else(clientv3.OpGet(prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("claim etcd prefix %s: %w", prefix, err)
	}
	if !resp.Succeeded {
		n := resp.Responses[0].GetResponseRange().GetCount()
		return 0, fmt.Errorf("%w: %s holds %d keys; import only into an empty prefix (another --etcd-prefix, or delete the old suite's keys first)", ErrNotEmpty, prefix, n)
	}
	return resp.Header.Revision, nil
}

// Finish ends the import claimed at revision rev: in one transaction, it writes last (at most 100 operations)
// and deletes the marker, if the marker is still the one Claim wrote (else ErrLost, nothing written).
func Finish(ctx context.Context, cli *clientv3.Client, prefix string, rev int64, last ...clientv3.Op) error {
	if len(last) > 100 {
		return fmt.Errorf("finish import into %s: %d final operations, at most 100", prefix, len(last))
	}
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(Key(prefix)), "=", rev)).
		Then(append(last, clientv3.OpDelete(Key(prefix)))...).
		Commit()
	if err != nil {
		return fmt.Errorf("finish import into %s: %w", prefix, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("finish import into %s: %w", prefix, ErrLost)
	}
	return nil
}

// Check returns an error when the suite at prefix has an import in progress or one that failed part way:
// a replica must not start on it.
func Check(ctx context.Context, cli *clientv3.Client, prefix string) error {
	key := Key(prefix)
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("import marker %s in etcd: %w", key, err)
	}
	if len(resp.Kvs) > 0 {
		return fmt.Errorf("the suite at %s in etcd is being imported, or its import failed part way (%s = %s): wait for the import to finish; after a failed one, delete every key under the prefix (etcdctl del --prefix %s) and import again",
			prefix, key, resp.Kvs[0].Value, prefix)
	}
	return nil
}
