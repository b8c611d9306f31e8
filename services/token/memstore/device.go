package memstore

import (
	"bytes"
	"context"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// deviceData is the memory store's device authorizations (RFC 8628): the records by device code digest and
// the user code index, created on first use; the store's one mutex guards it.
type deviceData struct {
	codes map[string]token.DeviceCode // SHA-256(device code) → record (normalized, owned by the store)
	users map[string]deviceUserEntry  // user code digest → device code key
}

type deviceUserEntry struct {
	hash   string
	expiry time.Time
}

// devices returns d's device authorizations, creating them on first use. The caller holds d.mu for writing,
// or for reading when it only looks (a nil map reads as empty).
func (d *data) devices() *deviceData {
	if d.device == nil {
		d.device = &deviceData{codes: map[string]token.DeviceCode{}, users: map[string]deviceUserEntry{}}
	}
	return d.device
}

// normDevice is dc as the bbolt store gives it back: a copy, expiry in whole seconds, times without their
// monotonic reading, empty lists and byte strings nil.
func normDevice(dc token.DeviceCode) token.DeviceCode {
	dc = dc.Clone()
	dc.Expiry = expiry(dc.Expiry)
	dc.AuthTime = wall(dc.AuthTime)
	dc.Hash, dc.UserCode = omitted(dc.Hash), omitted(dc.UserCode)
	dc.Scopes, dc.Resources, dc.AMR = omittedList(dc.Scopes), omittedList(dc.Resources), omittedList(dc.AMR)
	return dc
}

// PutDeviceCode implements token.Store.
func (s *Store) PutDeviceCode(ctx context.Context, dc token.DeviceCode, now time.Time) error {
	if err := token.ValidKey(dc.Hash); err != nil {
		return err
	}
	if err := token.ValidKey(dc.UserCode); err != nil {
		return err
	}
	rec := normDevice(dc)
	return s.write(ctx, func(d *data) error {
		dv := d.devices()
		if e, ok := dv.users[string(dc.UserCode)]; ok {
			if held, ok := dv.codes[e.hash]; ok && held.Expiry.After(now) {
				return token.ErrUserCodeTaken
			}
		}
		if old, ok := dv.codes[string(dc.Hash)]; ok && !bytes.Equal(old.UserCode, dc.UserCode) {
			delete(dv.users, string(old.UserCode))
		}
		dv.codes[string(dc.Hash)] = rec
		dv.users[string(dc.UserCode)] = deviceUserEntry{hash: string(dc.Hash), expiry: rec.Expiry}
		return nil
	})
}

// DeviceCode implements token.Store.
func (s *Store) DeviceCode(ctx context.Context, hash []byte) (token.DeviceCode, error) {
	var out token.DeviceCode
	err := s.read(ctx, func(d *data) error {
		if d.device == nil {
			return token.ErrNotFound
		}
		rec, ok := d.device.codes[string(hash)]
		if !ok {
			return token.ErrNotFound
		}
		out = rec.Clone()
		return nil
	})
	return out, err
}

// DeviceCodeByUserCode implements token.Store.
func (s *Store) DeviceCodeByUserCode(ctx context.Context, userCode []byte) (token.DeviceCode, error) {
	var out token.DeviceCode
	err := s.read(ctx, func(d *data) error {
		if d.device == nil {
			return token.ErrNotFound
		}
		e, ok := d.device.users[string(userCode)]
		if !ok {
			return token.ErrNotFound
		}
		rec, ok := d.device.codes[e.hash]
		if !ok || !bytes.Equal(rec.UserCode, userCode) {
			return token.ErrNotFound
		}
		out = rec.Clone()
		return nil
	})
	return out, err
}

// UpdateDeviceCode implements token.Store: update runs once, holding the write lock.
func (s *Store) UpdateDeviceCode(ctx context.Context, hash []byte, update func(token.DeviceCode) (token.DeviceCode, error)) (token.DeviceCode, error) {
	var out token.DeviceCode
	err := s.write(ctx, func(d *data) error {
		dv := d.devices()
		rec, ok := dv.codes[string(hash)]
		if !ok {
			return token.ErrNotFound
		}
		out = rec.Clone()
		next, err := update(rec.Clone())
		if err != nil {
			return err
		}
		next.Hash, next.UserCode, next.Expiry = rec.Hash, rec.UserCode, rec.Expiry
		next = normDevice(next)
		dv.codes[string(hash)] = next
		out = next.Clone()
		return nil
	})
	return out, err
}

// sweepDevices deletes the device authorizations and user code index entries that expired before t, and
// says how many it deleted. The caller holds the write lock.
func (d *data) sweepDevices(t time.Time) int {
	if d.device == nil {
		return 0
	}
	return sweep(d.device.codes, t, func(r token.DeviceCode) time.Time { return r.Expiry }) +
		sweep(d.device.users, t, func(e deviceUserEntry) time.Time { return e.expiry })
}
