// Package boltdb holds what every authsuite bbolt store does the same way: opening a file with a lock
// timeout and a checked schema version, context-aware transactions, JSON records, and the record of the
// master keys the file's data is sealed under (checked before a service opens the file, see AdoptKeys).
package boltdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// ErrSchemaVersion is returned by Open for a file written with another (newer or unknown) schema version,
// or for a file with buckets but no schema version (another program's data).
var ErrSchemaVersion = errors.New("unsupported schema version")

// LockTimeout is how long Open waits for another process's lock on the file before failing.
const LockTimeout = time.Second

var (
	bucketMeta       = []byte("meta")
	keySchemaVersion = []byte("schema_version")
)

// Schema is a store's layout: its version and every bucket it uses (the meta bucket is implied).
type Schema struct {
	Version string
	Buckets [][]byte
	// Migrate, optional, upgrades older files: it maps a stored version to the step that upgrades a file
	// from it to the next version. Versions are then decimal integers and each step adds one ("1" → "2").
	// Open creates every bucket of Buckets before the steps run, and runs the steps and the version change
	// in its one transaction: all or nothing.
	Migrate map[string]func(*bolt.Tx) error
}

// Open opens (creating when missing, mode 0600) the bbolt file at path, failing after LockTimeout when
// another process holds it. A new file gets every bucket and the schema version; an existing one must carry
// exactly s.Version or one s.Migrate upgrades from (then it is upgraded in place), else Open fails with
// ErrSchemaVersion and changes nothing.
func Open(path string, s Schema) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return initSchema(tx, s) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

func initSchema(tx *bolt.Tx, s Schema) error {
	var steps []func(*bolt.Tx) error
	if meta := tx.Bucket(bucketMeta); meta != nil {
		v := string(meta.Get(keySchemaVersion))
		for v != s.Version {
			step, ok := s.Migrate[v]
			n, err := strconv.Atoi(v)
			if !ok || err != nil || len(steps) > len(s.Migrate) {
				return fmt.Errorf("%w: file has %q, this build reads %q", ErrSchemaVersion, meta.Get(keySchemaVersion), s.Version)
			}
			steps = append(steps, step)
			v = strconv.Itoa(n + 1)
		}
	} else if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		// No meta bucket: the file must be new, not some other program's data.
		return fmt.Errorf("%w: file has bucket %q but no schema version", ErrSchemaVersion, name)
	}); err != nil {
		return err
	}
	for _, b := range append([][]byte{bucketMeta}, s.Buckets...) {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	for _, step := range steps {
		if err := step(tx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(s.Version))
}

// View runs fn in a read-only transaction unless ctx has ended.
func View(ctx context.Context, db *bolt.DB, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.View(fn)
}

// Update runs fn in a read-write transaction, committed and fsynced before it returns, unless ctx has ended.
func Update(ctx context.Context, db *bolt.DB, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.Update(fn)
}

// GetJSON decodes the record at key into v, reporting whether it exists. Decoding copies everything out of
// the transaction's memory, so v stays valid after the transaction.
func GetJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %T record: %w", v, err)
	}
	return true, nil
}

// PutJSON stores v as JSON at key.
func PutJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// KeySep separates the parts of a composite key. No part may contain it: authsuite's validators reject
// control characters in every identifier that becomes a key part.
const KeySep = "\x00"

// JoinKey joins key parts with KeySep. Keys sharing leading parts sort together, so a prefix scan over
// JoinKey(tenant, "") lists a tenant's records.
func JoinKey(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, KeySep...)
		}
		b = append(b, p...)
	}
	return b
}

// keyMasterKeys is the meta record (a suitekey.Record) naming the master keys the file's data is sealed and
// digested under.
var keyMasterKeys = []byte("master_keys")

// ReadKeyRecord reads the master-key record of the bbolt file at path without writing to it (a read-only
// open, failing after LockTimeout while another process holds the file). exists is false, and the record
// zero, when there is no file; a file from before records existed has the zero record.
func ReadKeyRecord(path string) (rec suitekey.Record, exists bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return suitekey.Record{}, false, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: LockTimeout})
	if err != nil {
		return suitekey.Record{}, true, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		rec, err = KeyRecord(tx)
		return err
	})
	if err != nil {
		return suitekey.Record{}, true, fmt.Errorf("%s: %w", path, err)
	}
	return rec, true, nil
}

// KeyRecord reads the master-key record in tx; the zero record when there is none.
func KeyRecord(tx *bolt.Tx) (suitekey.Record, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return suitekey.Record{}, nil
	}
	return suitekey.ParseRecord(meta.Get(keyMasterKeys))
}

// PutKeyRecord stores the master-key record in tx.
func PutKeyRecord(tx *bolt.Tx, rec suitekey.Record) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(keyMasterKeys, rec.Marshal())
}

// AdoptKeys checks that kr holds every master key db's data is sealed under (a *suitekey.MissingKeyError
// otherwise, changing nothing) and records kr's primary key, under which the services seal from now on.
// It writes only when the record changes.
func AdoptKeys(db *bolt.DB, kr *suitekey.Keyring) error {
	var rec suitekey.Record
	if err := db.View(func(tx *bolt.Tx) (err error) { rec, err = KeyRecord(tx); return err }); err != nil {
		return err
	}
	if err := kr.Check(rec); err != nil {
		return err
	}
	next, changed := kr.Adopt(rec)
	if !changed {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		cur, err := KeyRecord(tx)
		if err != nil {
			return err
		}
		if err := kr.Check(cur); err != nil {
			return err
		}
		next, _ = kr.Adopt(cur)
		return PutKeyRecord(tx, next)
	})
}

// Reseal opens one sealed value with its additional data under any key of a keyring and seals it again under
// the primary key (suitekey.Keyring.Reseal); changed is false when it was sealed under the primary already.
type Reseal func(sealed, additionalData []byte) (out []byte, changed bool, err error)

// Rekey reseals a store under kr's primary key in one transaction, all or nothing: it checks the file's
// master-key record (a *suitekey.MissingKeyError when kr lacks a key the data is sealed under), runs
// resealAll, which must reseal every sealed value of the file through the Reseal it is given and report how
// many it changed, and records that the data is sealed under the primary key alone, keeping the digest
// subkeys of every other key (suitekey.Keyring.Rekeyed). Running it again is harmless.
func Rekey(db *bolt.DB, kr *suitekey.Keyring, resealAll func(*bolt.Tx, Reseal) (int, error)) (changed int, rec suitekey.Record, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		old, err := KeyRecord(tx)
		if err != nil {
			return err
		}
		if err := kr.Check(old); err != nil {
			return err
		}
		full, err := kr.WithRetained(old)
		if err != nil {
			return err
		}
		if changed, err = resealAll(tx, full.Reseal); err != nil {
			return err
		}
		if rec, err = full.Rekeyed(old); err != nil {
			return err
		}
		return PutKeyRecord(tx, rec)
	})
	return changed, rec, err
}

// ResealJSONField reseals, in every JSON object record of bucket b, the base64 field named field (a sealed
// []byte), with the additional data ad(key, record) returns (see ResealJSONObject).
func ResealJSONField(b *bolt.Bucket, field string, ad func(key []byte, rec map[string]json.RawMessage) ([]byte, error), reseal Reseal) (int, error) {
	return ResealRecords(b, func(k, v []byte) ([]byte, bool, error) {
		return ResealJSONObject(v, field, func(rec map[string]json.RawMessage) ([]byte, error) { return ad(k, rec) }, reseal)
	})
}

// ResealRecords replaces each record of bucket b with what reseal answers for it, when it reports a
// change, and counts the changes. Puts happen after the iteration: a bucket must not change while iterated.
func ResealRecords(b *bolt.Bucket, reseal func(key, value []byte) (out []byte, changed bool, err error)) (int, error) {
	type update struct{ key, value []byte }
	var updates []update
	err := b.ForEach(func(k, v []byte) error {
		nv, changed, err := reseal(k, v)
		if err != nil {
			return fmt.Errorf("record %q: %w", k, err)
		}
		if changed {
			updates = append(updates, update{bytes.Clone(k), nv})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, u := range updates {
		if err := b.Put(u.key, u.value); err != nil {
			return 0, err
		}
	}
	return len(updates), nil
}

// ResealJSONObject reseals the base64 field named field (a sealed []byte) of the JSON object raw, with the
// additional data ad(record) returns. Other fields are kept as they are, including ones this code does not
// know; a record without the field is left alone (changed false).
func ResealJSONObject(raw []byte, field string, ad func(rec map[string]json.RawMessage) ([]byte, error), reseal Reseal) (out []byte, changed bool, err error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, false, err
	}
	v, ok := rec[field]
	if !ok || string(v) == "null" {
		return raw, false, nil
	}
	var sealed []byte
	if err := json.Unmarshal(v, &sealed); err != nil {
		return nil, false, fmt.Errorf("%s: %w", field, err)
	}
	if len(sealed) == 0 {
		return raw, false, nil
	}
	data, err := ad(rec)
	if err != nil {
		return nil, false, err
	}
	resealed, changed, err := reseal(sealed, data)
	if err != nil || !changed {
		return raw, false, err
	}
	if rec[field], err = json.Marshal(resealed); err != nil {
		return nil, false, err
	}
	out, err = json.Marshal(rec)
	return out, err == nil, err
}

// StringField reads the JSON string field name of a record decoded as in ResealJSONField.
func StringField(rec map[string]json.RawMessage, name string) (string, error) {
	var s string
	if err := json.Unmarshal(rec[name], &s); err != nil {
		return "", fmt.Errorf("field %s: %w", name, err)
	}
	return s, nil
}
