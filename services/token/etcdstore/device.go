package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/token"
)

// The sign-in record kinds of device authorizations (RFC 8628): P s/dc/<SHA-256 of the device code> holds
// deviceRecord, P s/du/<user code digest> holds deviceUserRecord (the user code index); both have their
// entries in the sign-in expiry index and are swept by SweepExpired.
const (
	kindDevice     = "dc"
	kindDeviceUser = "du"
)

// deviceRecord is what P s/dc/<hash> holds: the device code's JSON with its expiry.
type deviceRecord struct {
	Exp int64 `json:"exp"`
	token.DeviceCode
}

// deviceUserRecord is what P s/du/<user code> holds: the device code's key, with its expiry.
type deviceUserRecord struct {
	Exp  int64  `json:"exp"`
	Hash []byte `json:"h"`
}

func (s *Store) readDevice(ctx context.Context, hash []byte) (token.DeviceCode, *clientv3.GetResponse, error) {
	var r deviceRecord
	resp, err := s.read(ctx, kindDevice, hash, &r)
	if err != nil {
		return token.DeviceCode{}, resp, err
	}
	dc := r.DeviceCode
	dc.Hash, dc.Expiry = bytes.Clone(hash), time.Unix(r.Exp, 0)
	return dc, resp, nil
}

// PutDeviceCode implements token.Store with a compare-and-swap on the user code index entry: of racing
// replicas drawing the same user code, one stores it and the others find it taken.
func (s *Store) PutDeviceCode(ctx context.Context, dc token.DeviceCode, now time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(dc.Hash); err != nil {
		return err
	}
	if err := token.ValidKey(dc.UserCode); err != nil {
		return err
	}
	return retry(ctx, func() (bool, error) {
		var ur deviceUserRecord
		uresp, err := s.read(ctx, kindDeviceUser, dc.UserCode, &ur)
		switch {
		case errors.Is(err, token.ErrNotFound):
		case err != nil:
			return false, err
		default:
			held, _, err := s.readDevice(ctx, ur.Hash)
			switch {
			case err == nil && held.Expiry.After(now):
				return false, token.ErrUserCodeTaken
			case err != nil && !errors.Is(err, token.ErrNotFound):
				return false, err
			}
		}
		ops, err := s.putOps(kindDevice, dc.Hash, dc.Expiry, deviceRecord{Exp: dc.Expiry.Unix(), DeviceCode: dc})
		if err != nil {
			return false, err
		}
		uops, err := s.putOps(kindDeviceUser, dc.UserCode, dc.Expiry, deviceUserRecord{Exp: dc.Expiry.Unix(), Hash: dc.Hash})
		if err != nil {
			return false, err
		}
		tr, err := s.commit(ctx, []clientv3.Cmp{unchanged(s.recKey(kindDeviceUser, dc.UserCode), uresp)}, append(ops, uops...)...)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
}

// DeviceCode implements token.Store.
func (s *Store) DeviceCode(ctx context.Context, hash []byte) (token.DeviceCode, error) {
	dc, _, err := s.readDevice(ctx, hash)
	return dc, err
}

// DeviceCodeByUserCode implements token.Store: the index entry, then the record.
func (s *Store) DeviceCodeByUserCode(ctx context.Context, userCode []byte) (token.DeviceCode, error) {
	var ur deviceUserRecord
	if _, err := s.read(ctx, kindDeviceUser, userCode, &ur); err != nil {
		return token.DeviceCode{}, err
	}
	dc, _, err := s.readDevice(ctx, ur.Hash)
	if err != nil {
		return token.DeviceCode{}, err
	}
	if !bytes.Equal(dc.UserCode, userCode) {
		return token.DeviceCode{}, token.ErrNotFound
	}
	return dc, nil
}

// UpdateDeviceCode implements token.Store with a compare-and-swap: of concurrent updates exactly one swaps
// against each record it read; update may run more than once (again with what the winner left).
func (s *Store) UpdateDeviceCode(ctx context.Context, hash []byte, update func(token.DeviceCode) (token.DeviceCode, error)) (token.DeviceCode, error) {
	if err := s.check(ctx); err != nil {
		return token.DeviceCode{}, err
	}
	var out token.DeviceCode
	err := retry(ctx, func() (bool, error) {
		old, resp, err := s.readDevice(ctx, hash)
		if err != nil {
			return false, err
		}
		out = old.Clone()
		next, err := update(old)
		if err != nil {
			return false, err
		}
		next.Hash, next.UserCode, next.Expiry = out.Hash, out.UserCode, out.Expiry
		v, err := json.Marshal(deviceRecord{Exp: next.Expiry.Unix(), DeviceCode: next})
		if err != nil {
			return false, err
		}
		tr, err := s.commit(ctx, []clientv3.Cmp{unchanged(s.recKey(kindDevice, hash), resp)}, clientv3.OpPut(s.recKey(kindDevice, hash), string(v)))
		if err != nil {
			return false, err
		}
		if tr.Succeeded {
			out = next
		}
		return tr.Succeeded, nil
	})
	return out, err
}

// importDeviceCodes writes the device authorizations of a snapshot (Import), one transaction each, in
// order of expiry: where an expired record not yet swept shares its user code with a newer one, the user
// code index ends up naming the newer one, as in the exporting store.
func (s *Store) importDeviceCodes(ctx context.Context, dcs []token.DeviceCode) error {
	sorted := slices.Clone(dcs)
	slices.SortStableFunc(sorted, func(a, b token.DeviceCode) int { return a.Expiry.Compare(b.Expiry) })
	never := time.Unix(1<<40, 0) // every holder has expired by then: each put takes the index entry
	for _, dc := range sorted {
		if err := s.PutDeviceCode(ctx, dc, never); err != nil {
			return err
		}
	}
	return nil
}
