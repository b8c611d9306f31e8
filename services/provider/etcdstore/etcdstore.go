// Package etcdstore is the etcd v3 implementation of provider.Store, for running several replicas of the
// provider service on one etcd cluster. It passes storetest.Run.
//
// # Keys
//
// Everything lives under prefix + "provider/" (P below); type, name and id are joined with NUL, which
// provider types and names (the parser refuses control characters) and server-made ids never contain:
//
//	P providers                  → every provider, one JSON record (secrets sealed)
//	P c/ type NUL name NUL id    → a connector (JSON; the grant sealed), grouped under its provider
//	P i/ id                      → type NUL name: where connector id lives, and the id's uniqueness
//	P u/ type NUL name NUL id    → "" while connector id is not pending: who uses the provider
//	P s/ hex(hash)               → a pending authorization (JSON; the verifier sealed)
//
// # Atomicity
//
// Every write is one etcd transaction that compares what it read (mod or create revisions) and retries
// from a fresh read when another writer came first, so update functions may run more than once. Each
// transaction stays within etcd's default limits (128 operations, 1.5 MiB):
//   - PutProviders rewrites the one providers record, comparing it and, for every provider it replaces,
//     that its u/ range is still empty: one transaction of two operations, whatever the load's size.
//   - DeleteProvider deletes the provider and, with one range delete, every connector under it (only
//     pending ones can be left when its u/ range is empty) in one transaction. Their i/ entries are removed
//     afterwards; until then (or forever, after a crash) they point at nothing, which reads as no
//     connector and frees the id.
//   - A pending authorization belongs to the incarnation of its connector that existed when it was
//     written: it counts only while that connector's record exists and was created at or before the
//     authorization's last write. So deleting a connector (alone or with its provider) drops its
//     authorizations at once without touching them; the next SweepAuthStates deletes them (without
//     counting them, as the other backends never have them).
//   - SweepPendingConnectors and DropGrants change connectors in transactions of up to batchSize, each
//     connector compared with what was read: every connector's change is atomic, the call is not (see
//     provider.Store).
//
// # Failures
//
// A member's death (kill -9) costs no acknowledged write: each write returns once a quorum has it. Reads
// broken by the dead connection are resent through another member. A compare-and-swap write whose answer
// was lost (CreateConnector, UpdateConnector, ClaimRefresh, ReleaseRefresh) is given up after
// attemptTimeout and judged from the record: ours means done, unchanged means sent again, for up to
// retryFor; anything else is reported as the error it was. Other writes report a lost answer as an error,
// the outcome unknown.
//
// # Revisions and watch
//
// Revisions are etcd's (global to the cluster, shared with every other store on it). Watch is an etcd
// watch of P from the revision after from, with previous values; a compacted revision is
// changelog.ErrCompacted.
package etcdstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/provider"
)

// Store is a provider.Store on etcd. It is safe for concurrent use, and any number of Store values (in any
// number of processes) may share one prefix.
type Store struct {
	cli    *clientv3.Client
	p      string // prefix + "provider/"
	rev    atomic.Int64
	closed atomic.Bool
	// where remembers the provider of connector ids this value has read (id → provider.ProviderKey), so a
	// connector is read in one round trip; every read checks it against the i/ entry.
	where sync.Map
}

var _ provider.Store = (*Store)(nil)

// batchSize is how many connectors one transaction of a sweep or a DropGrants changes: each takes one
// compare and up to two operations, so a batch stays below etcd's default of 128 operations.
const batchSize = 60

// Open returns a store keeping its keys under prefix + "provider/" through cli, after one read that
// checks etcd answers. Close does not close cli.
func Open(ctx context.Context, cli *clientv3.Client, prefix string) (*Store, error) {
	s := &Store{cli: cli, p: prefix + "provider/"}
	resp, err := cli.Get(ctx, s.p+"providers", clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("provider store: %w", err)
	}
	s.seen(resp.Header.Revision)
	return s, nil
}

var errClosed = fmt.Errorf("provider store: closed: %w", apierror.ErrUnavailable)

// Close makes every later call fail; it does not close the client, nor end running watches (their
// contexts do).
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Revision implements provider.Store: the highest etcd revision this value has seen answered.
func (s *Store) Revision() int64 { return s.rev.Load() }

// seen raises Revision to rev.
func (s *Store) seen(rev int64) {
	for {
		cur := s.rev.Load()
		if rev <= cur || s.rev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// Keys.

const sep = "\x00"

func (s *Store) providersKey() string { return s.p + "providers" }
func (s *Store) connKey(k provider.ProviderKey, id string) string {
	return s.p + "c/" + k.Type + sep + k.Name + sep + id
}
func (s *Store) connPrefix(k provider.ProviderKey) string {
	return s.p + "c/" + k.Type + sep + k.Name + sep
}
func (s *Store) idKey(id string) string { return s.p + "i/" + id }
func (s *Store) useKey(k provider.ProviderKey, id string) string {
	return s.p + "u/" + k.Type + sep + k.Name + sep + id
}
func (s *Store) usePrefix(k provider.ProviderKey) string {
	return s.p + "u/" + k.Type + sep + k.Name + sep
}
func (s *Store) stateKey(hash []byte) string { return s.p + "s/" + hex.EncodeToString(hash) }

func encodeProviderKey(k provider.ProviderKey) string { return k.Type + sep + k.Name }

// keyPart reports whether v can be part of a key: not empty, no separator (which would let two providers
// or connectors share a key range: type "a", name "b\x00c" and type "a\x00b", name "c"), and valid UTF-8
// (JSON would store U+FFFD in place of the bad bytes, so the record would not name its key, and a watch
// would report another connector than the one changed).
func keyPart(v string) bool {
	return v != "" && !strings.Contains(v, sep) && utf8.ValidString(v)
}

func decodeProviderKey(v []byte) (provider.ProviderKey, bool) {
	typ, name, ok := strings.Cut(string(v), sep)
	return provider.ProviderKey{Type: typ, Name: name}, ok
}

// txn runs one transaction and records its revision. ok is whether the comparisons held.
func (s *Store) txn(ctx context.Context, cmps []clientv3.Cmp, then ...clientv3.Op) (*clientv3.TxnResponse, error) {
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(then...).Commit()
	if err != nil {
		return nil, fmt.Errorf("provider store: %w", err)
	}
	s.seen(resp.Header.Revision)
	return resp, nil
}

// read runs read-only operations at one revision (a transaction without comparisons). etcd's client does
// not resend a transaction whose connection broke, but a read may be resent safely: read does, through
// another member, for up to retryFor.
func (s *Store) read(ctx context.Context, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	start := time.Now()
	for {
		resp, err := s.txn(ctx, nil, ops...)
		if err == nil || status.Code(errors.Unwrap(err)) != codes.Unavailable || !s.mayRetry(ctx, start) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(readPause):
		}
	}
}

// readPause is how long read waits before it resends a read whose connection broke.
const readPause = 50 * time.Millisecond

// attemptTimeout bounds one write attempt of the calls that can tell afterwards whether a lost attempt
// took effect (a commit takes milliseconds, an election about a second; etcd itself gives up after seven
// seconds); retryFor bounds how long such a call keeps trying.
const (
	attemptTimeout = 2 * time.Second
	retryFor       = 10 * time.Second
)

// attempt is txn bounded by attemptTimeout. An error means the outcome is unknown: the write may or may
// not have taken effect.
func (s *Store) attempt(ctx context.Context, cmps []clientv3.Cmp, then ...clientv3.Op) (*clientv3.TxnResponse, error) {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return s.txn(actx, cmps, then...)
}

// mayRetry reports whether a call that started at start may look at a failed attempt and try again.
func (s *Store) mayRetry(ctx context.Context, start time.Time) bool {
	return ctx.Err() == nil && !s.closed.Load() && time.Since(start) < retryFor
}

func (s *Store) get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil {
		return nil, fmt.Errorf("provider store: %w", err)
	}
	s.seen(resp.Header.Revision)
	return resp, nil
}

// scan calls fn with every key-value under prefix as of one revision, in key order, reading pages of
// pageSize, and returns that revision.
func (s *Store) scan(ctx context.Context, prefix string, opts []clientv3.OpOption, fn func(*mvccpb.KeyValue) error) (int64, error) {
	const pageSize = 1000
	end := clientv3.GetPrefixRangeEnd(prefix)
	key, rev := prefix, int64(0)
	for {
		o := append([]clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}, opts...)
		if rev != 0 {
			o = append(o, clientv3.WithRev(rev))
		}
		resp, err := s.get(ctx, key, o...)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv); err != nil {
				return 0, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Watch implements provider.Store.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[provider.Change]) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if from < 0 {
		return fmt.Errorf("provider store: watch from revision %d: %w", from, changelog.ErrCompacted)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.cli.Watch(wctx, s.p, clientv3.WithPrefix(), clientv3.WithRev(from+1), clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
			return fmt.Errorf("provider store: watch from revision %d: %w", from, changelog.ErrCompacted)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("provider store: watch: %w", err)
		}
		if resp.IsProgressNotify() {
			if err := fn(changelog.Batch[provider.Change]{Revision: resp.Header.Revision}); err != nil {
				return err
			}
			continue
		}
		for len(resp.Events) > 0 {
			rev := resp.Events[0].Kv.ModRevision
			n := 1
			for n < len(resp.Events) && resp.Events[n].Kv.ModRevision == rev {
				n++
			}
			b := changelog.Batch[provider.Change]{Revision: rev}
			for _, ev := range resp.Events[:n] {
				chs, err := s.changes(ev)
				if err != nil {
					return err
				}
				b.Changes = append(b.Changes, chs...)
			}
			resp.Events = resp.Events[n:]
			if err := fn(b); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("provider store: watch ended: %w", apierror.ErrUnavailable)
}

// changes maps one etcd event to what it changed.
func (s *Store) changes(ev *clientv3.Event) ([]provider.Change, error) {
	key := string(ev.Kv.Key)
	switch {
	case key == s.providersKey():
		var prev []byte
		if ev.PrevKv != nil {
			prev = ev.PrevKv.Value
		}
		var next []byte
		if ev.Type == clientv3.EventTypePut {
			next = ev.Kv.Value
		}
		return providerChanges(prev, next)
	case strings.HasPrefix(key, s.p+"c/"):
		if ev.Type == clientv3.EventTypeDelete {
			return []provider.Change{{DeletedConnector: key[strings.LastIndex(key, sep)+1:]}}, nil
		}
		sc, err := decodeConnector(ev.Kv.Value)
		if err != nil {
			return nil, err
		}
		c := sc.domain()
		return []provider.Change{{Connector: &c}}, nil
	}
	return nil, nil
}

// providerChanges names every provider that differs between two providers records, in key order.
func providerChanges(prev, next []byte) ([]provider.Change, error) {
	a, err := decodeProviders(prev)
	if err != nil {
		return nil, err
	}
	b, err := decodeProviders(next)
	if err != nil {
		return nil, err
	}
	var keys []provider.ProviderKey
	for k, v := range a {
		if w, ok := b[k]; !ok || string(v) != string(w) {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sortKeys(keys)
	out := make([]provider.Change, len(keys))
	for i := range keys {
		out[i] = provider.Change{Provider: &keys[i]}
	}
	return out, nil
}
