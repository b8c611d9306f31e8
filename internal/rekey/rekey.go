// Package rekey moves a stopped authsuite's data files to a new master key: `authsuite rekey`.
//
// Given a keyring whose first key is the new one and whose others are the keys the data is sealed under now,
// Dir reseals, in each bbolt file of a data directory (registry.db, token.db, provider.db: all of them for
// the one-process layout, the one file of a role's directory for split roles), every value sealed under an
// old key — signing keys, the client snapshot, provider secrets, connector grants — under the new key, and
// records in the file that the data is sealed under the new key alone. Each file is rekeyed in one bbolt
// transaction: all or nothing, and running it again is harmless. Afterwards the old keys can be dropped: a
// start with them alone fails, naming the key id the data needs.
//
// Client secrets are different: they are stored as keyed digests (HMAC-SHA-256 under a subkey of the
// master key), which cannot be recomputed without the secrets themselves. Rekey therefore keeps, for every
// old key, only its client-secret digest subkey, sealed under the new key in each file's record
// (suitekey.Record.Retained, an envelope: rekeying again reseals these too). Old secrets keep verifying;
// the old master key itself — its sealing key, its internal-credential subkey, anything that could open
// data or pose as a service — is gone. The retained subkey can verify only digests that already exist, and
// disappears from use as secrets rotate (new secrets are digested under the new key).
package rekey

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/internal/suitekey"
	provstore "github.com/authsuite/authsuite/services/provider/bboltstore"
	regstore "github.com/authsuite/authsuite/services/registry/bboltstore"
	tokstore "github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/clients"
)

// file is one kind of data file: how to open it (with its schema checks and upgrades) and how to reseal it.
type file struct {
	name   string
	open   func(path string) (db *bolt.DB, closeFn func() error, err error)
	reseal func(*bolt.Tx, boltdb.Reseal) (int, error)
}

var files = []file{
	{"registry.db", func(p string) (*bolt.DB, func() error, error) {
		s, err := regstore.Open(p)
		if err != nil {
			return nil, nil, err
		}
		return s.DB(), s.Close, nil
	}, regstore.ResealAll}, // SMTP passwords, upstream secrets, TOTP keys; digests' subkeys are retained
	{"token.db", func(p string) (*bolt.DB, func() error, error) {
		s, err := tokstore.Open(p)
		if err != nil {
			return nil, nil, err
		}
		return s.DB(), s.Close, nil
	}, func(tx *bolt.Tx, r boltdb.Reseal) (int, error) {
		return tokstore.ResealAll(tx, r, clients.SnapshotAD())
	}},
	{"provider.db", func(p string) (*bolt.DB, func() error, error) {
		s, err := provstore.Open(p)
		if err != nil {
			return nil, nil, err
		}
		return s.DB(), s.Close, nil
	}, provstore.ResealAll},
}

// Result is what Dir did to one file.
type Result struct {
	File     string   // the file's path
	Changed  int      // values resealed (or, for pending authorizations, dropped)
	Keys     []string // the key ids the data is sealed under now: the new key's
	Retained []string // the ids of keys whose client-secret digest subkeys are kept
}

// ErrNoData is returned by Dir for a directory without any data file.
var ErrNoData = errors.New("no registry.db, token.db or provider.db")

// Dir rekeys every data file in dir under kr's primary key (see the package doc); the services using dir
// must be stopped (a file in use fails after boltdb.LockTimeout). A file kr cannot open is a
// *suitekey.MissingKeyError naming the key ids it needs, found before any file changes.
func Dir(dir string, kr *suitekey.Keyring, progress io.Writer) ([]Result, error) {
	// Check every file before changing any, so a key missing for one file changes none.
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		rec, _, err := boltdb.ReadKeyRecord(path)
		if err != nil {
			return nil, inUse(path, err)
		}
		if err := kr.Check(rec); err != nil {
			return nil, fmt.Errorf("%s: %w; nothing was changed", path, err)
		}
	}
	var results []Result
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		r, err := rekeyFile(path, f, kr)
		if err != nil {
			return results, err
		}
		results = append(results, r)
		fmt.Fprintf(progress, "%s: %d value(s) resealed; sealed under master key id %s", path, r.Changed, strings.Join(r.Keys, ", "))
		if len(r.Retained) > 0 {
			fmt.Fprintf(progress, "; client-secret digests of key id %s still verify", strings.Join(r.Retained, ", "))
		}
		fmt.Fprintln(progress)
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoData)
	}
	return results, nil
}

func rekeyFile(path string, f file, kr *suitekey.Keyring) (Result, error) {
	db, closeFn, err := f.open(path)
	if err != nil {
		return Result{}, inUse(path, err)
	}
	n, rec, err := boltdb.Rekey(db, kr, f.reseal)
	if cerr := closeFn(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w (nothing in this file was changed)", path, err)
	}
	r := Result{File: path, Changed: n, Keys: rec.Keys}
	r.Retained = slices.Sorted(maps.Keys(rec.Retained))
	return r, nil
}

// inUse explains a lock timeout: a service still has the file open.
func inUse(path string, err error) error {
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("%s is in use: stop the service that uses it first", path)
	}
	return err
}
