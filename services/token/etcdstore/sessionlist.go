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

// The session list index (token.Store.ListSessions): P s/sl/<tenant> NUL <user> NUL <sid> → the session's
// key. sessionOps write it, deleteSessionOps and the sweep delete it, each in the transaction that changes
// the session, so it follows every session write and deletion.
//
// Sessions written before the index existed are indexed once, by Open (indexSessionList): it scans the
// sessions when the marker P m/session-list is absent, indexes each with a transaction guarded by the session's mod
// revision (a session changed or deleted meanwhile is left to the write that changed it), then writes the
// marker. During a rolling upgrade a replica of an older build still writes sessions without an entry:
// those are listed once a newer replica writes them again (their next sign-in or code), or after the
// marker is deleted and a replica restarts.

const sessionListVersion = "1"

func (s *Store) listPrefix(tenantID string) string { return s.p + "s/sl/" + tenantID + "\x00" }

func (s *Store) listMarker() string { return s.p + "m/session-list" }

// listKey is the index key of a session; "" for one that is not indexed.
func (s *Store) listKey(tenantID, userID, sid string) string {
	k, ok := token.SessionListKey(tenantID, userID, sid)
	if !ok {
		return ""
	}
	return s.listPrefix(tenantID) + k
}

// putListOps point the entry of se at its key id.
func (s *Store) putListOps(se token.Session, id []byte) []clientv3.Op {
	if k := s.listKey(se.TenantID, se.UserID, se.SID); k != "" {
		return []clientv3.Op{clientv3.OpPut(k, string(id))}
	}
	return nil
}

// dropListOps delete the entry of se if it still names the session id.
func (s *Store) dropListOps(se token.Session, id []byte) []clientv3.Op {
	k := s.listKey(se.TenantID, se.UserID, se.SID)
	if k == "" {
		return nil
	}
	return []clientv3.Op{clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(k), "=", string(id))}, []clientv3.Op{clientv3.OpDelete(k)}, nil)}
}

// moveListOps are the list index changes of replacing old (found is false when there is none) by next.
func (s *Store) moveListOps(id []byte, old token.Session, found bool, next token.Session) []clientv3.Op {
	var ops []clientv3.Op
	oldKey, nextKey := s.listKey(old.TenantID, old.UserID, old.SID), s.listKey(next.TenantID, next.UserID, next.SID)
	if found && oldKey != nextKey { // one transaction may not name a key twice
		ops = s.dropListOps(old, id)
	}
	return append(ops, s.putListOps(next, id)...)
}

// indexSessionList indexes the sessions stored before the list index existed, once (see above).
func (s *Store) indexSessionList(ctx context.Context) error {
	resp, err := s.get(ctx, s.listMarker())
	if err != nil {
		return err
	}
	if len(resp.Kvs) > 0 {
		return nil
	}
	pre := s.p + "s/" + kindSession + "/"
	err = s.scan(ctx, pre, "", recordPage, func(kv *mvccpb.KeyValue) error {
		var r sessionRecord
		if json.Unmarshal(kv.Value, &r) != nil {
			return nil // an undecodable record cannot be listed
		}
		id := kv.Key[len(pre):]
		ops := s.putListOps(r.domain(id), id)
		if len(ops) == 0 {
			return nil
		}
		_, err := s.commit(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)}, ops...)
		return err
	})
	if err != nil {
		return fmt.Errorf("index the sessions: %w", err)
	}
	_, err = s.commit(ctx, nil, clientv3.OpPut(s.listMarker(), sessionListVersion))
	return err
}

// ListSessions implements token.Store: one range read of the index page, then the page's sessions read in
// transactions at the index read's revision. An entry whose session is gone or no longer matches it is
// skipped.
func (s *Store) ListSessions(ctx context.Context, q token.SessionQuery) (token.SessionPage, error) {
	if err := s.check(ctx); err != nil {
		return token.SessionPage{}, err
	}
	limit, err := token.CheckSessionQuery(q)
	if err != nil {
		return token.SessionPage{}, err
	}
	tenant := s.listPrefix(q.TenantID)
	prefix := tenant + token.SessionListPrefix(q)
	from := prefix
	if q.After != "" {
		from = tenant + q.After + "\x00" // the first key after After
	}
	resp, err := s.get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return token.SessionPage{}, err
	}
	var page token.SessionPage
	if resp.More && len(resp.Kvs) > 0 {
		page.Next = string(resp.Kvs[len(resp.Kvs)-1].Key[len(tenant):])
	}
	// etcd allows 128 operations per transaction.
	for i := 0; i < len(resp.Kvs); i += 100 {
		kvs := resp.Kvs[i:min(i+100, len(resp.Kvs))]
		gets := make([]clientv3.Op, 0, len(kvs))
		for _, kv := range kvs {
			// At the index read's revision: a session is read as the entry saw it.
			gets = append(gets, clientv3.OpGet(s.recKey(kindSession, kv.Value), clientv3.WithRev(resp.Header.Revision)))
		}
		tr, err := s.commit(ctx, nil, gets...)
		if err != nil {
			return token.SessionPage{}, err
		}
		for j, r := range tr.Responses {
			rr := r.GetResponseRange()
			if rr == nil || len(rr.Kvs) == 0 {
				continue // stale entry: the session is gone
			}
			var rec sessionRecord
			if err := json.Unmarshal(rr.Kvs[0].Value, &rec); err != nil {
				continue
			}
			key := kvs[j].Key
			if !bytes.Equal([]byte(s.listKey(rec.TenantID, rec.UserID, rec.SID)), key) {
				continue // stale entry: the session changed
			}
			page.Sessions = append(page.Sessions, rec.domain(bytes.Clone(kvs[j].Value)))
		}
	}
	return page, nil
}
