package bboltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// encodeRecord is the stored form of a sign-in record: 8-byte big-endian expiry (Unix seconds), then JSON.
func encodeRecord(exp time.Time, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 8, 8+len(b))
	binary.BigEndian.PutUint64(out, uint64(exp.Unix()))
	return append(out, b...), nil
}

// decodeRecord reads a record made by encodeRecord into v (json.Unmarshal copies out of the mmap).
func decodeRecord(raw []byte, v any) (time.Time, error) {
	if len(raw) < 8 {
		return time.Time{}, errors.New("token store: truncated record")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	if err := json.Unmarshal(raw[8:], v); err != nil {
		return time.Time{}, fmt.Errorf("token store: record: %w", err)
	}
	return exp, nil
}

// getIn decodes the record at key of b into v and returns its expiry; token.ErrNotFound when absent.
func getIn(b *bolt.Bucket, key []byte, v any) (time.Time, error) {
	raw := b.Get(key)
	if raw == nil {
		return time.Time{}, token.ErrNotFound
	}
	return decodeRecord(raw, v)
}

// putIn encodes v with its expiry and stores it at key of b.
func putIn(b *bolt.Bucket, key []byte, exp time.Time, v any) error {
	raw, err := encodeRecord(exp, v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// put stores one record; concurrent puts share fsyncs (bolt.DB.Batch; the function is idempotent).
func (s *Store) put(ctx context.Context, bucket, key []byte, exp time.Time, v any) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(key); err != nil {
		return err
	}
	raw, err := encodeRecord(exp, v)
	if err != nil {
		return err
	}
	key = bytes.Clone(key)
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, raw) })
}

func (s *Store) get(ctx context.Context, bucket, key []byte, v any) (time.Time, error) {
	if err := s.check(ctx); err != nil {
		return time.Time{}, err
	}
	var exp time.Time
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		var err error
		exp, err = getIn(tx.Bucket(bucket), key, v)
		return err
	})
	return exp, err
}

func (s *Store) del(ctx context.Context, bucket, key []byte) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	key = bytes.Clone(key)
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(key) })
}

// PutInteraction implements token.Store.
func (s *Store) PutInteraction(ctx context.Context, i token.Interaction) error {
	return s.put(ctx, bucketInteractions, i.ID, i.Expiry, interactionToRecord(i))
}

// Interaction implements token.Store.
func (s *Store) Interaction(ctx context.Context, id []byte) (token.Interaction, error) {
	var r interactionRecord
	exp, err := s.get(ctx, bucketInteractions, id, &r)
	if err != nil {
		return token.Interaction{}, err
	}
	return r.domain(bytes.Clone(id), exp), nil
}

// DeleteInteraction implements token.Store.
func (s *Store) DeleteInteraction(ctx context.Context, id []byte) error {
	return s.del(ctx, bucketInteractions, id)
}

// PutSession implements token.Store. The session and its SID index entry are written in one transaction.
func (s *Store) PutSession(ctx context.Context, se token.Session) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(se.ID); err != nil {
		return err
	}
	raw, err := encodeRecord(se.Expiry, sessionToRecord(se))
	if err != nil {
		return err
	}
	id := bytes.Clone(se.ID)
	return s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if err := dropSIDIndex(tx, b.Get(id), id); err != nil {
			return err
		}
		if err := b.Put(id, raw); err != nil {
			return err
		}
		if err := putListIndex(tx, se.TenantID, se.UserID, se.SID, id, se.Expiry); err != nil {
			return err
		}
		return putSIDIndex(tx, se.SID, id, se.Expiry)
	})
}

// putSIDIndex points sid at the session stored under id (no entry for an empty or oversized sid).
func putSIDIndex(tx *bolt.Tx, sid string, id []byte, exp time.Time) error {
	if sid == "" || token.ValidKey([]byte(sid)) != nil {
		return nil
	}
	v := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(v, uint64(exp.Unix()))
	return tx.Bucket(bucketSessionSIDs).Put([]byte(sid), append(v, id...))
}

// dropSIDIndex deletes the SID index entry of the stored session record old (nil: none) under id, if the
// entry still points at id.
func dropSIDIndex(tx *bolt.Tx, old, id []byte) error {
	if old == nil {
		return nil
	}
	var se sessionRecord
	if _, err := decodeRecord(old, &se); err != nil || se.SID == "" || token.ValidKey([]byte(se.SID)) != nil {
		return nil // an undecodable record has no usable index entry
	}
	if err := dropListIndex(tx, se, id); err != nil {
		return err
	}
	b := tx.Bucket(bucketSessionSIDs)
	if v := b.Get([]byte(se.SID)); len(v) >= 8 && bytes.Equal(v[8:], id) {
		return b.Delete([]byte(se.SID))
	}
	return nil
}

// SessionBySID implements token.Store through the SID index.
func (s *Store) SessionBySID(ctx context.Context, sid string) (token.Session, error) {
	if err := s.check(ctx); err != nil {
		return token.Session{}, err
	}
	if sid == "" || token.ValidKey([]byte(sid)) != nil {
		return token.Session{}, token.ErrNotFound
	}
	var se token.Session
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessionSIDs).Get([]byte(sid))
		if len(v) <= 8 {
			return token.ErrNotFound
		}
		id := bytes.Clone(v[8:])
		var r sessionRecord
		exp, err := getIn(tx.Bucket(bucketSessions), id, &r)
		if err != nil {
			return err
		}
		if r.SID != sid {
			return token.ErrNotFound
		}
		se = r.domain(id, exp)
		return nil
	})
	if err != nil {
		return token.Session{}, err
	}
	return se, nil
}

// Session implements token.Store.
func (s *Store) Session(ctx context.Context, id []byte) (token.Session, error) {
	var r sessionRecord
	exp, err := s.get(ctx, bucketSessions, id, &r)
	if err != nil {
		return token.Session{}, err
	}
	return r.domain(bytes.Clone(id), exp), nil
}

// UpdateSession implements token.Store.
func (s *Store) UpdateSession(ctx context.Context, id []byte, update func(token.Session) (token.Session, error)) (token.Session, error) {
	if err := s.check(ctx); err != nil {
		return token.Session{}, err
	}
	var out token.Session
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var r sessionRecord
		exp, err := getIn(b, id, &r)
		if err != nil {
			return err
		}
		old := r.domain(bytes.Clone(id), exp)
		next, err := update(old)
		if err != nil {
			return err
		}
		next.ID = old.ID
		out = next
		if err := dropSIDIndex(tx, b.Get(id), id); err != nil {
			return err
		}
		if err := putIn(b, id, next.Expiry, sessionToRecord(next)); err != nil {
			return err
		}
		if err := putListIndex(tx, next.TenantID, next.UserID, next.SID, id, next.Expiry); err != nil {
			return err
		}
		return putSIDIndex(tx, next.SID, id, next.Expiry)
	})
	return out, err
}

// DeleteSession implements token.Store.
func (s *Store) DeleteSession(ctx context.Context, id []byte) (token.Session, error) {
	if err := s.check(ctx); err != nil {
		return token.Session{}, err
	}
	var out token.Session
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var r sessionRecord
		exp, err := getIn(b, id, &r)
		if err != nil {
			return err
		}
		out = r.domain(bytes.Clone(id), exp)
		if err := dropSIDIndex(tx, b.Get(id), id); err != nil {
			return err
		}
		return b.Delete(id)
	})
	return out, err
}

// PutCode implements token.Store.
func (s *Store) PutCode(ctx context.Context, c token.AuthCode) error {
	return s.put(ctx, bucketCodes, c.Hash, c.Expiry, codeToRecord(c))
}

// ConsumeCode implements token.Store.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, check func(token.AuthCode) error) (token.AuthCode, error) {
	if err := s.check(ctx); err != nil {
		return token.AuthCode{}, err
	}
	var out token.AuthCode
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCodes)
		var r codeRecord
		exp, err := getIn(b, hash, &r)
		if err != nil {
			return err
		}
		c := r.domain(bytes.Clone(hash), exp)
		out = c
		if c.Used {
			return token.ErrUsed
		}
		if err := check(c); err != nil {
			return err
		}
		c.Used = true
		return putIn(b, hash, c.Expiry, codeToRecord(c))
	})
	return out, err
}

// PutRefreshToken implements token.Store.
func (s *Store) PutRefreshToken(ctx context.Context, t token.RefreshToken) error {
	return s.put(ctx, bucketRefresh, t.Hash, t.Expiry, refreshToRecord(t))
}

// RotateRefreshTokenGrace implements token.Store.
func (s *Store) RotateRefreshTokenGrace(ctx context.Context, hash []byte, g token.RefreshGrace, rotate func(token.RefreshToken) (token.RefreshToken, error)) (token.RefreshRotated, error) {
	if err := s.check(ctx); err != nil {
		return token.RefreshRotated{}, err
	}
	var out token.RefreshRotated
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		out = token.RefreshRotated{}
		b := tx.Bucket(bucketRefresh)
		old, err := getRefresh(b, bytes.Clone(hash))
		if err != nil {
			return err
		}
		if old.Used {
			return replayIn(b, old, g.Now, rotate, &out)
		}
		next, err := rotate(old)
		if err != nil {
			return err
		}
		if err := token.ValidKey(next.Hash); err != nil || bytes.Equal(next.Hash, hash) || b.Get(next.Hash) != nil {
			return errors.New("token store: rotated refresh token needs a new, unused key")
		}
		next.Hash, next.Used, next.Predecessor = bytes.Clone(next.Hash), false, old.Hash
		next.Successor, next.SealedSuccessor, next.GraceUntil = nil, nil, time.Time{}
		if err := putIn(b, next.Hash, next.Expiry, refreshToRecord(next)); err != nil {
			return err
		}
		pred := old.Predecessor
		old.Used, old.Successor, old.SealedSuccessor, old.GraceUntil = true, next.Hash, bytes.Clone(g.Sealed), g.Now.Add(g.Window)
		if err := putIn(b, hash, old.Expiry, refreshToRecord(old)); err != nil {
			return err
		}
		if err := dropSealedSuccessor(b, pred); err != nil {
			return err
		}
		out = token.RefreshRotated{Token: next, Sealed: old.SealedSuccessor}
		return nil
	})
	return out, err
}

// replayIn answers a used token old: with its successor when old is within its grace window and the
// successor is still unused and rotate accepts old; else token.ErrUsed with old in out.Token.
func replayIn(b *bolt.Bucket, old token.RefreshToken, now time.Time, rotate func(token.RefreshToken) (token.RefreshToken, error), out *token.RefreshRotated) error {
	out.Token = old
	if len(old.Successor) == 0 || len(old.SealedSuccessor) == 0 || !now.Before(old.GraceUntil) {
		return token.ErrUsed
	}
	next, err := getRefresh(b, bytes.Clone(old.Successor))
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

// dropSealedSuccessor forgets the sealed successor kept on the token under hash (if any): once that
// successor has rotated on, the token can no longer be replayed.
func dropSealedSuccessor(b *bolt.Bucket, hash []byte) error {
	if len(hash) == 0 {
		return nil
	}
	t, err := getRefresh(b, bytes.Clone(hash))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil
	case err != nil:
		return err
	case t.SealedSuccessor == nil:
		return nil
	}
	t.SealedSuccessor = nil
	return putIn(b, t.Hash, t.Expiry, refreshToRecord(t))
}

// getRefresh reads the refresh token under hash (which the answer keeps as its Hash).
func getRefresh(b *bolt.Bucket, hash []byte) (token.RefreshToken, error) {
	var r refreshRecord
	exp, err := getIn(b, hash, &r)
	if err != nil {
		return token.RefreshToken{}, err
	}
	return r.domain(hash, exp), nil
}

// RefreshToken implements token.Store.
func (s *Store) RefreshToken(ctx context.Context, hash []byte) (token.RefreshToken, error) {
	var r refreshRecord
	exp, err := s.get(ctx, bucketRefresh, hash, &r)
	if err != nil {
		return token.RefreshToken{}, err
	}
	return r.domain(bytes.Clone(hash), exp), nil
}

func consentKey(tenantID, userID, clientID string) []byte {
	return boltdb.JoinKey(tenantID, userID, clientID)
}

// PutConsent implements token.Store.
func (s *Store) PutConsent(ctx context.Context, c token.Consent) error {
	if c.TenantID == "" || c.UserID == "" || c.ClientID == "" {
		return errors.New("token store: consent needs tenant, user and client")
	}
	return s.put(ctx, bucketConsents, consentKey(c.TenantID, c.UserID, c.ClientID), c.Expiry, consentToRecord(c))
}

// Consent implements token.Store.
func (s *Store) Consent(ctx context.Context, tenantID, userID, clientID string) (token.Consent, error) {
	var r consentRecord
	exp, err := s.get(ctx, bucketConsents, consentKey(tenantID, userID, clientID), &r)
	if err != nil {
		return token.Consent{}, err
	}
	return r.domain(exp), nil
}

// LoginFailures implements token.Store.
func (s *Store) LoginFailures(ctx context.Context, key string) (token.LoginFailures, error) {
	var r failuresRecord
	exp, err := s.get(ctx, bucketLoginFailures, []byte(key), &r)
	if err != nil {
		return token.LoginFailures{}, err
	}
	return r.domain(key, exp), nil
}

// SweepExpired implements token.Store.
func (s *Store) SweepExpired(ctx context.Context, t time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	// The sweep runs every minute: when nothing has expired, a read transaction answers, with no write and
	// no fsync.
	if expired, err := s.anyExpired(ctx, t); err != nil || !expired {
		return 0, err
	}
	n := 0
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		n = 0
		for _, name := range expiringBuckets {
			b := tx.Bucket(name)
			var expired [][]byte
			err := b.ForEach(func(k, v []byte) error {
				if len(v) < 8 || time.Unix(int64(binary.BigEndian.Uint64(v[:8])), 0).Before(t) {
					expired = append(expired, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range expired {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			if !bytes.Equal(name, bucketSessionSIDs) && !bytes.Equal(name, bucketSessionList) { // index entries are not records of their own
				n += len(expired)
			}
		}
		return nil
	})
	return n, err
}

// anyExpired reports whether some record of an expiring bucket has expired before t.
func (s *Store) anyExpired(ctx context.Context, t time.Time) (bool, error) {
	found := false
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		for _, name := range expiringBuckets {
			c := tx.Bucket(name).Cursor()
			for k, v := c.First(); k != nil && !found; k, v = c.Next() {
				found = len(v) < 8 || time.Unix(int64(binary.BigEndian.Uint64(v[:8])), 0).Before(t)
			}
		}
		return nil
	})
	return found, err
}
