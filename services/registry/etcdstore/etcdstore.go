// Package etcdstore is the etcd implementation of registry.Store, for running the registry as a cluster: any
// number of replicas share one etcd cluster, every write is an etcd transaction (durable on a quorum before it
// returns), every read is linearizable, and Watch follows etcd's own revisions. It passes storetest.Run.
//
// # Keys
//
// Under prefix + "registry/" (P); parts are joined with NUL, which no identifier may contain:
//
//	P t/<tenant>                 tenant record, with its generation (a random value set at creation)
//	P code/<code>                tenant ID                      (unique tenant codes)
//	P c/<client>                 client record, with its tenant's generation (client IDs are global)
//	P tc/<tenant> NUL <client>   tenant generation              (the tenant's clients, in ID order)
//	P u/<tenant> NUL <user>      user record, with its tenant's generation
//	P ul/<tenant> NUL lower(login), ue/… lower(email), um/… mobile → {user ID, tenant generation}
//	P uf/<tenant> NUL provider NUL hex(subject) → {user ID, tenant generation} (federated identities)
//	P r/<tenant> NUL <resource>  API resource record, with its tenant's generation
//	P seed                       the lock of a seed in progress (with a lease)
//
// # Generations, and why a tenant of any size is deleted atomically
//
// etcd refuses transactions of more than 128 operations or 1.5 MiB, so deleting a tenant cannot delete its
// clients one key at a time. Instead a record that belongs to a tenant counts only while the tenant exists
// with the generation the record carries. Deleting a tenant is one transaction of eight operations: the
// tenant and its code, and one range delete per per-tenant prefix (tc/, u/, ul/, ue/, um/, uf/, r/); every reader
// sees all of it or none of it. What that transaction cannot reach is the global client record c/<id>: it is left
// behind with a generation no tenant has, so every reader treats it as absent, CreateClient may take the ID
// again, and DeleteTenant removes such records afterwards (best effort; a crash in between leaves only
// invisible records). A tenant deleted and created again with the same ID gets a new generation, so nothing
// of the old one comes back.
//
// Seeding uses the same rule the other way round: the records are written first, in bounded transactions,
// carrying the generations of tenants that do not exist yet (invisible), and one last transaction creates
// the tenants, which makes everything visible at once. A lock with a lease makes concurrent seeders wait for
// each other, so exactly one of them seeds; a seeder that dies leaves invisible records and a lock that
// expires with its lease.
//
// Updates are compare-and-swap loops on the records' modification revisions: an update function may run again
// when another writer got in first. RecordSecretUse applies its uses in bounded transactions, each atomic.
//
// Revision is the highest etcd revision of this value's acknowledged writes (at least the revision the
// cluster had when Open returned); Watch is an etcd watch on P from a revision, decoded into registry.Change
// batches, one per etcd revision.
package etcdstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/registry"
)

// ErrClosed is returned by Watch when the store is closed.
var ErrClosed = errors.New("registry etcdstore: store is closed")

// errBadID refuses a record whose ID (or other value that becomes part of a key: a tenant code, a login
// name, an email, a mobile number) is empty where an ID is required, holds a NUL byte, which would make its
// keys ambiguous, or is not valid UTF-8: JSON stores such a string with U+FFFD in place of the bad bytes, so
// the record would no longer name the key it is stored at (the validators refuse all of these before any
// store sees them).
var errBadID = errors.New("registry etcdstore: empty ID, NUL byte or invalid UTF-8 in an ID")

// badID reports whether one of ids cannot be stored: empty, or not a valid key part (badPart).
func badID(ids ...string) bool { return slices.Contains(ids, "") || badPart(ids...) }

// badPart reports whether one of parts cannot become part of a key: it holds the separator or is not valid
// UTF-8 (which the record's JSON would not keep as it is).
func badPart(parts ...string) bool {
	for _, p := range parts {
		if strings.Contains(p, sep) || !utf8.ValidString(p) {
			return true
		}
	}
	return false
}

// errConflict reports that a compare-and-swap lost to another writer; the operation starts again.
var errConflict = errors.New("registry etcdstore: concurrent write")

// Transaction bounds, below etcd's defaults (--max-txn-ops 128, --max-request-bytes 1.5 MiB).
const (
	maxTxnOps   = 128
	maxTxnBytes = 1 << 20
	// maxAttempts bounds the compare-and-swap retries of one call.
	maxAttempts = 1000
)

// Store is a registry.Store on etcd. It is safe for concurrent use by any number of goroutines and of
// processes sharing the cluster and prefix.
type Store struct {
	cli *clientv3.Client
	p   string // prefix + "registry/"
	rev atomic.Int64

	closeOnce sync.Once
	done      chan struct{}
}

var _ registry.Store = (*Store)(nil)

// Open returns the registry store under prefix (e.g. "/authsuite/") on cli, after one linearizable read that
// proves the cluster answers. Close does not close cli.
func Open(ctx context.Context, cli *clientv3.Client, prefix string) (*Store, error) {
	if prefix == "" {
		return nil, errors.New("registry etcdstore: empty key prefix")
	}
	s := &Store{cli: cli, p: prefix + "registry/", done: make(chan struct{})}
	resp, err := cli.Get(ctx, s.p+"seed", clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("registry etcdstore: %w", err)
	}
	s.rev.Store(resp.Header.Revision)
	return s, nil
}

// Close ends every Watch (with ErrClosed). It does not close the client. Other methods must not be called
// after it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

// Revision implements registry.Store.
func (s *Store) Revision() int64 { return s.rev.Load() }

// note records the revision of an acknowledged write.
func (s *Store) note(rev int64) {
	for {
		cur := s.rev.Load()
		if rev <= cur || s.rev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// --- keys ---

const sep = "\x00"

func (s *Store) tenantKey(id string) string        { return s.p + "t/" + id }
func (s *Store) codeKey(code string) string        { return s.p + "code/" + code }
func (s *Store) clientKey(id string) string        { return s.p + "c/" + id }
func (s *Store) memberPrefix(tid string) string    { return s.p + "tc/" + tid + sep }
func (s *Store) userPrefix(tid string) string      { return s.p + "u/" + tid + sep }
func (s *Store) loginPrefix(tid string) string     { return s.p + "ul/" + tid + sep }
func (s *Store) emailPrefix(tid string) string     { return s.p + "ue/" + tid + sep }
func (s *Store) mobilePrefix(tid string) string    { return s.p + "um/" + tid + sep }
func (s *Store) federatedPrefix(tid string) string { return s.p + "uf/" + tid + sep }
func (s *Store) memberKey(tid, cid string) string  { return s.memberPrefix(tid) + cid }
func (s *Store) userKey(tid, uid string) string    { return s.userPrefix(tid) + uid }
func (s *Store) resourcePrefix(tid string) string  { return s.p + "r/" + tid + sep }
func (s *Store) resourceKey(tid, id string) string { return s.resourcePrefix(tid) + id }
func (s *Store) seedKey() string                   { return s.p + "seed" }

// after returns the first key greater than every key that starts with prefix+after… up to prefix+after itself:
// the start of the page after the item whose key is prefix+after ("" = the first page).
func after(prefix, after string) string {
	if after == "" {
		return prefix
	}
	return prefix + after + "\x00"
}

// hasSep reports whether one of parts contains the key separator: such an identifier names nothing.
func hasSep(parts ...string) bool {
	for _, p := range parts {
		if strings.Contains(p, sep) {
			return true
		}
	}
	return false
}

// newGen returns a new tenant generation.
func newGen() string { return rand.Text() }

// --- reading ---

// retry runs fn until it does not lose a compare-and-swap (errConflict) or a read at a revision that was
// compacted meanwhile, at most maxAttempts times, while ctx lasts.
func retry(ctx context.Context, fn func() error) error {
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn()
		if !errors.Is(err, errConflict) && !errors.Is(err, rpctypes.ErrCompacted) {
			return err
		}
	}
	return fmt.Errorf("registry etcdstore: gave up after %d conflicting attempts", maxAttempts)
}

// getAll reads keys in one snapshot: at revision rev, or (rev 0) at the latest revision, which it returns.
// Keys are read in transactions of at most maxTxnOps reads, all at the revision of the first.
func (s *Store) getAll(ctx context.Context, rev int64, keys []string) ([]*mvccpb.KeyValue, int64, error) {
	out := make([]*mvccpb.KeyValue, 0, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), maxTxnOps)
		ops := make([]clientv3.Op, n)
		for i, k := range keys[:n] {
			if rev > 0 {
				ops[i] = clientv3.OpGet(k, clientv3.WithRev(rev))
			} else {
				ops[i] = clientv3.OpGet(k)
			}
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, r := range resp.Responses {
			var kv *mvccpb.KeyValue
			if kvs := r.GetResponseRange().GetKvs(); len(kvs) > 0 {
				kv = kvs[0]
			}
			out = append(out, kv)
		}
		keys = keys[n:]
	}
	return out, rev, nil
}

// decode unmarshals a stored record.
func decode(kv *mvccpb.KeyValue, v any) error {
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return fmt.Errorf("registry etcdstore: decode %q: %w", kv.Key, err)
	}
	return nil
}

// tenants resolves tenant generations at one revision, reading each tenant once.
type tenants struct {
	s   *Store
	rev int64
	m   map[string]*storedTenant // nil entry: no such tenant
}

func (s *Store) tenantsAt(rev int64) *tenants {
	return &tenants{s: s, rev: rev, m: map[string]*storedTenant{}}
}

// gen returns the generation of tenant id at the revision ("" when there is no such tenant).
func (ts *tenants) gen(ctx context.Context, id string) (string, error) {
	if t, ok := ts.m[id]; ok {
		if t == nil {
			return "", nil
		}
		return t.Gen, nil
	}
	resp, err := ts.s.cli.Get(ctx, ts.s.tenantKey(id), clientv3.WithRev(ts.rev))
	if err != nil {
		return "", err
	}
	if len(resp.Kvs) == 0 {
		ts.m[id] = nil
		return "", nil
	}
	var t storedTenant
	if err := decode(resp.Kvs[0], &t); err != nil {
		return "", err
	}
	ts.m[id] = &t
	return t.Gen, nil
}

// page reads the keys in [start, end) at revision rev (0: the latest, which it returns) in key order,
// converting each with conv, which may refuse records that do not count; it returns the first limit items
// and whether another follows them.
func page[T any](ctx context.Context, s *Store, rev int64, start, end string, limit int, conv func(kv *mvccpb.KeyValue, rev int64) (T, bool, error)) (items []T, more bool, _ int64, err error) {
	batch := int64(min(limit+1, 1000))
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(batch)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, start, opts...)
		if err != nil {
			return nil, false, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			item, ok, err := conv(kv, rev)
			if err != nil {
				return nil, false, 0, err
			}
			if !ok {
				continue
			}
			if len(items) == limit {
				return items, true, rev, nil
			}
			items = append(items, item)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return items, false, rev, nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
