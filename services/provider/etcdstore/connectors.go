package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

// located is a connector as read: its record, key and revisions.
type located struct {
	sc     storedConnector
	raw    []byte // the record as stored
	key    string
	mod    int64 // mod revision of the record
	create int64 // create revision: the incarnation
}

// locate reads connector id through its i/ entry; an entry that points at nothing is no connector. The
// entry and the record are read at one revision: in one read when this value remembers where id lives (ids
// never change provider, and the entry read with the record confirms it), else in two.
func (s *Store) locate(ctx context.Context, id string) (located, error) {
	k, known := s.where.Load(id)
	for {
		if !known {
			resp, err := s.get(ctx, s.idKey(id))
			if err != nil {
				return located{}, err
			}
			if len(resp.Kvs) == 0 {
				return located{}, apierror.NotFound("connector %s", id)
			}
			pk, ok := decodeProviderKey(resp.Kvs[0].Value)
			if !ok {
				return located{}, fmt.Errorf("provider store: index entry of connector %s is corrupt", id)
			}
			k = pk
		}
		pk := k.(provider.ProviderKey)
		key := s.connKey(pk, id)
		both, err := s.read(ctx, clientv3.OpGet(s.idKey(id)), clientv3.OpGet(key))
		if err != nil {
			return located{}, err
		}
		idx, rec := both.Responses[0].GetResponseRange().Kvs, both.Responses[1].GetResponseRange().Kvs
		switch {
		case len(idx) == 0:
			s.where.Delete(id)
			return located{}, apierror.NotFound("connector %s", id)
		case string(idx[0].Value) != encodeProviderKey(pk):
			known = false // the id lives elsewhere now: read again
			continue
		case len(rec) == 0:
			return located{}, apierror.NotFound("connector %s", id)
		}
		s.where.Store(id, pk)
		return locatedFrom(key, rec[0])
	}
}

func locatedFrom(key string, kv *mvccpb.KeyValue) (located, error) {
	sc, err := decodeConnector(kv.Value)
	return located{sc: sc, raw: kv.Value, key: key, mod: kv.ModRevision, create: kv.CreateRevision}, err
}

// useOps keeps the u/ entry of a connector in step when its record goes from was to now.
func (s *Store) useOps(was, now storedConnector, existed bool) []clientv3.Op {
	used, nowUsed := existed && !was.pending(), !now.pending()
	switch {
	case nowUsed && !used:
		return []clientv3.Op{clientv3.OpPut(s.useKey(now.key(), now.ID), "")}
	case used && !nowUsed:
		return []clientv3.Op{clientv3.OpDelete(s.useKey(was.key(), was.ID))}
	}
	return nil
}

func encodeJSON(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s record: %w", what, err)
	}
	return string(b), nil
}

// CreateConnector implements provider.Store.
func (s *Store) CreateConnector(ctx context.Context, c provider.Connector, st provider.AuthState) error {
	if c.ID == "" {
		return apierror.Invalid("connectorId", "is required")
	}
	if !keyPart(c.ID) {
		return apierror.Invalid("connectorId", "must be UTF-8 without NUL bytes")
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	sc := fromConnector(c)
	rec, recErr := encodeJSON("connector", sc)
	var state string
	if len(st.Hash) > 0 && recErr == nil {
		state, recErr = encodeJSON("state", storedState{ConnectorID: c.ID, SealedVerifier: st.SealedVerifier, Expiry: st.Expiry.UTC()})
	}
	start := time.Now()
	for {
		resp, err := s.read(ctx, clientv3.OpGet(s.providersKey()), clientv3.OpGet(s.idKey(c.ID)))
		if err != nil {
			return err
		}
		set, err := decodeSet(resp.Responses[0].GetResponseRange().Kvs, resp.Header.Revision)
		if err != nil {
			return err
		}
		if _, ok := set.byKey[c.Provider]; !ok {
			return apierror.NotFound("provider %s", c.Provider)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.providersKey()), "=", set.mod),
			clientv3.Compare(clientv3.CreateRevision(s.connKey(c.Provider, c.ID)), "=", 0)}
		if idx := resp.Responses[1].GetResponseRange().Kvs; len(idx) > 0 {
			// The id is taken unless its entry points at nothing (a connector deleted with its provider).
			old, ok := decodeProviderKey(idx[0].Value)
			if !ok {
				return fmt.Errorf("provider store: index entry of connector %s is corrupt", c.ID)
			}
			cr, err := s.get(ctx, s.connKey(old, c.ID), clientv3.WithCountOnly())
			if err != nil {
				return err
			}
			if cr.Count > 0 {
				return apierror.AlreadyExists("connector %s", c.ID)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.idKey(c.ID)), "=", idx[0].ModRevision),
				clientv3.Compare(clientv3.CreateRevision(s.connKey(old, c.ID)), "=", 0))
		} else {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.idKey(c.ID)), "=", 0))
		}
		if recErr != nil {
			return recErr
		}
		ops := []clientv3.Op{clientv3.OpPut(s.idKey(c.ID), encodeProviderKey(c.Provider)),
			clientv3.OpPut(s.connKey(c.Provider, c.ID), rec)}
		ops = append(ops, s.useOps(storedConnector{}, sc, false)...)
		if state != "" {
			ops = append(ops, clientv3.OpPut(s.stateKey(st.Hash), state))
		}
		done, err := s.attempt(ctx, cmps, ops...)
		if err != nil {
			// The outcome is unknown: our record there means it took effect (no other writer makes the
			// same bytes); none means it did not, and we try again.
			if !s.mayRetry(ctx, start) {
				return err
			}
			now, gerr := s.get(ctx, s.connKey(c.Provider, c.ID))
			switch {
			case gerr == nil && len(now.Kvs) > 0 && string(now.Kvs[0].Value) == rec:
				return nil
			case gerr == nil && len(now.Kvs) == 0:
				continue
			}
			return err
		}
		if done.Succeeded {
			return nil
		}
	}
}

// GetConnector implements provider.Store.
func (s *Store) GetConnector(ctx context.Context, id string) (provider.Connector, error) {
	if err := s.check(ctx); err != nil {
		return provider.Connector{}, err
	}
	l, err := s.locate(ctx, id)
	if err != nil {
		return provider.Connector{}, err
	}
	return l.sc.domain(), nil
}

// connectorRange is the smallest c/ range holding every connector f can match.
func (s *Store) connectorRange(f provider.ConnectorFilter) string {
	switch {
	case f.Type != "" && f.Name != "":
		return s.connPrefix(provider.ProviderKey{Type: f.Type, Name: f.Name})
	case f.Type != "":
		return s.p + "c/" + f.Type + sep
	}
	return s.p + "c/"
}

// matching reads, as of one revision, every connector matching f and keep, ordered by id.
func (s *Store) matching(ctx context.Context, f provider.ConnectorFilter, keep func(storedConnector) bool) ([]located, error) {
	var out []located
	_, err := s.scan(ctx, s.connectorRange(f), nil, func(kv *mvccpb.KeyValue) error {
		l, err := locatedFrom(string(kv.Key), kv)
		if err != nil {
			return err
		}
		if f.Match(l.sc.domain()) && keep(l.sc) {
			out = append(out, l)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b located) int { return strings.Compare(a.sc.ID, b.sc.ID) })
	return out, err
}

// ListConnectors implements provider.Store.
func (s *Store) ListConnectors(ctx context.Context, f provider.ConnectorFilter) ([]provider.Connector, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	ls, err := s.matching(ctx, f, func(storedConnector) bool { return true })
	if err != nil {
		return nil, err
	}
	var out []provider.Connector
	for _, l := range ls {
		out = append(out, l.sc.domain())
	}
	return out, nil
}

// update is a compare-and-swap loop on connector id: next decides from the stored record what to store
// (ok false: store nothing) and runs again after a lost race.
func (s *Store) update(ctx context.Context, id string, next func(storedConnector) (storedConnector, bool, error)) (storedConnector, error) {
	if err := s.check(ctx); err != nil {
		return storedConnector{}, err
	}
	start := time.Now()
	for {
		l, err := s.locate(ctx, id)
		if err != nil {
			return storedConnector{}, err
		}
		nc, ok, err := next(l.sc)
		if err != nil || !ok {
			return nc, err
		}
		rec, err := encodeJSON("connector", nc)
		if err != nil {
			return storedConnector{}, err
		}
		ops := append([]clientv3.Op{clientv3.OpPut(l.key, rec)}, s.useOps(l.sc, nc, true)...)
		resp, err := s.attempt(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(l.key), "=", l.mod)}, ops...)
		if err != nil {
			// The outcome is unknown: the record tells. Ours (changed, and to what we wrote) means it
			// took effect; unchanged means it did not, and we try again; anything else cannot be told.
			if !s.mayRetry(ctx, start) {
				return storedConnector{}, err
			}
			now, lerr := s.locate(ctx, id)
			switch {
			case lerr == nil && now.mod != l.mod && string(now.raw) == rec:
				return nc, nil
			case lerr == nil && now.mod == l.mod:
				continue
			}
			return storedConnector{}, err
		}
		if resp.Succeeded {
			return nc, nil
		}
	}
}

// UpdateConnector implements provider.Store. fn runs once per attempt: again after a concurrent writer
// changed the connector between the read and the write.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(provider.Connector) (provider.Connector, error)) (provider.Connector, error) {
	var out provider.Connector
	_, err := s.update(ctx, id, func(sc storedConnector) (storedConnector, bool, error) {
		old := sc.domain()
		nc, err := fn(sc.domain())
		if err != nil {
			return storedConnector{}, false, err
		}
		nc.ID, nc.Provider, nc.TenantID, nc.Owner, nc.CreateTime = old.ID, old.Provider, old.TenantID, old.Owner, old.CreateTime
		out = fromConnector(nc).domain()
		return fromConnector(nc), true, nil
	})
	if err != nil {
		return provider.Connector{}, err
	}
	return out, nil
}

// ClaimRefresh implements provider.Store: a compare-and-swap of the connector's record.
func (s *Store) ClaimRefresh(ctx context.Context, id, holder string, now, until time.Time) (bool, provider.Connector, error) {
	if err := provider.CheckLease(holder, now, until); err != nil {
		return false, provider.Connector{}, err
	}
	claimed := false
	sc, err := s.update(ctx, id, func(sc storedConnector) (storedConnector, bool, error) {
		if claimed = !sc.domain().RefreshHeld(holder, now); !claimed {
			return sc, false, nil
		}
		sc.RefreshHolder, sc.RefreshUntil = holder, until.UTC()
		return sc, true, nil
	})
	if err != nil {
		return false, provider.Connector{}, err
	}
	return claimed, sc.domain(), nil
}

// ReleaseRefresh implements provider.Store.
func (s *Store) ReleaseRefresh(ctx context.Context, id, holder string) error {
	_, err := s.update(ctx, id, func(sc storedConnector) (storedConnector, bool, error) {
		if holder == "" || sc.RefreshHolder != holder {
			return sc, false, nil
		}
		sc.RefreshHolder, sc.RefreshUntil = "", time.Time{}
		return sc, true, nil
	})
	return err
}

// DeleteConnector implements provider.Store. Its pending authorizations stop counting with it (see the
// package comment).
func (s *Store) DeleteConnector(ctx context.Context, id string) (provider.Connector, error) {
	if err := s.check(ctx); err != nil {
		return provider.Connector{}, err
	}
	for {
		l, err := s.locate(ctx, id)
		if err != nil {
			return provider.Connector{}, err
		}
		resp, err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(l.key), "=", l.mod)}, s.deleteOps(l)...)
		if err != nil {
			return provider.Connector{}, err
		}
		if resp.Succeeded {
			s.where.Delete(id)
			return l.sc.domain(), nil
		}
	}
}

func (s *Store) deleteOps(l located) []clientv3.Op {
	return []clientv3.Op{clientv3.OpDelete(l.key), clientv3.OpDelete(s.idKey(l.sc.ID)), clientv3.OpDelete(s.useKey(l.sc.key(), l.sc.ID))}
}

// batch applies change to each of ls in transactions of batchSize, each connector compared with the record
// read; a batch that loses a race is redone one connector at a time through redo. It returns the ids
// changed.
func (s *Store) batch(ctx context.Context, ls []located, ops func(located) ([]clientv3.Op, error), redo func(id string) (bool, error)) ([]string, error) {
	var ids []string
	for chunk := range slices.Chunk(ls, batchSize/2) {
		var cmps []clientv3.Cmp
		var all []clientv3.Op
		for _, l := range chunk {
			o, err := ops(l)
			if err != nil {
				return ids, err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(l.key), "=", l.mod))
			all = append(all, o...)
		}
		resp, err := s.txn(ctx, cmps, all...)
		if err != nil {
			return ids, err
		}
		if resp.Succeeded {
			for _, l := range chunk {
				ids = append(ids, l.sc.ID)
			}
			continue
		}
		for _, l := range chunk {
			ok, err := redo(l.sc.ID)
			if err != nil {
				return ids, err
			}
			if ok {
				ids = append(ids, l.sc.ID)
			}
		}
	}
	return ids, nil
}

// SweepPendingConnectors implements provider.Store: per connector atomic (see provider.Store).
func (s *Store) SweepPendingConnectors(ctx context.Context, createdBefore time.Time) ([]provider.Connector, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	old := func(sc storedConnector) bool { return sc.pending() && sc.CreateTime.Before(createdBefore) }
	ls, err := s.matching(ctx, provider.ConnectorFilter{}, old)
	if err != nil {
		return nil, err
	}
	gone := map[string]provider.Connector{}
	for _, l := range ls {
		gone[l.sc.ID] = l.sc.domain()
	}
	ids, err := s.batch(ctx, ls, func(l located) ([]clientv3.Op, error) { return s.deleteOps(l), nil },
		func(id string) (bool, error) {
			for {
				l, err := s.locate(ctx, id)
				if errors.Is(err, apierror.ErrNotFound) {
					return false, nil
				}
				if err != nil || !old(l.sc) {
					return false, err
				}
				resp, err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(l.key), "=", l.mod)}, s.deleteOps(l)...)
				if err != nil {
					return false, err
				}
				if resp.Succeeded {
					gone[id] = l.sc.domain()
					return true, nil
				}
			}
		})
	var out []provider.Connector
	for _, id := range ids {
		out = append(out, gone[id])
	}
	return out, err
}

// DropGrants implements provider.Store: per connector atomic (see provider.Store).
func (s *Store) DropGrants(ctx context.Context, f provider.ConnectorFilter, now time.Time) ([]string, error) {
	if f.Name == "" {
		return nil, apierror.Invalid("oauthProvider", "is required")
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	granted := func(sc storedConnector) bool {
		return sc.SealedGrant != nil || sc.Status == string(provider.StatusActive)
	}
	drop := func(sc storedConnector) storedConnector {
		sc.SealedGrant, sc.Status, sc.UpdateTime = nil, string(provider.StatusRevoked), now.UTC()
		return sc
	}
	ls, err := s.matching(ctx, f, granted)
	if err != nil {
		return nil, err
	}
	ids, err := s.batch(ctx, ls, func(l located) ([]clientv3.Op, error) {
		nc := drop(l.sc)
		rec, err := encodeJSON("connector", nc)
		if err != nil {
			return nil, err
		}
		return append([]clientv3.Op{clientv3.OpPut(l.key, rec)}, s.useOps(l.sc, nc, true)...), nil
	}, func(id string) (bool, error) {
		changed := false
		_, err := s.update(ctx, id, func(sc storedConnector) (storedConnector, bool, error) {
			changed = granted(sc)
			return drop(sc), changed, nil
		})
		if errors.Is(err, apierror.ErrNotFound) {
			return false, nil
		}
		return changed && err == nil, err
	})
	slices.Sort(ids)
	return ids, err
}

// PutAuthState implements provider.Store: stored only while connector st.ConnectorID is the one it read.
func (s *Store) PutAuthState(ctx context.Context, st provider.AuthState) error {
	if len(st.Hash) == 0 || st.ConnectorID == "" {
		return apierror.Invalid("state", "hash and connector id are required")
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	rec, recErr := encodeJSON("state", storedState{ConnectorID: st.ConnectorID, SealedVerifier: st.SealedVerifier, Expiry: st.Expiry.UTC()})
	for {
		l, err := s.locate(ctx, st.ConnectorID)
		if err != nil {
			return err
		}
		if recErr != nil {
			return recErr
		}
		resp, err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.create)},
			clientv3.OpPut(s.stateKey(st.Hash), rec))
		if err != nil {
			return err
		}
		if resp.Succeeded {
			return nil
		}
	}
}

// TakeAuthState implements provider.Store: a delete that compares the state's revision, so of concurrent
// takers exactly one succeeds.
func (s *Store) TakeAuthState(ctx context.Context, hash []byte) (provider.AuthState, error) {
	if err := s.check(ctx); err != nil {
		return provider.AuthState{}, err
	}
	key := s.stateKey(hash)
	for {
		resp, err := s.get(ctx, key)
		if err != nil {
			return provider.AuthState{}, err
		}
		if len(resp.Kvs) == 0 {
			return provider.AuthState{}, apierror.NotFound("authorization state")
		}
		kv := resp.Kvs[0]
		var ss storedState
		if err := json.Unmarshal(kv.Value, &ss); err != nil {
			return provider.AuthState{}, fmt.Errorf("decode state record: %w", err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)}
		l, err := s.locate(ctx, ss.ConnectorID)
		live := err == nil && kv.ModRevision >= l.create
		if err != nil && !errors.Is(err, apierror.ErrNotFound) {
			return provider.AuthState{}, err
		}
		if live {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.create))
		}
		done, err := s.txn(ctx, cmps, clientv3.OpDelete(key))
		if err != nil {
			return provider.AuthState{}, err
		}
		switch {
		case !done.Succeeded:
			continue
		case !live: // left by a deleted connector: removed now, and never counted
			return provider.AuthState{}, apierror.NotFound("authorization state")
		}
		return provider.AuthState{Hash: bytes.Clone(hash), ConnectorID: ss.ConnectorID, SealedVerifier: ss.SealedVerifier, Expiry: ss.Expiry}, nil
	}
}

// SweepAuthStates implements provider.Store. It also deletes, without counting them, the authorizations
// of connectors deleted before them (which no longer count, see the package comment).
func (s *Store) SweepAuthStates(ctx context.Context, now time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	type dead struct {
		key     string
		mod     int64
		counted bool
	}
	var gone []dead
	type state struct {
		kv *mvccpb.KeyValue
		ss storedState
		ok bool
	}
	var all []state
	if _, err := s.scan(ctx, s.p+"s/", nil, func(kv *mvccpb.KeyValue) error {
		var ss storedState
		err := json.Unmarshal(kv.Value, &ss)
		all = append(all, state{kv, ss, err == nil})
		return nil
	}); err != nil {
		return 0, err
	}
	incarnation := map[string]int64{} // connector id → create revision; 0: none
	for _, st := range all {
		expired := !st.ok || st.ss.Expiry.Before(now)
		create, seen := incarnation[st.ss.ConnectorID]
		if !seen && st.ok {
			l, err := s.locate(ctx, st.ss.ConnectorID)
			if err != nil && !errors.Is(err, apierror.ErrNotFound) {
				return 0, err
			}
			create = l.create
			incarnation[st.ss.ConnectorID] = create
		}
		live := create != 0 && st.kv.ModRevision >= create
		if expired || !live {
			gone = append(gone, dead{string(st.kv.Key), st.kv.ModRevision, expired && (live || !st.ok)})
		}
	}
	n := 0
	for chunk := range slices.Chunk(gone, batchSize) {
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for _, d := range chunk {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(d.key), "=", d.mod))
			ops = append(ops, clientv3.OpDelete(d.key))
		}
		resp, err := s.txn(ctx, cmps, ops...)
		if err != nil {
			return n, err
		}
		if resp.Succeeded {
			for _, d := range chunk {
				if d.counted {
					n++
				}
			}
			continue
		}
		for i, d := range chunk { // a state was taken or replaced meanwhile: one at a time
			resp, err := s.txn(ctx, cmps[i:i+1], ops[i])
			if err != nil {
				return n, err
			}
			if resp.Succeeded && d.counted {
				n++
			}
		}
	}
	return n, nil
}
