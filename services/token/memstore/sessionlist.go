package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// The session list index (token.Store.ListSessions): per tenant, token.SessionListKey → the session's key.
// putSID and dropSID keep it with the SID index, so every write and deletion of a session changes both.

// putListEntry indexes the session stored under id (just written).
func (d *data) putListEntry(id string) {
	r, ok := d.sessions[id]
	if !ok {
		return
	}
	k, ok := token.SessionListKey(r.tenantID, r.userID, r.sid)
	if !ok {
		return
	}
	m := d.sessionList[r.tenantID]
	if m == nil {
		m = map[string]sidEntry{}
		d.sessionList[r.tenantID] = m
	}
	m[k] = sidEntry{id: id, expiry: r.expiry}
}

// dropListEntry deletes the index entry of old, the record stored under id, if it still points at id.
func (d *data) dropListEntry(id string, old *sessionRec) {
	k, ok := token.SessionListKey(old.tenantID, old.userID, old.sid)
	if !ok {
		return
	}
	m := d.sessionList[old.tenantID]
	if e, ok := m[k]; ok && e.id == id {
		delete(m, k)
		if len(m) == 0 {
			delete(d.sessionList, old.tenantID)
		}
	}
}

// sweepSessionList drops the entries of sessions that expired before t (swept with them).
func (d *data) sweepSessionList(t time.Time) {
	for tenant, m := range d.sessionList {
		sweep(m, t, func(e sidEntry) time.Time { return e.expiry })
		if len(m) == 0 {
			delete(d.sessionList, tenant)
		}
	}
}

// ListSessions implements token.Store. It sorts the tenant's index keys (a memory store holds few).
func (s *Store) ListSessions(ctx context.Context, q token.SessionQuery) (token.SessionPage, error) {
	limit, err := token.CheckSessionQuery(q)
	if err != nil {
		return token.SessionPage{}, err
	}
	prefix := token.SessionListPrefix(q)
	var page token.SessionPage
	err = s.read(ctx, func(d *data) error {
		m := d.sessionList[q.TenantID]
		keys := make([]string, 0, len(m))
		for k := range m {
			if strings.HasPrefix(k, prefix) && k > q.After {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for i, k := range keys {
			if len(page.Sessions) == limit {
				page.Next = keys[i-1]
				break
			}
			e := m[k]
			r, ok := d.sessions[e.id]
			if !ok || r.tenantID != q.TenantID {
				continue
			}
			if rk, ok := token.SessionListKey(r.tenantID, r.userID, r.sid); !ok || rk != k {
				continue
			}
			page.Sessions = append(page.Sessions, r.domain(e.id))
		}
		return nil
	})
	return page, err
}
