package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/token"
)

// The kinds of sign-in record (the <kind> part of their keys).
const (
	kindInteraction = "in"
	kindSession     = "se"
	kindCode        = "co"
	kindRefresh     = "rt"
	kindConsent     = "cn"
	kindFailures    = "lf"
)

func (s *Store) recKey(kind string, key []byte) string { return s.p + "s/" + kind + "/" + string(key) }

func (s *Store) idxKey(kind string, key []byte, exp time.Time) string {
	return s.p + "x/s/" + signInEntry(kind, key, exp)
}

func (s *Store) sidKey(sid string) string { return s.p + "s/sid/" + sid }

// signInEntry is an entry of the sign-in records' expiry index after its prefix: <exp>/<kind>/<key>.
func signInEntry(kind string, key []byte, exp time.Time) string {
	return expKey(exp) + "/" + kind + "/" + string(key)
}

// parseSignInEntry reverses signInEntry; false for an entry it does not make (a malformed expiry, an
// unknown kind, an invalid key).
func parseSignInEntry(entry []byte) (exp int64, kind string, key []byte, ok bool) {
	if len(entry) < 16+1+2+1 || entry[16] != '/' || entry[19] != '/' {
		return 0, "", nil, false
	}
	exp, ok = parseExpKey(entry[:16])
	kind, key = string(entry[17:19]), entry[20:]
	switch kind {
	case kindInteraction, kindSession, kindCode, kindRefresh, kindConsent, kindFailures, kindAssertion, kindDevice, kindDeviceUser:
	default:
		return 0, "", nil, false
	}
	if !ok || token.ValidKey(key) != nil {
		return 0, "", nil, false
	}
	return exp, kind, key, true
}

// putOps stores rec under kind/key with its expiry index entry.
func (s *Store) putOps(kind string, key []byte, exp time.Time, rec any) ([]clientv3.Op, error) {
	v, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return []clientv3.Op{clientv3.OpPut(s.recKey(kind, key), string(v)), clientv3.OpPut(s.idxKey(kind, key, exp), "")}, nil
}

// moveOps are putOps plus the deletion of the record's previous index entry when its expiry changed.
func (s *Store) moveOps(kind string, key []byte, oldExp, exp time.Time, rec any) ([]clientv3.Op, error) {
	ops, err := s.putOps(kind, key, exp, rec)
	if err != nil {
		return nil, err
	}
	if expKey(oldExp) != expKey(exp) {
		ops = append(ops, clientv3.OpDelete(s.idxKey(kind, key, oldExp)))
	}
	return ops, nil
}

// put stores one record (a plain write: no read, no compare).
func (s *Store) put(ctx context.Context, kind string, key []byte, exp time.Time, rec any) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(key); err != nil {
		return err
	}
	ops, err := s.putOps(kind, key, exp, rec)
	if err != nil {
		return err
	}
	_, err = s.commit(ctx, nil, ops...)
	return err
}

// read decodes the record under kind/key into rec and returns the response (for its mod revision);
// token.ErrNotFound when absent.
func (s *Store) read(ctx context.Context, kind string, key []byte, rec any, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if token.ValidKey(key) != nil {
		return nil, token.ErrNotFound
	}
	resp, err := s.get(ctx, s.recKey(kind, key), opts...)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return resp, token.ErrNotFound
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, rec); err != nil {
		return nil, fmt.Errorf("token store: record: %w", err)
	}
	return resp, nil
}

// unchanged guards a compare-and-swap: the key's mod revision is still the one read.
func unchanged(key string, resp *clientv3.GetResponse) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(key), "=", modRev(resp))
}

// PutInteraction implements token.Store.
func (s *Store) PutInteraction(ctx context.Context, i token.Interaction) error {
	return s.put(ctx, kindInteraction, i.ID, i.Expiry, interactionToRecord(i))
}

// Interaction implements token.Store.
func (s *Store) Interaction(ctx context.Context, id []byte) (token.Interaction, error) {
	var r interactionRecord
	if _, err := s.read(ctx, kindInteraction, id, &r); err != nil {
		return token.Interaction{}, err
	}
	return r.domain(bytes.Clone(id)), nil
}

// DeleteInteraction implements token.Store. Its expiry index entry goes at its time (SweepExpired).
func (s *Store) DeleteInteraction(ctx context.Context, id []byte) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if token.ValidKey(id) != nil {
		return nil
	}
	_, err := s.commit(ctx, nil, clientv3.OpDelete(s.recKey(kindInteraction, id)))
	return err
}

// dropSIDOps deletes the SID index entry of sid if it still names the session id.
func (s *Store) dropSIDOps(sid string, id []byte) []clientv3.Op {
	if sid == "" || token.ValidKey([]byte(sid)) != nil {
		return nil
	}
	k := s.sidKey(sid)
	return []clientv3.Op{clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(k), "=", string(id))}, []clientv3.Op{clientv3.OpDelete(k)}, nil)}
}

// sessionOps replace the session old (found is false when there is none) under id with next, moving its
// expiry index entry and its SID index entry.
func (s *Store) sessionOps(id []byte, old token.Session, found bool, next token.Session) ([]clientv3.Op, error) {
	oldExp := next.Expiry
	if found {
		oldExp = old.Expiry
	}
	ops, err := s.moveOps(kindSession, id, oldExp, next.Expiry, sessionToRecord(next))
	if err != nil {
		return nil, err
	}
	if found && old.SID != next.SID {
		ops = append(ops, s.dropSIDOps(old.SID, id)...)
	}
	if next.SID != "" && token.ValidKey([]byte(next.SID)) == nil {
		ops = append(ops, clientv3.OpPut(s.sidKey(next.SID), string(id)))
	}
	return append(ops, s.moveListOps(id, old, found, next)...), nil
}

// PutSession implements token.Store: the session and its SID index entry in one transaction.
func (s *Store) PutSession(ctx context.Context, se token.Session) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(se.ID); err != nil {
		return err
	}
	id := bytes.Clone(se.ID)
	return retry(ctx, func() (bool, error) {
		var r sessionRecord
		resp, err := s.read(ctx, kindSession, id, &r)
		if err != nil && !errors.Is(err, token.ErrNotFound) {
			return false, err
		}
		ops, err := s.sessionOps(id, r.domain(id), err == nil, se)
		if err != nil {
			return false, err
		}
		tr, err := s.commit(ctx, []clientv3.Cmp{unchanged(s.recKey(kindSession, id), resp)}, ops...)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
}

// Session implements token.Store.
func (s *Store) Session(ctx context.Context, id []byte) (token.Session, error) {
	var r sessionRecord
	if _, err := s.read(ctx, kindSession, id, &r); err != nil {
		return token.Session{}, err
	}
	return r.domain(bytes.Clone(id)), nil
}

// UpdateSession implements token.Store with a compare-and-swap: update runs again with the session a
// concurrent writer left.
func (s *Store) UpdateSession(ctx context.Context, id []byte, update func(token.Session) (token.Session, error)) (token.Session, error) {
	if err := s.check(ctx); err != nil {
		return token.Session{}, err
	}
	var out token.Session
	err := retry(ctx, func() (bool, error) {
		var r sessionRecord
		resp, err := s.read(ctx, kindSession, id, &r)
		if err != nil {
			return false, err
		}
		old := r.domain(bytes.Clone(id))
		next, err := update(old)
		if err != nil {
			return false, err
		}
		next.ID = old.ID
		ops, err := s.sessionOps(old.ID, old, true, next)
		if err != nil {
			return false, err
		}
		tr, err := s.commit(ctx, []clientv3.Cmp{unchanged(s.recKey(kindSession, id), resp)}, ops...)
		if err != nil {
			return false, err
		}
		out = next
		return tr.Succeeded, nil
	})
	if err != nil {
		return token.Session{}, err
	}
	return out, nil
}

// deleteSessionOps delete the stored session se (with its key, expiry and SID index entries).
func (s *Store) deleteSessionOps(se token.Session) []clientv3.Op {
	ops := append([]clientv3.Op{clientv3.OpDelete(s.recKey(kindSession, se.ID)), clientv3.OpDelete(s.idxKey(kindSession, se.ID, se.Expiry))},
		s.dropSIDOps(se.SID, se.ID)...)
	return append(ops, s.dropListOps(se, se.ID)...)
}

// DeleteSession implements token.Store.
func (s *Store) DeleteSession(ctx context.Context, id []byte) (token.Session, error) {
	if err := s.check(ctx); err != nil {
		return token.Session{}, err
	}
	var out token.Session
	err := retry(ctx, func() (bool, error) {
		var r sessionRecord
		resp, err := s.read(ctx, kindSession, id, &r)
		if err != nil {
			return false, err
		}
		out = r.domain(bytes.Clone(id))
		tr, err := s.commit(ctx, []clientv3.Cmp{unchanged(s.recKey(kindSession, id), resp)}, s.deleteSessionOps(out)...)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
	if err != nil {
		return token.Session{}, err
	}
	return out, nil
}

// SessionBySID implements token.Store through the SID index: the entry and the session are read at one
// revision.
func (s *Store) SessionBySID(ctx context.Context, sid string) (token.Session, error) {
	if err := s.check(ctx); err != nil {
		return token.Session{}, err
	}
	if sid == "" || token.ValidKey([]byte(sid)) != nil {
		return token.Session{}, token.ErrNotFound
	}
	resp, err := s.get(ctx, s.sidKey(sid))
	if err != nil {
		return token.Session{}, err
	}
	if len(resp.Kvs) == 0 || len(resp.Kvs[0].Value) == 0 {
		return token.Session{}, token.ErrNotFound
	}
	id := bytes.Clone(resp.Kvs[0].Value)
	var r sessionRecord
	if _, err := s.read(ctx, kindSession, id, &r, clientv3.WithRev(resp.Header.Revision)); err != nil {
		return token.Session{}, err
	}
	if r.SID != sid {
		return token.Session{}, token.ErrNotFound
	}
	return r.domain(id), nil
}

// PutCode implements token.Store.
func (s *Store) PutCode(ctx context.Context, c token.AuthCode) error {
	return s.put(ctx, kindCode, c.Hash, c.Expiry, codeToRecord(c))
}

// ConsumeCode implements token.Store with a compare-and-swap: of concurrent redemptions exactly one swaps;
// check may run more than once (again after a lost swap, which then finds the code used).
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, check func(token.AuthCode) error) (token.AuthCode, error) {
	if err := s.check(ctx); err != nil {
		return token.AuthCode{}, err
	}
	var out token.AuthCode
	err := retry(ctx, func() (bool, error) {
		var r codeRecord
		resp, err := s.read(ctx, kindCode, hash, &r)
		if err != nil {
			return false, err
		}
		c := r.domain(bytes.Clone(hash))
		out = c
		if c.Used {
			return false, token.ErrUsed
		}
		if err := check(c); err != nil {
			return false, err
		}
		c.Used = true
		ops, err := s.putOps(kindCode, hash, c.Expiry, codeToRecord(c))
		if err != nil {
			return false, err
		}
		tr, err := s.commit(ctx, []clientv3.Cmp{unchanged(s.recKey(kindCode, hash), resp)}, ops...)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
	return out, err
}

// PutRefreshToken implements token.Store.
func (s *Store) PutRefreshToken(ctx context.Context, t token.RefreshToken) error {
	return s.put(ctx, kindRefresh, t.Hash, t.Expiry, refreshToRecord(t))
}

// readRefresh reads the refresh token under hash, optionally at a revision.
func (s *Store) readRefresh(ctx context.Context, hash []byte, opts ...clientv3.OpOption) (token.RefreshToken, *clientv3.GetResponse, error) {
	var r refreshRecord
	resp, err := s.read(ctx, kindRefresh, hash, &r, opts...)
	if err != nil {
		return token.RefreshToken{}, resp, err
	}
	return r.domain(bytes.Clone(hash)), resp, nil
}

// RotateRefreshTokenGrace implements token.Store with a compare-and-swap over the old token, its successor's
// key (which must still be free) and its predecessor: of concurrent rotations exactly one swaps, and rotate
// may run more than once.
func (s *Store) RotateRefreshTokenGrace(ctx context.Context, hash []byte, g token.RefreshGrace, rotate func(token.RefreshToken) (token.RefreshToken, error)) (token.RefreshRotated, error) {
	if err := s.check(ctx); err != nil {
		return token.RefreshRotated{}, err
	}
	var out token.RefreshRotated
	err := retry(ctx, func() (bool, error) {
		out = token.RefreshRotated{}
		old, resp, err := s.readRefresh(ctx, hash)
		if err != nil {
			return false, err
		}
		at := clientv3.WithRev(resp.Header.Revision) // every further read sees the same revision
		if old.Used {
			// A replay writes nothing: its answer stands as read.
			return true, s.replay(ctx, old, g.Now, rotate, &out, at)
		}
		next, err := rotate(old)
		if err != nil {
			return false, err
		}
		if err := token.ValidKey(next.Hash); err != nil || bytes.Equal(next.Hash, hash) {
			return false, errors.New("token store: rotated refresh token needs a new, unused key")
		}
		next.Hash, next.Used, next.Predecessor = bytes.Clone(next.Hash), false, old.Hash
		next.Successor, next.SealedSuccessor, next.GraceUntil = nil, nil, time.Time{}
		nk := s.recKey(kindRefresh, next.Hash)
		taken, err := s.get(ctx, nk, at, clientv3.WithCountOnly())
		if err != nil {
			return false, err
		}
		if taken.Count > 0 {
			return false, errors.New("token store: rotated refresh token needs a new, unused key")
		}
		cmps := []clientv3.Cmp{unchanged(s.recKey(kindRefresh, hash), resp), clientv3.Compare(clientv3.ModRevision(nk), "=", 0)}
		ops, err := s.putOps(kindRefresh, next.Hash, next.Expiry, refreshToRecord(next))
		if err != nil {
			return false, err
		}
		pred := old.Predecessor
		old.Used, old.Successor, old.SealedSuccessor, old.GraceUntil = true, next.Hash, bytes.Clone(g.Sealed), g.Now.Add(g.Window)
		stored := old
		if bytes.Equal(pred, hash) {
			// A token stored as its own predecessor loses, as that predecessor, the successor it just got.
			stored.SealedSuccessor = nil
		}
		more, err := s.putOps(kindRefresh, hash, old.Expiry, refreshToRecord(stored))
		if err != nil {
			return false, err
		}
		ops = append(ops, more...)
		// The old token's predecessor can no longer be replayed: it loses its sealed successor.
		if len(pred) > 0 && token.ValidKey(pred) == nil && !bytes.Equal(pred, hash) {
			p, presp, err := s.readRefresh(ctx, pred, at)
			switch {
			case errors.Is(err, token.ErrNotFound):
			case err != nil:
				return false, err
			case p.SealedSuccessor != nil:
				p.SealedSuccessor = nil
				more, err := s.putOps(kindRefresh, pred, p.Expiry, refreshToRecord(p))
				if err != nil {
					return false, err
				}
				ops = append(ops, more...)
				cmps = append(cmps, unchanged(s.recKey(kindRefresh, pred), presp))
			}
		}
		tr, err := s.commit(ctx, cmps, ops...)
		if err != nil {
			return false, err
		}
		out = token.RefreshRotated{Token: next, Sealed: old.SealedSuccessor}
		return tr.Succeeded, nil
	})
	return out, err
}

// replay answers a used token old: with its successor when old is within its grace window and the
// successor is still unused and rotate accepts old; else token.ErrUsed with old in out.Token. Nothing is
// written.
func (s *Store) replay(ctx context.Context, old token.RefreshToken, now time.Time, rotate func(token.RefreshToken) (token.RefreshToken, error), out *token.RefreshRotated, at clientv3.OpOption) error {
	out.Token = old
	if len(old.Successor) == 0 || len(old.SealedSuccessor) == 0 || !now.Before(old.GraceUntil) {
		return token.ErrUsed
	}
	next, _, err := s.readRefresh(ctx, old.Successor, at)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return token.ErrUsed
	case err != nil:
		return err
	case next.Used:
		return token.ErrUsed
	}
	if _, err := rotate(old); err != nil {
		out.Token = token.RefreshToken{}
		return err
	}
	*out = token.RefreshRotated{Token: next, Sealed: bytes.Clone(old.SealedSuccessor), Replayed: true}
	return nil
}

// RefreshToken implements token.Store.
func (s *Store) RefreshToken(ctx context.Context, hash []byte) (token.RefreshToken, error) {
	t, _, err := s.readRefresh(ctx, hash)
	return t, err
}

func consentKey(tenantID, userID, clientID string) []byte {
	return []byte(strings.Join([]string{tenantID, userID, clientID}, "\x00"))
}

// PutConsent implements token.Store.
func (s *Store) PutConsent(ctx context.Context, c token.Consent) error {
	if c.TenantID == "" || c.UserID == "" || c.ClientID == "" {
		return errors.New("token store: consent needs tenant, user and client")
	}
	return s.put(ctx, kindConsent, consentKey(c.TenantID, c.UserID, c.ClientID), c.Expiry, consentToRecord(c))
}

// Consent implements token.Store.
func (s *Store) Consent(ctx context.Context, tenantID, userID, clientID string) (token.Consent, error) {
	var r consentRecord
	if _, err := s.read(ctx, kindConsent, consentKey(tenantID, userID, clientID), &r); err != nil {
		return token.Consent{}, err
	}
	return r.domain(), nil
}

// LoginFailures implements token.Store.
func (s *Store) LoginFailures(ctx context.Context, key string) (token.LoginFailures, error) {
	var r failuresRecord
	if _, err := s.read(ctx, kindFailures, []byte(key), &r); err != nil {
		return token.LoginFailures{}, err
	}
	return r.domain(key), nil
}

// maxFailureKeys bounds the keys of one UpdateLoginFailureSet: each costs up to three operations of its
// transaction, under etcd's default of 128.
const maxFailureKeys = 40

// UpdateLoginFailureSet implements token.Store: the records are read at one revision and written with a
// compare-and-swap on every one of them, so update runs again when a concurrent update got there first.
// At most maxFailureKeys keys.
func (s *Store) UpdateLoginFailureSet(ctx context.Context, keys []string, update func([]token.LoginFailures) ([]token.LoginFailures, error)) ([]token.LoginFailures, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := token.ValidLoginFailureKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) > maxFailureKeys {
		return nil, fmt.Errorf("token store: %d login failure keys in one update; at most %d", len(keys), maxFailureKeys)
	}
	var out []token.LoginFailures
	err := retry(ctx, func() (bool, error) {
		reads := make([]clientv3.Op, len(keys))
		for i, k := range keys {
			reads[i] = clientv3.OpGet(s.recKey(kindFailures, []byte(k)))
		}
		rr, err := s.commit(ctx, nil, reads...)
		if err != nil {
			return false, err
		}
		old := make([]token.LoginFailures, len(keys))
		cmps := make([]clientv3.Cmp, len(keys))
		found := make([]bool, len(keys))
		for i, k := range keys {
			resp := (*clientv3.GetResponse)(rr.Responses[i].GetResponseRange())
			cmps[i] = unchanged(s.recKey(kindFailures, []byte(k)), resp)
			old[i] = token.LoginFailures{Key: k}
			if len(resp.Kvs) > 0 {
				var r failuresRecord
				if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
					return false, fmt.Errorf("token store: record: %w", err)
				}
				old[i], found[i] = r.domain(k), true
			}
		}
		next, err := update(old)
		if err != nil {
			return false, err
		}
		if len(next) != len(keys) {
			return false, fmt.Errorf("token store: login failure update returned %d records for %d keys", len(next), len(keys))
		}
		var ops []clientv3.Op
		for i, k := range keys {
			next[i].Key = k
			if next[i].Count == 0 && next[i].LockedUntil.IsZero() {
				ops = append(ops, clientv3.OpDelete(s.recKey(kindFailures, []byte(k))))
				if found[i] {
					ops = append(ops, clientv3.OpDelete(s.idxKey(kindFailures, []byte(k), old[i].Expiry)))
				}
				continue
			}
			oldExp := next[i].Expiry
			if found[i] {
				oldExp = old[i].Expiry
			}
			more, err := s.moveOps(kindFailures, []byte(k), oldExp, next[i].Expiry, failuresToRecord(next[i]))
			if err != nil {
				return false, err
			}
			ops = append(ops, more...)
		}
		tr, err := s.commit(ctx, cmps, ops...)
		if err != nil {
			return false, err
		}
		out = next
		return tr.Succeeded, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// expiryOf reads the expiry of any stored sign-in record.
func expiryOf(v []byte) (time.Time, bool) {
	var r struct {
		Exp *int64 `json:"exp"`
	}
	if json.Unmarshal(v, &r) != nil || r.Exp == nil {
		return time.Time{}, false
	}
	return time.Unix(*r.Exp, 0), true
}

// SweepExpired implements token.Store through the expiry index: it reads only the entries due before t, and
// deletes each expired record with its index entries in its own guarded transaction (a record renewed
// meanwhile is kept).
func (s *Store) SweepExpired(ctx context.Context, t time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	sessions := s.p + "s/" + kindSession + "/"
	return s.sweepIndex(ctx, s.p+"x/s/", sweepUntil(t), func(entry []byte) (string, bool) {
		_, kind, key, ok := parseSignInEntry(entry)
		return s.recKey(kind, key), ok
	}, func(kv *mvccpb.KeyValue) bool {
		exp, ok := expiryOf(kv.Value)
		return !ok || exp.Before(t)
	}, func(kv *mvccpb.KeyValue) []clientv3.Op {
		k := string(kv.Key)
		if !strings.HasPrefix(k, sessions) {
			return nil
		}
		var r sessionRecord
		if json.Unmarshal(kv.Value, &r) != nil {
			return nil
		}
		id := kv.Key[len(sessions):]
		return append(s.dropSIDOps(r.SID, id), s.dropListOps(r.domain(id), id)...)
	})
}
