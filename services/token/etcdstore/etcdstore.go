// Package etcdstore is the etcd v3 implementation of the token service's store, so that several token
// replicas share one state and a replica can die without losing a write.
//
// # Keys
//
// Every key lives under prefix + "token/" (P below); the byte strings the domain uses as keys (SHA-256
// digests, jtis, SIDs) are used as they are, always as the last part of a key:
//
//	P w/k                         the signing key set: one JSON array, replaced whole (UpdateKeys)
//	P w/r/<jti>                   a revocation: its expiry, 8 bytes big-endian Unix seconds
//	P x/r/<exp>/<jti>             expiry index of the revocations (SweepRevocations), empty value
//	P s/<kind>/<key>              a sign-in record (JSON with its expiry), kind one of
//	                              in (interaction), se (session), co (code), rt (refresh token),
//	                              cn (consent, key tenant NUL user NUL client), lf (login failures),
//	                              ja (used client assertion id, key client NUL jti)
//	P s/sid/<sid>                 the SID index: the session's key
//	P s/sl/<tenant>\x00<user>\x00<sid>  the session list index: the session's key (sessionlist.go)
//	P m/session-list              written once the sessions stored before the list index are indexed
//	P x/s/<exp>/<kind>/<key>      expiry index of the sign-in records (SweepExpired), empty value
//	P c/ptr                       the client snapshot's pointer: generation, chunk count, size
//	P c/<gen>/<n>                 the client snapshot's chunks of one generation (16 hex digits, 8 digits)
//	P c/gen                       written to draw a new generation (its revision), empty value
//
// <exp> is 16 hex digits that sort as the expiry does. Only P w/ is watched: a watcher gets the revocations
// and key-set changes and nothing else.
//
// # Expiry
//
// Records expire by an expiry index swept by SweepExpired and SweepRevocations, not by etcd leases. The
// contract sweeps by the caller's clock (records stay readable until a sweep at a later time), which a lease
// timed by etcd's clock cannot follow; and a lease per record would make etcd keep one lease, with its
// checkpoints, per session, code, refresh token and revocation (a million revocations is a million leases),
// where the index costs one more key in the write that stores the record. Measured on a 3-member cluster
// (BenchmarkExpiry), a record with its index entry is one transaction, 0.9 ms; with a lease it is a grant
// and a put, 1.6 ms. A record written again with another expiry leaves its older index entry behind when
// the write does not read the record first; the sweep drops such an entry when it reaches its time, after
// checking the record's own expiry, so it never deletes a record that was renewed.
//
// # Atomicity and etcd's limits
//
// Every method that changes one record (with its index entries) does it in one transaction, with a
// compare-and-swap on the record's mod revision; update functions run again when the swap loses to a
// concurrent write. Requests stay within etcd's defaults (128 operations per transaction, 1.5 MiB per
// request): the client snapshot is written in chunks under a new generation and switched to by one write of
// its pointer; sweeps and the AccountStore deletions go record by record (each record's deletion atomic with
// its index entries, a group of records per request), which token.AccountStore allows.
package etcdstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/token"
)

// maxJTI is the longest jti and signing key id accepted, as the other backends do.
const maxJTI = 32768

// How many keys one range read returns at most: revocations are small (a jti and 8 bytes), sign-in records
// a few hundred bytes, so both pages stay a few megabytes.
const (
	revocationPage = 20000
	recordPage     = 5000
)

// groupRecords is how many records one sweep or deletion request handles: each record is a nested
// transaction (one operation of the request, holding at most four), under etcd's default of 128 operations
// per transaction.
const groupRecords = 20

// progressEvery is how often a watch asks etcd for a progress report while it waits, so that a watcher
// learns that it has seen every commit up to a revision even when nothing it watches changed.
const progressEvery = 200 * time.Millisecond

// Store is a token.Store on etcd. Its methods are safe for concurrent use.
type Store struct {
	cli *clientv3.Client
	p   string // prefix + "token/"

	closed atomic.Bool
	done   chan struct{} // closed by Close: ends running watches
	once   sync.Once
	rev    atomic.Int64 // the highest revision a response to this value carried
}

var _ token.Store = (*Store)(nil)

// Open returns a store keeping its keys under prefix + "token/" on the cluster cli talks to. It reads once,
// to check the cluster answers and to learn its revision. Close does not close cli.
func Open(ctx context.Context, cli *clientv3.Client, prefix string) (*Store, error) {
	if cli == nil {
		return nil, errors.New("open token store: no etcd client")
	}
	s := &Store{cli: cli, p: prefix + "token/", done: make(chan struct{})}
	resp, err := cli.Get(ctx, s.p+"w/k", clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("open token store: %w", err)
	}
	s.saw(resp.Header)
	if err := s.indexSessionList(ctx); err != nil {
		return nil, fmt.Errorf("open token store: %w", err)
	}
	return s, nil
}

// Close implements token.Store: later calls answer token.ErrClosed and running watches end. The client stays
// open.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return token.ErrClosed
	}
	return ctx.Err()
}

// saw notes the revision of a response.
func (s *Store) saw(h interface{ GetRevision() int64 }) {
	r := h.GetRevision()
	for {
		cur := s.rev.Load()
		if r <= cur || s.rev.CompareAndSwap(cur, r) {
			return
		}
	}
}

// Revision implements token.Store: the highest revision any answer to this store value carried, which is at
// or after every write it acknowledged. Revisions are the cluster's, shared with every other store on it.
func (s *Store) Revision() int64 { return s.rev.Load() }

// wrap marks an etcd failure, keeping the context's errors recognisable.
func wrap(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("token store: etcd: %w", err)
}

func (s *Store) get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil {
		return nil, wrap(err)
	}
	s.saw(resp.Header)
	return resp, nil
}

func (s *Store) commit(ctx context.Context, cmps []clientv3.Cmp, then ...clientv3.Op) (*clientv3.TxnResponse, error) {
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(then...).Commit()
	if err != nil {
		return nil, wrap(err)
	}
	s.saw(resp.Header)
	return resp, nil
}

// modRev is the mod revision of the first key of resp, 0 when there is none: comparing a key's
// ModRevision with 0 holds exactly while it is absent.
func modRev(resp *clientv3.GetResponse) int64 {
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].ModRevision
}

// retry runs attempt until it reports done or fails, or ctx ends. Each attempt reads, computes and tries one
// compare-and-swap; losing the swap to a concurrent write means trying again with what that write left.
func retry(ctx context.Context, attempt func() (done bool, err error)) error {
	for {
		done, err := attempt()
		if err != nil || done {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// expKey encodes an expiry so that keys sort as expiries do (whole seconds, any sign): 16 lower-case hex
// digits of the Unix seconds with the sign bit flipped.
func expKey(t time.Time) string {
	return fmt.Sprintf("%016x", uint64(t.Unix())^(1<<63))
}

// sweepUntil is the end (exclusive) of the index entries a sweep at t reads: those of expiries before t. An
// expiry is whole seconds, so for a t between seconds the second t falls in is before it too.
func sweepUntil(t time.Time) string {
	if t.Nanosecond() == 0 {
		return expKey(t)
	}
	return expKey(time.Unix(t.Unix()+1, 0))
}

// parseExpKey reverses expKey; false for anything expKey does not make.
func parseExpKey(k []byte) (int64, bool) {
	if len(k) != 16 {
		return 0, false
	}
	var u uint64
	for _, c := range k {
		switch {
		case '0' <= c && c <= '9':
			u = u<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			u = u<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return int64(u ^ (1 << 63)), true
}

// parseRevocationEntry reads an entry of the revocations' expiry index (after its prefix): <exp>/<jti>.
func parseRevocationEntry(entry []byte) (exp int64, jti string, ok bool) {
	if len(entry) < 18 || entry[16] != '/' || len(entry)-17 > maxJTI {
		return 0, "", false
	}
	exp, ok = parseExpKey(entry[:16])
	return exp, string(entry[17:]), ok
}

// expiry is an expiry as stored: whole Unix seconds.
func expiry(t time.Time) time.Time { return time.Unix(t.Unix(), 0) }

// keyRecord is the stored form of a signing key.
type keyRecord struct {
	ID         string    `json:"id"`
	Alg        string    `json:"alg"`
	Private    []byte    `json:"private"`
	CreateTime time.Time `json:"create_time"`
	RetireTime time.Time `json:"retire_time,omitzero"`
}

func decodeKeys(raw []byte) ([]token.SigningKey, error) {
	if raw == nil {
		return nil, nil
	}
	var recs []keyRecord
	if err := json.Unmarshal(raw, &recs); err != nil {
		return nil, fmt.Errorf("token store: signing keys: %w", err)
	}
	var keys []token.SigningKey
	for _, r := range recs {
		keys = append(keys, token.SigningKey{ID: r.ID, Alg: r.Alg, Private: r.Private, CreateTime: r.CreateTime, RetireTime: r.RetireTime})
	}
	// Stored by id; answered by CreateTime, ids breaking ties as the other backends do.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreateTime.Before(keys[j].CreateTime) })
	return keys, nil
}

// Keys implements token.Store.
func (s *Store) Keys(ctx context.Context) ([]token.SigningKey, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	resp, err := s.get(ctx, s.p+"w/k")
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return decodeKeys(resp.Kvs[0].Value)
}

// UpdateKeys implements token.Store with a compare-and-swap on the key set: update runs again, with the
// set another writer left, when that writer got there first.
func (s *Store) UpdateKeys(ctx context.Context, update func([]token.SigningKey) ([]token.SigningKey, error)) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	k := s.p + "w/k"
	return retry(ctx, func() (bool, error) {
		resp, err := s.get(ctx, k)
		if err != nil {
			return false, err
		}
		var raw []byte
		if len(resp.Kvs) > 0 {
			raw = resp.Kvs[0].Value
		}
		old, err := decodeKeys(raw)
		if err != nil {
			return false, err
		}
		next, err := update(old)
		if err != nil {
			return false, err
		}
		recs := make([]keyRecord, 0, len(next))
		for _, k := range next {
			if k.ID == "" || slices.ContainsFunc(recs, func(r keyRecord) bool { return r.ID == k.ID }) {
				return false, fmt.Errorf("signing keys: empty or duplicate id %q", k.ID)
			}
			if len(k.ID) > maxJTI {
				return false, errors.New("signing keys: id too long")
			}
			recs = append(recs, keyRecord{ID: k.ID, Alg: k.Alg, Private: k.Private, CreateTime: k.CreateTime, RetireTime: k.RetireTime})
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
		v, err := json.Marshal(recs)
		if err != nil {
			return false, err
		}
		tr, err := s.commit(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(k), "=", modRev(resp))}, clientv3.OpPut(k, string(v)))
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
}

func encodeExpiry(t time.Time) string {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(t.Unix()))
	return string(v[:])
}

func decodeExpiry(v []byte) (time.Time, bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(v)), 0), true
}

// Revoke implements token.Store: the revocation and its expiry index entry in one transaction, durable (a
// quorum has it) when Revoke returns. Concurrent revocations share etcd's commits.
func (s *Store) Revoke(ctx context.Context, r token.Revocation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if r.JTI == "" {
		return errors.New("revoke: empty jti")
	}
	if len(r.JTI) > maxJTI {
		return errors.New("revoke: jti too long")
	}
	// The write is idempotent, so one whose outcome is unknown (the leader died with it in flight) is given
	// up after revokeAttempt and sent again, for up to revokeRetryFor, rather than waiting for etcd's own
	// request timeout (seven seconds) or failing a revocation during an election.
	deadline := time.Now().Add(revokeRetryFor)
	for {
		actx, cancel := context.WithTimeout(ctx, revokeAttempt)
		_, err := s.commit(actx, nil,
			clientv3.OpPut(s.p+"w/r/"+r.JTI, encodeExpiry(r.Expiry)),
			clientv3.OpPut(s.p+"x/r/"+expKey(r.Expiry)+"/"+r.JTI, ""))
		cancel()
		if err == nil || ctx.Err() != nil || s.closed.Load() || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(resumeAfter):
		}
	}
}

// revokeAttempt bounds one attempt of Revoke (a commit takes milliseconds; an election about a second), and
// revokeRetryFor all of them.
const (
	revokeAttempt  = 2 * time.Second
	revokeRetryFor = 10 * time.Second
)

// scan calls fn with every key-value under prefix, in key order, page by page, all read at one revision
// (the first page's): a consistent snapshot, unless etcd compacts that revision during the scan, which
// fails it.
func (s *Store) scan(ctx context.Context, prefix string, end string, page int64, fn func(kv *mvccpb.KeyValue) error, opts ...clientv3.OpOption) error {
	key := prefix
	if end == "" {
		end = clientv3.GetPrefixRangeEnd(prefix)
	}
	var rev int64
	for {
		o := append([]clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(page)}, opts...)
		if rev != 0 {
			o = append(o, clientv3.WithRev(rev))
		}
		resp, err := s.get(ctx, key, o...)
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Revocations implements token.Store: every revocation, read as one snapshot.
func (s *Store) Revocations(ctx context.Context) ([]token.Revocation, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []token.Revocation
	pre := s.p + "w/r/"
	err := s.scan(ctx, pre, "", revocationPage, func(kv *mvccpb.KeyValue) error {
		exp, ok := decodeExpiry(kv.Value)
		if !ok {
			return fmt.Errorf("revocation %q: bad value length %d", kv.Key[len(pre):], len(kv.Value))
		}
		out = append(out, token.Revocation{JTI: string(kv.Key[len(pre):]), Expiry: exp})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SweepRevocations implements token.Store through the expiry index: it reads only the entries due before t.
// A revocation given a later expiry since its entry was written is kept (the entry alone goes).
func (s *Store) SweepRevocations(ctx context.Context, t time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	pre := s.p + "x/r/"
	return s.sweepIndex(ctx, pre, sweepUntil(t), func(entry []byte) (string, bool) {
		_, jti, ok := parseRevocationEntry(entry)
		return s.p + "w/r/" + jti, ok
	}, func(kv *mvccpb.KeyValue) bool {
		exp, ok := decodeExpiry(kv.Value)
		return !ok || exp.Before(t)
	}, nil)
}

// sweepIndex deletes the records named by the index entries under index that sort before index+until,
// each with its entry, when expired says the record (as stored now) has expired; entries whose record is
// gone or was renewed are deleted alone. record maps an entry (the key after index) to its record's key.
// also, when set, adds operations to a record's deletion (the SID index entry of a session). Each record
// goes in a nested transaction guarded by its mod revision, groupRecords of them per request; it answers
// how many records it deleted.
func (s *Store) sweepIndex(ctx context.Context, index, until string, record func(entry []byte) (string, bool),
	expired func(kv *mvccpb.KeyValue) bool, also func(kv *mvccpb.KeyValue) []clientv3.Op) (int, error) {
	n := 0
	for {
		resp, err := s.get(ctx, index, clientv3.WithRange(index+until), clientv3.WithLimit(groupRecords), clientv3.WithKeysOnly())
		if err != nil {
			return n, err
		}
		if len(resp.Kvs) == 0 {
			return n, nil
		}
		// The records the entries name, read in one request.
		keys := make([]string, len(resp.Kvs))
		reads := make([]clientv3.Op, 0, len(resp.Kvs))
		for i, e := range resp.Kvs {
			rk, ok := record(e.Key[len(index):])
			if ok {
				keys[i] = rk
				reads = append(reads, clientv3.OpGet(rk))
			}
		}
		rr, err := s.commit(ctx, nil, reads...)
		if err != nil {
			return n, err
		}
		var ops []clientv3.Op
		var counted []bool
		// etcd checks every guard of one request against the state before it, so a record named by two
		// entries of the group is deleted by the first only; the second goes with its entry alone.
		deleting := map[string]bool{}
		for i, e := range resp.Kvs {
			entry, rk := string(e.Key), keys[i]
			if rk == "" {
				ops = append(ops, clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpDelete(entry)}, nil))
				counted = append(counted, false)
				continue
			}
			cur := (*clientv3.GetResponse)(rr.Responses[0].GetResponseRange())
			rr.Responses = rr.Responses[1:]
			if len(cur.Kvs) == 0 || !expired(cur.Kvs[0]) || deleting[rk] {
				// Gone already, or renewed: its live entry is elsewhere.
				ops = append(ops, clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", modRev(cur))},
					[]clientv3.Op{clientv3.OpDelete(entry)}, nil))
				counted = append(counted, false)
				continue
			}
			deleting[rk] = true
			del := []clientv3.Op{clientv3.OpDelete(rk), clientv3.OpDelete(entry)}
			if also != nil {
				del = append(del, also(cur.Kvs[0])...)
			}
			ops = append(ops, clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", cur.Kvs[0].ModRevision)}, del, nil))
			counted = append(counted, true)
		}
		tr, err := s.commit(ctx, nil, ops...)
		if err != nil {
			return n, err
		}
		for i, r := range tr.Responses {
			if sub := r.GetResponseTxn(); sub != nil && sub.Succeeded && counted[i] {
				n++
			}
		}
		// Entries whose guard failed (the record changed meanwhile) are still there and are read again.
		if !resp.More && allSucceeded(tr) {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}

func allSucceeded(tr *clientv3.TxnResponse) bool {
	for _, r := range tr.Responses {
		if sub := r.GetResponseTxn(); sub != nil && !sub.Succeeded {
			return false
		}
	}
	return true
}

// Snapshot chunks: a value per request stays well under etcd's 1.5 MiB request limit.
const snapshotChunk = 1 << 20

type snapshotPointer struct {
	Gen    int64 `json:"gen"`
	Chunks int   `json:"chunks"`
	Size   int   `json:"size"`
}

// PutClientSnapshot implements token.Store. The snapshot is written in chunks under a new generation (the
// revision of a write of a scratch key, so no two puts share one), then made current by one write of the
// pointer, guarded by the existence of every chunk it names: a crash before that leaves the previous
// snapshot current and an unreferenced generation. Afterwards the put deletes every generation but its own
// and the current one, each deletion guarded by the pointer still being what it read, so that a concurrent
// put's generation is never deleted once current; a put whose chunks were deleted before its switch (by a
// concurrent put's cleanup) writes them again.
func (s *Store) PutClientSnapshot(ctx context.Context, data []byte) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ptrKey := s.p + "c/ptr"
	var gen int64
	err := retry(ctx, func() (bool, error) {
		gr, err := s.commit(ctx, nil, clientv3.OpPut(s.p+"c/gen", ""))
		if err != nil {
			return false, err
		}
		gen = gr.Header.Revision
		ptr := snapshotPointer{Gen: gen, Size: len(data)}
		var cmps []clientv3.Cmp
		for off := 0; off < len(data) || (off == 0 && ptr.Chunks == 0); off += snapshotChunk {
			end := min(off+snapshotChunk, len(data))
			k := fmt.Sprintf("%sc/%016x/%08d", s.p, gen, ptr.Chunks)
			if _, err := s.commit(ctx, nil, clientv3.OpPut(k, string(data[off:end]))); err != nil {
				return false, err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), ">", 0))
			ptr.Chunks++
		}
		v, _ := json.Marshal(ptr)
		tr, err := s.commit(ctx, cmps, clientv3.OpPut(ptrKey, string(v)))
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
	if err != nil {
		return err
	}
	cur, err := s.get(ctx, ptrKey)
	if err != nil || len(cur.Kvs) == 0 {
		return err
	}
	var curPtr snapshotPointer
	if err := json.Unmarshal(cur.Kvs[0].Value, &curPtr); err != nil {
		return fmt.Errorf("token store: client snapshot pointer: %w", err)
	}
	gens := s.p + "c/"
	var doomed []string
	err = s.scan(ctx, gens+"0", gens+"g", recordPage, func(kv *mvccpb.KeyValue) error {
		var g int64
		if _, err := fmt.Sscanf(string(kv.Key[len(gens):]), "%016x/", &g); err == nil && g != gen && g != curPtr.Gen {
			doomed = append(doomed, string(kv.Key))
		}
		return nil
	}, clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	still := clientv3.Compare(clientv3.Value(ptrKey), "=", string(cur.Kvs[0].Value))
	for len(doomed) > 0 {
		var ops []clientv3.Op
		for _, k := range doomed[:min(len(doomed), 100)] {
			ops = append(ops, clientv3.OpDelete(k))
		}
		doomed = doomed[len(ops):]
		tr, err := s.commit(ctx, []clientv3.Cmp{still}, ops...)
		if err != nil || !tr.Succeeded {
			return err // the pointer moved: the put that moved it cleans up
		}
	}
	return nil
}

func (s *Store) readPointer(ctx context.Context) (*snapshotPointer, error) {
	resp, err := s.get(ctx, s.p+"c/ptr")
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	var p snapshotPointer
	if err := json.Unmarshal(resp.Kvs[0].Value, &p); err != nil {
		return nil, fmt.Errorf("token store: client snapshot pointer: %w", err)
	}
	return &p, nil
}

// ClientSnapshot implements token.Store: the pointer and the chunks it names are read at one revision.
func (s *Store) ClientSnapshot(ctx context.Context) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	resp, err := s.get(ctx, s.p+"c/ptr")
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	var p snapshotPointer
	if err := json.Unmarshal(resp.Kvs[0].Value, &p); err != nil {
		return nil, fmt.Errorf("token store: client snapshot pointer: %w", err)
	}
	out := make([]byte, 0, p.Size)
	n := 0
	pre := fmt.Sprintf("%sc/%016x/", s.p, p.Gen)
	err = s.scan(ctx, pre, "", 4, func(kv *mvccpb.KeyValue) error { // chunks are a MiB each
		out = append(out, kv.Value...)
		n++
		return nil
	}, clientv3.WithRev(resp.Header.Revision))
	if err != nil {
		return nil, err
	}
	if n != p.Chunks || len(out) != p.Size {
		return nil, fmt.Errorf("token store: client snapshot generation %d: %d chunks, %d bytes; want %d, %d", p.Gen, n, len(out), p.Chunks, p.Size)
	}
	return out, nil
}

// Watch implements token.Store on an etcd watch of the revocations and the key set. Commits are delivered
// at their etcd revision; a commit that only swept revocations is delivered as a progress report. While
// it waits, the watch asks etcd for progress reports (every progressEvery), so a watcher learns that it is
// current. A dropped stream is resumed after the last revision delivered; etcd's compaction answers
// changelog.ErrCompacted.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[token.Change]) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	// A member that lost its leader ends the stream instead of keeping it silent.
	wctx := clientv3.WithRequireLeader(ctx)
	last := from
	for {
		err := s.watchOnce(ctx, wctx, &last, fn)
		switch {
		case s.closed.Load():
			return token.ErrClosed
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return err
		case s.cli.Ctx().Err() != nil:
			return wrap(s.cli.Ctx().Err())
		}
		// The stream ended in a way resuming fixes (member lost, no leader): resume after last, shortly.
		select {
		case <-ctx.Done():
		case <-time.After(resumeAfter):
		}
	}
}

// resumeAfter is the pause before a dropped watch stream is opened again.
const resumeAfter = 50 * time.Millisecond

// watchOnce runs one etcd watch from *last+1, delivering to fn and advancing *last. It returns nil when the
// stream ended in a way that resuming can fix.
func (s *Store) watchOnce(ctx, wctx context.Context, last *int64, fn func(changelog.Batch[token.Change]) error) error {
	wch := s.cli.Watch(wctx, s.p+"w/", clientv3.WithPrefix(), clientv3.WithRev(*last+1), clientv3.WithProgressNotify())
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	rpre, kkey := s.p+"w/r/", s.p+"w/k"
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			_ = s.cli.RequestProgress(wctx) // best effort: a failure only delays the next report
		case resp, ok := <-wch:
			if !ok {
				return nil
			}
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) || resp.CompactRevision != 0 {
					return fmt.Errorf("token store: watch from %d: %w", *last, changelog.ErrCompacted)
				}
				if errors.Is(err, rpctypes.ErrNoLeader) {
					return nil // resume, through a member that has one
				}
				return wrap(err)
			}
			if resp.IsProgressNotify() {
				if r := resp.Header.Revision; r > *last {
					if err := fn(changelog.Batch[token.Change]{Revision: r}); err != nil {
						return err
					}
					*last = r
				}
				continue
			}
			var batch changelog.Batch[token.Change]
			flush := func() error {
				if batch.Revision <= *last {
					return nil
				}
				if err := fn(batch); err != nil {
					return err
				}
				*last = batch.Revision
				return nil
			}
			for _, ev := range resp.Events {
				if r := ev.Kv.ModRevision; r != batch.Revision {
					if err := flush(); err != nil {
						return err
					}
					batch = changelog.Batch[token.Change]{Revision: r}
				}
				if ev.Type != clientv3.EventTypePut {
					continue // sweeps are not reported
				}
				k := string(ev.Kv.Key)
				switch {
				case k == kkey:
					batch.Changes = append(batch.Changes, token.Change{KeysChanged: true})
				case len(k) > len(rpre) && k[:len(rpre)] == rpre:
					exp, ok := decodeExpiry(ev.Kv.Value)
					if !ok {
						return fmt.Errorf("revocation %q: bad value length %d", k[len(rpre):], len(ev.Kv.Value))
					}
					batch.Changes = append(batch.Changes, token.Change{Revocation: &token.Revocation{JTI: k[len(rpre):], Expiry: exp}})
				}
			}
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
