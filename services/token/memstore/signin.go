package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// PutInteraction implements token.Store.
func (s *Store) PutInteraction(ctx context.Context, i token.Interaction) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(i.ID); err != nil {
		return err
	}
	rec := interactionToRec(i)
	return s.write(ctx, func(d *data) error {
		d.interactions[string(i.ID)] = rec
		return nil
	})
}

// Interaction implements token.Store.
func (s *Store) Interaction(ctx context.Context, id []byte) (token.Interaction, error) {
	var out token.Interaction
	err := s.read(ctx, func(d *data) error {
		r, ok := d.interactions[string(id)]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain(string(id))
		return nil
	})
	return out, err
}

// DeleteInteraction implements token.Store.
func (s *Store) DeleteInteraction(ctx context.Context, id []byte) error {
	return s.write(ctx, func(d *data) error {
		delete(d.interactions, string(id))
		return nil
	})
}

// putSID points sid at the session under id (no entry for an empty or oversized sid).
func (d *data) putSID(sid, id string, exp time.Time) {
	if sid == "" || token.ValidKey([]byte(sid)) != nil {
		return
	}
	d.sids[sid] = sidEntry{id: id, expiry: exp}
	d.putListEntry(id)
}

// dropSID deletes the index entry of the session stored under id, if there is one and it still points at id.
func (d *data) dropSID(id string) {
	old, ok := d.sessions[id]
	if !ok || old.sid == "" {
		return
	}
	d.dropListEntry(id, old)
	if e, ok := d.sids[old.sid]; ok && e.id == id {
		delete(d.sids, old.sid)
	}
}

// PutSession implements token.Store. The session and its SID index entry change together.
func (s *Store) PutSession(ctx context.Context, se token.Session) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(se.ID); err != nil {
		return err
	}
	rec, id := sessionToRec(se), string(se.ID)
	return s.write(ctx, func(d *data) error {
		d.dropSID(id)
		d.sessions[id] = rec
		d.putSID(rec.sid, id, rec.expiry)
		return nil
	})
}

// Session implements token.Store.
func (s *Store) Session(ctx context.Context, id []byte) (token.Session, error) {
	var out token.Session
	err := s.read(ctx, func(d *data) error {
		r, ok := d.sessions[string(id)]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain(string(id))
		return nil
	})
	return out, err
}

// SessionBySID implements token.Store through the SID index.
func (s *Store) SessionBySID(ctx context.Context, sid string) (token.Session, error) {
	var out token.Session
	err := s.read(ctx, func(d *data) error {
		e, ok := d.sids[sid]
		if !ok {
			return token.ErrNotFound
		}
		r, ok := d.sessions[e.id]
		if !ok || r.sid != sid {
			return token.ErrNotFound
		}
		out = r.domain(e.id)
		return nil
	})
	if err != nil {
		return token.Session{}, err
	}
	return out, nil
}

// UpdateSession implements token.Store. update runs once.
func (s *Store) UpdateSession(ctx context.Context, id []byte, update func(token.Session) (token.Session, error)) (token.Session, error) {
	var out token.Session
	err := s.write(ctx, func(d *data) error {
		r, ok := d.sessions[string(id)]
		if !ok {
			return token.ErrNotFound
		}
		next, err := update(r.domain(string(id)))
		if err != nil {
			return err
		}
		next.ID = []byte(string(id))
		rec := sessionToRec(next)
		d.dropSID(string(id))
		d.sessions[string(id)] = rec
		d.putSID(rec.sid, string(id), rec.expiry)
		out = next
		return nil
	})
	if err != nil {
		return token.Session{}, err
	}
	return out, nil
}

// DeleteSession implements token.Store.
func (s *Store) DeleteSession(ctx context.Context, id []byte) (token.Session, error) {
	var out token.Session
	err := s.write(ctx, func(d *data) error {
		r, ok := d.sessions[string(id)]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain(string(id))
		d.dropSID(string(id))
		delete(d.sessions, string(id))
		return nil
	})
	return out, err
}

// PutCode implements token.Store.
func (s *Store) PutCode(ctx context.Context, c token.AuthCode) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(c.Hash); err != nil {
		return err
	}
	rec := codeToRec(c)
	return s.write(ctx, func(d *data) error {
		d.codes[string(c.Hash)] = rec
		return nil
	})
}

// ConsumeCode implements token.Store. It answers the code as it was before this call (Used unset when it
// consumed it).
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, check func(token.AuthCode) error) (token.AuthCode, error) {
	var out token.AuthCode
	err := s.write(ctx, func(d *data) error {
		r, ok := d.codes[string(hash)]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain(string(hash))
		if r.used {
			return token.ErrUsed
		}
		if err := check(r.domain(string(hash))); err != nil {
			return err
		}
		used := *r
		used.used = true
		d.codes[string(hash)] = &used
		return nil
	})
	return out, err
}

// PutRefreshToken implements token.Store.
func (s *Store) PutRefreshToken(ctx context.Context, t token.RefreshToken) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(t.Hash); err != nil {
		return err
	}
	rec := refreshToRec(t)
	return s.write(ctx, func(d *data) error {
		d.refresh[string(t.Hash)] = rec
		return nil
	})
}

// RotateRefreshTokenGrace implements token.Store. rotate runs once.
func (s *Store) RotateRefreshTokenGrace(ctx context.Context, hash []byte, g token.RefreshGrace, rotate func(token.RefreshToken) (token.RefreshToken, error)) (token.RefreshRotated, error) {
	var out token.RefreshRotated
	err := s.write(ctx, func(d *data) error {
		r, ok := d.refresh[string(hash)]
		if !ok {
			return token.ErrNotFound
		}
		old := r.domain(string(hash))
		if r.used {
			return d.replay(r, old, g.Now, rotate, &out)
		}
		next, err := rotate(old)
		if err != nil {
			return err
		}
		if err := token.ValidKey(next.Hash); err != nil || bytes.Equal(next.Hash, hash) || d.refresh[string(next.Hash)] != nil {
			return errors.New("token store: rotated refresh token needs a new, unused key")
		}
		next.Hash, next.Used, next.Predecessor = bytes.Clone(next.Hash), false, bytes.Clone(hash)
		next.Successor, next.SealedSuccessor, next.GraceUntil = nil, nil, time.Time{}
		nextRec := refreshToRec(next)
		usedRec := *r
		usedRec.used, usedRec.successor = true, bytes.Clone(next.Hash)
		usedRec.sealedSuccessor, usedRec.graceUntil = omitted(g.Sealed), wall(g.Now.Add(g.Window))
		// Nothing can fail from here on.
		d.refresh[string(next.Hash)] = nextRec
		d.refresh[string(hash)] = &usedRec
		d.dropSealedSuccessor(string(r.predecessor))
		out = token.RefreshRotated{Token: next, Sealed: bytes.Clone(g.Sealed)}
		return nil
	})
	return out, err
}

// replay answers the used token r (old, in domain form): with its successor when r is within its grace
// window, the successor is still stored and unused, and rotate accepts old; else token.ErrUsed with old in
// out.Token. Nothing changes.
func (d *data) replay(r *refreshRec, old token.RefreshToken, now time.Time, rotate func(token.RefreshToken) (token.RefreshToken, error), out *token.RefreshRotated) error {
	out.Token = old
	if len(r.successor) == 0 || len(r.sealedSuccessor) == 0 || !now.Before(r.graceUntil) {
		return token.ErrUsed
	}
	next, ok := d.refresh[string(r.successor)]
	if !ok || next.used {
		return token.ErrUsed
	}
	if _, err := rotate(r.domain(string(old.Hash))); err != nil {
		out.Token = token.RefreshToken{}
		return err
	}
	*out = token.RefreshRotated{Token: next.domain(string(r.successor)), Sealed: bytes.Clone(r.sealedSuccessor), Replayed: true}
	return nil
}

// dropSealedSuccessor forgets the sealed successor kept on the token under hash (if any): once that
// successor has rotated on, the token can no longer be replayed.
func (d *data) dropSealedSuccessor(hash string) {
	r, ok := d.refresh[hash]
	if hash == "" || !ok || r.sealedSuccessor == nil {
		return
	}
	dropped := *r
	dropped.sealedSuccessor = nil
	d.refresh[hash] = &dropped
}

// RefreshToken implements token.Store.
func (s *Store) RefreshToken(ctx context.Context, hash []byte) (token.RefreshToken, error) {
	var out token.RefreshToken
	err := s.read(ctx, func(d *data) error {
		r, ok := d.refresh[string(hash)]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain(string(hash))
		return nil
	})
	return out, err
}

// PutConsent implements token.Store.
func (s *Store) PutConsent(ctx context.Context, c token.Consent) error {
	if c.TenantID == "" || c.UserID == "" || c.ClientID == "" {
		return errors.New("token store: consent needs tenant, user and client")
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	key := consentKey(c.TenantID, c.UserID, c.ClientID)
	if err := token.ValidKey([]byte(key)); err != nil {
		return err
	}
	rec := consentToRec(c)
	return s.write(ctx, func(d *data) error {
		d.consents[key] = rec
		return nil
	})
}

// Consent implements token.Store.
func (s *Store) Consent(ctx context.Context, tenantID, userID, clientID string) (token.Consent, error) {
	var out token.Consent
	err := s.read(ctx, func(d *data) error {
		r, ok := d.consents[consentKey(tenantID, userID, clientID)]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain()
		return nil
	})
	return out, err
}

// LoginFailures implements token.Store.
func (s *Store) LoginFailures(ctx context.Context, key string) (token.LoginFailures, error) {
	var out token.LoginFailures
	err := s.read(ctx, func(d *data) error {
		r, ok := d.failures[key]
		if !ok {
			return token.ErrNotFound
		}
		out = r.domain(key)
		return nil
	})
	return out, err
}

// UpdateLoginFailureSet implements token.Store. update runs once; all its results are stored, or none.
func (s *Store) UpdateLoginFailureSet(ctx context.Context, keys []string, update func([]token.LoginFailures) ([]token.LoginFailures, error)) ([]token.LoginFailures, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := token.ValidLoginFailureKeys(keys); err != nil {
		return nil, err
	}
	var out []token.LoginFailures
	err := s.write(ctx, func(d *data) error {
		old := make([]token.LoginFailures, len(keys))
		for i, k := range keys {
			if r, ok := d.failures[k]; ok {
				old[i] = r.domain(k)
			} else {
				old[i] = token.LoginFailures{Key: k}
			}
		}
		next, err := update(old)
		if err != nil {
			return err
		}
		if len(next) != len(keys) {
			return fmt.Errorf("token store: login failure update returned %d records for %d keys", len(next), len(keys))
		}
		out = slices.Clone(next)
		for i, k := range keys {
			out[i].Key = k
			if out[i].Count == 0 && out[i].LockedUntil.IsZero() {
				delete(d.failures, k)
				continue
			}
			d.failures[k] = failuresToRec(out[i])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SweepExpired implements token.Store. The SID index entries of swept sessions go with them, uncounted.
func (s *Store) SweepExpired(ctx context.Context, t time.Time) (int, error) {
	n := 0
	err := s.write(ctx, func(d *data) error {
		n = sweep(d.interactions, t, func(r *interactionRec) time.Time { return r.expiry }) +
			sweep(d.sessions, t, func(r *sessionRec) time.Time { return r.expiry }) +
			sweep(d.codes, t, func(r *codeRec) time.Time { return r.expiry }) +
			sweep(d.refresh, t, func(r *refreshRec) time.Time { return r.expiry }) +
			sweep(d.consents, t, func(r *consentRec) time.Time { return r.expiry }) +
			sweep(d.failures, t, func(r *failuresRec) time.Time { return r.expiry }) +
			sweep(d.assertions, t, func(e time.Time) time.Time { return e }) +
			d.sweepDevices(t)
		sweep(d.sids, t, func(e sidEntry) time.Time { return e.expiry })
		d.sweepSessionList(t)
		return nil
	})
	return n, err
}

// sweep deletes the records of m whose expiry is before t and says how many it deleted.
func sweep[V any](m map[string]V, t time.Time, exp func(V) time.Time) int {
	n := 0
	for k, v := range m {
		if exp(v).Before(t) {
			delete(m, k)
			n++
		}
	}
	return n
}
